"""Any OpenAI-compatible server (vLLM, SGLang, llama.cpp server, Ollama, a hosted API).

    >>> llm = OpenAILLM(base_url="http://127.0.0.1:8000/v1", model="gemma")   # doctest: +SKIP
    >>> llm.generate([{"role": "user", "content": "Hi"}], max_tokens=8)       # doctest: +SKIP

Plain-text prompts go to `/completions`, chat messages to `/chat/completions` (the server
applies its model's chat template), unless `prompt_style="transcript"` renders messages as a
plain transcript for a base model. The official client retries 429, 5xx, connection errors
and timeouts with exponential backoff (`max_retries`). `score` needs a server that echoes the
prompt with log-probabilities (llama.cpp server, vLLM); others get a NotSupportedError.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from .base import BaseLLM, Completion, GenerationParams, Prompt, Score, with_parsed
from .errors import LLMError, NotSupportedError, ServerUnreachableError


@dataclass
class OpenAILLM(BaseLLM):
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "default"
    api_key: str = "none"
    timeout: float = 120.0
    max_retries: int = 4
    name: str = "openai"
    _client: Any = field(default=None, init=False, repr=False)
    _tokenize_url: bool | None = field(default=None, init=False, repr=False)
    _count_overhead: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        import openai

        self._openai = openai
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=self.api_key or "none",
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    # -- generation -----------------------------------------------------------------------
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
        if isinstance(prompt, str) or self.prompt_style == "transcript":
            # completion endpoint; the base class renders and loops over samples
            return super().generate(
                prompt, n=n, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                stop=stop, seed=seed, json_schema=json_schema,
            )
        kwargs: dict[str, Any] = dict(
            model=self.model, messages=list(prompt), n=n, max_tokens=max_tokens,
            temperature=temperature, top_p=top_p, stop=list(stop) if stop else None, seed=seed,
        )
        if json_schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": json_schema, "strict": True},
            }
        out: list[Completion] = []
        while len(out) < n:  # some servers (llama.cpp) ignore n and return one choice
            kwargs["n"] = n - len(out)
            if seed is not None:
                kwargs["seed"] = seed + len(out)
            resp = self._call(self._client.chat.completions.create, **kwargs)
            if not resp.choices:
                raise LLMError(f"the server at {self.base_url} returned no choices for a chat request")
            usage = resp.usage
            for choice in resp.choices[: n - len(out)]:
                c = Completion(
                    text=choice.message.content or "",
                    finish_reason="length" if choice.finish_reason == "length" else "stop",
                    prompt_tokens=usage.prompt_tokens if usage else 0,
                    completion_tokens=(usage.completion_tokens // max(1, len(resp.choices))) if usage else 0,
                )
                out.append(c if json_schema is None else with_parsed(c, json_schema))
        return out

    def _complete(self, text: str, params: GenerationParams, json_schema: dict | None) -> Completion:
        extra: dict[str, Any] = {}
        if json_schema is not None:
            # Servers name constrained decoding differently: llama.cpp takes a GBNF grammar,
            # vLLM `guided_json`. Output is validated afterwards whatever the server did.
            extra = {"grammar": _gbnf(json_schema), "guided_json": json_schema}
        resp = self._call(
            self._client.completions.create,
            model=self.model, prompt=text, max_tokens=params.max_tokens,
            temperature=params.temperature, top_p=params.top_p,
            stop=list(params.stop) or None, seed=params.seed, extra_body=extra or None,
        )
        choice = resp.choices[0]
        return Completion(
            text=choice.text,
            finish_reason="length" if choice.finish_reason == "length" else "stop",
            prompt_tokens=resp.usage.prompt_tokens if resp.usage else 0,
            completion_tokens=resp.usage.completion_tokens if resp.usage else 0,
        )

    def _stream(self, text: str, params: GenerationParams) -> Iterator[str]:
        stream = self._call(
            self._client.completions.create,
            model=self.model, prompt=text, max_tokens=params.max_tokens,
            temperature=params.temperature, top_p=params.top_p,
            stop=list(params.stop) or None, seed=params.seed, stream=True,
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].text:
                yield chunk.choices[0].text

    # -- scoring --------------------------------------------------------------------------
    def score(self, prompt: str, continuation: str) -> Score:
        """Echo the prompt + continuation with log-probs and keep the continuation's tokens."""
        try:
            resp = self._call(
                self._client.completions.create,
                model=self.model, prompt=prompt + continuation, max_tokens=1,
                temperature=0.0, echo=True, logprobs=1,
            )
        except self._openai.BadRequestError as e:
            raise NotSupportedError(
                f"score is not supported by the server at {self.base_url}: it refused "
                f"echo + logprobs ({e.message}). Use --llm llamacpp or --llm hf for scoring."
            ) from None
        lp = resp.choices[0].logprobs
        if lp is None or not lp.token_logprobs or lp.text_offset is None:
            raise NotSupportedError(
                f"score is not supported by the server at {self.base_url}: it returned no "
                "prompt log-probabilities for echo=True. Use --llm llamacpp or --llm hf."
            )
        start = len(prompt)
        tokens, logprobs = [], []
        # The echoed prompt tokens come first; the one sampled token (max_tokens=1) is last.
        n_echo = len(lp.tokens) - 1
        for tok, off, val in zip(lp.tokens[:n_echo], lp.text_offset[:n_echo], lp.token_logprobs[:n_echo]):
            if off >= start and val is not None:
                tokens.append(tok)
                logprobs.append(float(val))
        return Score(tokens=tokens, logprobs=logprobs)

    def count_tokens(self, text: str) -> int:
        """Exact through llama.cpp's /extras/tokenize where served; otherwise ~4 chars a token."""
        if self._tokenize_url is None:
            self._tokenize_url = True
            self._count_overhead = self.count_tokens("")  # the BOS the server adds, if any
        if self._tokenize_url:
            root = self.base_url.rstrip("/").removesuffix("/v1")
            req = urllib.request.Request(
                f"{root}/extras/tokenize/count",
                data=json.dumps({"input": text}).encode(),
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return int(json.loads(r.read())["count"]) - self._count_overhead
            except (OSError, KeyError, ValueError):
                self._tokenize_url = False  # not served here: stop asking
        return max(1, len(text) // 4)

    # -- errors ---------------------------------------------------------------------------
    def _call(self, fn, **kwargs):
        try:
            return fn(**kwargs)
        except (self._openai.APIConnectionError, self._openai.APITimeoutError) as e:
            raise ServerUnreachableError(
                f"no answer from the OpenAI-compatible server at {self.base_url} after "
                f"{self.max_retries} retries ({type(e).__name__}: {e}). Is it running? Check "
                "EXPERIO_BASE_URL (it usually ends in /v1)."
            ) from None


def _gbnf(schema: dict) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return json_schema_to_gbnf(json.dumps(schema))
