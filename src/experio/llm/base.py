"""The `LLM` protocol every backend implements, and the shared part of the backends.

    >>> from experio.llm import load_llm
    >>> llm = load_llm("scripted", replies=["Paris"])
    >>> llm.generate("The capital of France is", max_tokens=4)[0].text
    'Paris'

A prompt is either plain text (completion style, right for base models) or a list of chat
messages `{"role": "system"|"user"|"assistant", "content": str}`. Messages are rendered with
the model's chat template where it has one and is instruction-tuned, otherwise as a plain
role-labelled transcript that ends with "Assistant:" and stops at the next role label.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, Protocol, Sequence, TypedDict, runtime_checkable

import jsonschema

from experio.errors import positive

from .errors import SchemaMismatchError
from .prompting import PromptStyle, render


class Message(TypedDict):
    role: str
    content: str


Prompt = str | Sequence[Message]
FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class Completion:
    """One sampled continuation. `parsed` holds the JSON value when a schema was requested."""

    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    parsed: Any = None


@dataclass(frozen=True)
class Score:
    """Per-token log-probabilities (natural log) of a continuation given a prompt."""

    tokens: list[str]
    logprobs: list[float]

    @property
    def total(self) -> float:
        return float(sum(self.logprobs))

    @property
    def mean(self) -> float:
        return self.total / max(1, len(self.logprobs))


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings shared by every backend (defaults follow llama.cpp's)."""

    max_tokens: int = 256
    temperature: float = 0.8
    top_p: float = 0.95
    stop: tuple[str, ...] = ()
    seed: int | None = None


@runtime_checkable
class LLM(Protocol):
    """What experio asks of a language model."""

    name: str

    def generate(
        self,
        prompt: Prompt,
        *,
        n: int = 1,
        max_tokens: int = 256,
        temperature: float = 0.8,
        top_p: float = 0.95,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
        json_schema: dict | None = None,
    ) -> list[Completion]: ...

    def stream(self, prompt: Prompt, **params: Any) -> Iterator[str]: ...

    def score(self, prompt: str, continuation: str) -> Score: ...

    def count_tokens(self, text: str) -> int: ...


@dataclass
class BaseLLM:
    """Renders prompts, loops over samples and checks JSON output; backends fill in `_complete`.

    A backend implements:
      `_complete(text, params, json_schema) -> Completion` (one sample of plain text),
      `_stream(text, params) -> Iterator[str]`, `score`, `count_tokens`,
      and sets `chat_template` (None when the model has none) and `instruction_tuned`.
    """

    name: str = "base"
    prompt_style: PromptStyle = "auto"
    chat_template: str | None = field(default=None, repr=False)
    instruction_tuned: bool = False
    bos_token: str = ""
    eos_token: str = ""

    def render(self, prompt: Prompt) -> tuple[str, tuple[str, ...]]:
        """The text the model sees for `prompt`, and the stop sequences the rendering implies."""
        return render(
            prompt,
            style=self.prompt_style,
            chat_template=self.chat_template,
            instruction_tuned=self.instruction_tuned,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )

    def generate(
        self,
        prompt: Prompt,
        *,
        n: int = 1,
        max_tokens: int = 256,
        temperature: float = 0.8,
        top_p: float = 0.95,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
        json_schema: dict | None = None,
    ) -> list[Completion]:
        positive("n", n)
        text, implied_stop = self.render(prompt)
        out = []
        for i in range(n):
            params = GenerationParams(
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=top_p,
                stop=tuple(stop or ()) + implied_stop,
                # distinct but reproducible samples: sample i uses seed + i
                seed=None if seed is None else seed + i,
            )
            completion = self._complete(text, params, json_schema)
            if json_schema is not None:
                completion = with_parsed(completion, json_schema)
            out.append(completion)
        return out

    def stream(self, prompt: Prompt, **params: Any) -> Iterator[str]:
        text, implied_stop = self.render(prompt)
        stop = tuple(params.pop("stop", None) or ()) + implied_stop
        yield from self._stream(text, GenerationParams(stop=stop, **params))

    # -- to implement ------------------------------------------------------------------
    def _complete(self, text: str, params: GenerationParams, json_schema: dict | None) -> Completion:
        raise NotImplementedError(f"{type(self).__name__} does not implement _complete")

    def _stream(self, text: str, params: GenerationParams) -> Iterator[str]:
        raise NotImplementedError(f"{type(self).__name__} does not implement _stream")


def parse_json_output(text: str, schema: dict) -> Any:
    """Parse `text` as JSON and validate it against `schema`, or raise SchemaMismatchError."""
    try:
        # strict=False: grammars let raw newlines into strings; they are harmless there.
        value = json.loads(text, strict=False)
    except json.JSONDecodeError as e:
        raise SchemaMismatchError(
            f"model output is not valid JSON ({e.msg} at char {e.pos}); output was {text[:200]!r}. "
            "Raise max_tokens if it was cut off, or retry with another seed.",
            text,
        ) from None
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        raise SchemaMismatchError(
            f"model output does not match the JSON schema at {where}: {e.message}; "
            f"output was {text[:200]!r}",
            text,
        ) from None
    return value


def with_parsed(completion: Completion, schema: dict) -> Completion:
    value = parse_json_output(completion.text, schema)
    return Completion(
        text=completion.text,
        finish_reason=completion.finish_reason,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        parsed=value,
    )


def describe_llm(llm: Any) -> dict[str, str]:
    """What a run folder records of a model: `{"llm": backend name, "model": file or served name}`.

        >>> describe_llm(load_llm("llamacpp"))
        {'llm': 'llamacpp', 'model': 'embedded'}
    """
    if hasattr(llm, "model_path"):  # llamacpp, hf: a file or folder; unset is the embedded model
        model = str(llm.model_path or "embedded")
    else:
        model = str(getattr(llm, "model", "") or "")
    return {"llm": str(getattr(llm, "name", type(llm).__name__)), "model": model}
