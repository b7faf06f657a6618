"""A deterministic language model for unit tests: it says what the test tells it to.

    >>> llm = ScriptedLLM(replies=["go north", "take key"])
    >>> [llm.generate("> ")[0].text for _ in range(2)]
    ['go north', 'take key']
    >>> echo = ScriptedLLM(responder=lambda prompt: prompt.upper())
    >>> echo.generate("hi")[0].text
    'HI'

Tokens are whitespace-separated words; `max_tokens` and `stop` apply as in a real backend,
and every prompt seen is kept in `prompts` for assertions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from .base import BaseLLM, Completion, GenerationParams, Score
from .errors import BackendConfigError, LLMError


@dataclass
class ScriptedLLM(BaseLLM):
    replies: Sequence[str] = ()
    responder: Callable[[str], str] | None = None
    # log-probability given to each continuation token by `score` (a fixed, checkable value)
    token_logprob: float = -1.0
    name: str = "scripted"
    prompts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.replies and self.responder is None:
            raise BackendConfigError("ScriptedLLM needs replies=[...] or responder=callable")
        self._next = 0
        self._lock = threading.Lock()

    def _reply(self, text: str) -> str:
        with self._lock:
            self.prompts.append(text)
            if self.responder is not None:
                return self.responder(text)
            if self._next >= len(self.replies):
                raise LLMError(
                    f"ScriptedLLM ran out of replies after {len(self.replies)}; "
                    "give the test more replies or a responder"
                )
            self._next += 1
            return self.replies[self._next - 1]

    def _complete(self, text: str, params: GenerationParams, json_schema: dict | None) -> Completion:
        reply, finish = _apply_limits(self._reply(text), params)
        return Completion(
            text=reply,
            finish_reason=finish,
            prompt_tokens=self.count_tokens(text),
            completion_tokens=self.count_tokens(reply),
        )

    def _stream(self, text: str, params: GenerationParams) -> Iterator[str]:
        reply, _ = _apply_limits(self._reply(text), params)
        for i, word in enumerate(reply.split(" ")):
            yield word if i == 0 else " " + word

    def score(self, prompt: str, continuation: str) -> Score:
        tokens = continuation.split()
        return Score(tokens=tokens, logprobs=[self.token_logprob] * len(tokens))

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def _apply_limits(reply: str, params: GenerationParams) -> tuple[str, str]:
    cut = min((i for s in params.stop if (i := reply.find(s)) >= 0), default=-1)
    if cut >= 0:
        return reply[:cut], "stop"
    words = reply.split(" ")
    if len([w for w in words if w]) > params.max_tokens:
        return " ".join(words[: params.max_tokens]), "length"
    return reply, "stop"
