"""Any OpenAI-compatible server (vLLM, SGLang, llama.cpp server, Ollama, a hosted API).

    >>> llm = OpenAILLM(base_url="http://127.0.0.1:8000/v1", model="gemma")   # doctest: +SKIP
    >>> llm.generate([{"role": "user", "content": "Hi"}], max_tokens=8)       # doctest: +SKIP

Plain-text prompts go to `/completions`, chat messages to `/chat/completions` (the server
applies its model's chat template), unless `prompt_style="transcript"` renders messages as a
plain transcript for a base model. The official client retries 429, 5xx, connection errors
and timeouts with exponential backoff (`max_retries`). `score` needs a server that echoes the
prompt with log-probabilities (llama.cpp server, vLLM); others get a NotSupportedError.

`load_llm("openai")` first checks that the server answers (`check_reachable`: GET /models, 5 s),
so a server that is down is one clear error before any work starts. JSON-schema output on chat
requests is asked for in the first of `SCHEMA_MODES` the server accepts; the first schema
request finds it (llama-cpp-python's server refuses `json_schema` with HTTP 500 and takes a
`json_object` schema or a grammar) and the backend keeps it for every later request. Replies
are always checked against the schema.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Sequence

from .base import BaseLLM, Completion, GenerationParams, Prompt, Score, with_parsed
from .errors import (
    BackendConfigError,
    LLMError,
    NotSupportedError,
    SchemaMismatchError,
    ServerError,
    ServerUnreachableError,
)
from .grammar import needs_own_converter, schema_to_gbnf


@dataclass
class OpenAILLM(BaseLLM):
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "default"
    api_key: str = "none"
    timeout: float = 120.0
    max_retries: int = 4
    schema_retries: int = 2  # extra samples when a reply unconstrained by the server is off-schema
    name: str = "openai"
    _client: Any = field(default=None, init=False, repr=False)
    _tokenize_url: bool | None = field(default=None, init=False, repr=False)
    _count_overhead: int = field(default=0, init=False, repr=False)
    _schema_mode: str | None = field(default=None, init=False, repr=False)  # see SCHEMA_MODES

    def __post_init__(self) -> None:
        import openai

        self._openai = openai
        not_an_address = BackendConfigError(
            f"{self.base_url!r} is not a server address; pass one like http://127.0.0.1:8000/v1"
        )
        try:
            if "://" not in self.base_url or urllib.parse.urlsplit(self.base_url).scheme not in ("http", "https"):
                raise not_an_address
            self._client = openai.OpenAI(
                base_url=self.base_url,
                api_key=self.api_key or "none",
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
        except Exception:  # noqa: BLE001 - urlsplit's ValueError; httpx's InvalidURL is a bare Exception
            raise not_an_address from None

    # -- reachability ---------------------------------------------------------------------
    def check_reachable(self, timeout: float = 5.0) -> None:
        """Raise one clear error unless a server answers GET {base_url}/models within `timeout`."""
        url = f"{self.base_url.rstrip('/')}/models"
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.api_key or 'none'}"})
        try:
            with urllib.request.urlopen(req, timeout=timeout):
                return
        except urllib.error.HTTPError as e:
            if e.code in (401, 403):
                raise BackendConfigError(
                    f"the server at {self.base_url} refused the API key (HTTP {e.code}); "
                    "pass --api-key or set EXPERIO_API_KEY"
                ) from None
            return  # it answers; not every server serves /models
        except OSError as e:  # refused, unknown host, timeout
            raise ServerUnreachableError(_unreachable(self.base_url, getattr(e, "reason", e))) from None

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
            model=self.model, messages=list(prompt), max_tokens=max_tokens,
            temperature=temperature, top_p=top_p, stop=list(stop) if stop else None,
        )
        out: list[Completion] = []
        while len(out) < n:  # some servers (llama.cpp) ignore n and return one choice
            batch_seed = None if seed is None else seed + len(out)
            out += self._chat_batch(kwargs, n - len(out), batch_seed, json_schema)
        return out

    def _chat_batch(self, kwargs: dict, n: int, seed: int | None, schema: dict | None) -> list[Completion]:
        """Up to `n` completions from one chat request, parsed and checked when `schema` is set."""
        resp, mode = self._chat_request({**kwargs, "n": n, "seed": seed}, schema)
        completions = self._chat_completions(resp, n)
        if schema is None:
            return completions
        if mode != "prompt":
            return [with_parsed(c, schema) for c in completions]
        return [self._prompted_json(c, kwargs, seed, schema) for c in completions]

    def _chat_completions(self, resp, n: int) -> list[Completion]:
        if not resp.choices:
            raise LLMError(f"the server at {self.base_url} returned no choices for a chat request")
        usage = resp.usage
        return [
            Completion(
                text=choice.message.content or "",
                finish_reason="length" if choice.finish_reason == "length" else "stop",
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=(usage.completion_tokens // max(1, len(resp.choices))) if usage else 0,
            )
            for choice in resp.choices[:n]
        ]

    def _chat_request(self, kwargs: dict, schema: dict | None) -> tuple[Any, str | None]:
        """One chat request, constrained to `schema` the way this server accepts (found once)."""
        create = self._client.chat.completions.create
        if schema is None:
            return self._call(create, **kwargs), None
        if self._schema_mode is not None:
            mode = _mode_for(self._schema_mode, schema)
            return self._call(create, **_with_schema(kwargs, mode, schema)), mode
        # The first schema request: try each way in turn, without the client's retries.
        probe = self._client.with_options(max_retries=0).chat.completions.create
        first_error: ServerError | None = None
        for mode in dict.fromkeys(_mode_for(m, schema) for m in SCHEMA_MODES):
            try:
                resp = self._call(probe, **_with_schema(kwargs, mode, schema))
            except ServerError as e:
                if e.status in (401, 403, 404, 429):
                    raise
                first_error = first_error or e
                continue
            self._schema_mode = mode
            return resp, mode
        assert first_error is not None
        raise first_error

    def _prompted_json(self, c: Completion, kwargs: dict, seed: int | None, schema: dict) -> Completion:
        """Unconstrained output: check it, and sample again (`schema_retries` times) if it is off."""
        for attempt in range(1, self.schema_retries + 2):
            try:
                return with_parsed(_unfenced(c), schema)
            except SchemaMismatchError:
                if attempt > self.schema_retries:
                    raise
            retry_seed = None if seed is None else seed + 7919 * attempt
            resp, _ = self._chat_request({**kwargs, "n": 1, "seed": retry_seed}, schema)
            c = self._chat_completions(resp, 1)[0]
        raise AssertionError("unreachable")

    def _complete(self, text: str, params: GenerationParams, json_schema: dict | None) -> Completion:
        extra: dict[str, Any] = {}
        if json_schema is not None:
            # Servers name constrained decoding differently: llama.cpp takes a GBNF grammar,
            # vLLM `guided_json`. Output is validated afterwards whatever the server did.
            extra = {"grammar": schema_to_gbnf(json.dumps(json_schema)), "guided_json": json_schema}
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
        except ServerError as e:
            if not 400 <= e.status < 500:
                raise
            raise NotSupportedError(
                f"score is not supported by the server at {self.base_url}: it refused "
                f"echo + logprobs ({e}). Use --llm llamacpp or --llm hf for scoring."
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
            raise ServerUnreachableError(_unreachable(self.base_url, f"{type(e).__name__}: {e}")) from None
        except (self._openai.AuthenticationError, self._openai.PermissionDeniedError) as e:
            raise BackendConfigError(
                f"the server at {self.base_url} refused the API key (HTTP {e.status_code}); "
                "pass --api-key or set EXPERIO_API_KEY"
            ) from None
        except self._openai.APIStatusError as e:
            detail = " ".join(str(e.message).split())[:300]
            raise ServerError(f"the server at {self.base_url} answered HTTP {e.status_code}: {detail}",
                              status=e.status_code) from None


SCHEMA_MODES = ("json_schema", "json_object", "grammar", "prompt")
"""Ways to ask a chat server for JSON, tried in this order until one is accepted:
`response_format` json_schema (OpenAI, vLLM, SGLang, llama.cpp's llama-server), `response_format`
json_object with a `schema` (llama-cpp-python's server), a GBNF `grammar` (llama.cpp servers), and
last the schema in the prompt, the reply checked and sampled again when it does not match."""


def _mode_for(mode: str, schema: dict) -> str:
    # llama_cpp.server turns a json_object schema into a grammar with llama-cpp-python's converter,
    # which breaks (and crashes the server) on literals holding `"` or `\`: send our grammar then.
    if mode == "json_object" and needs_own_converter(json.dumps(schema)):
        return "grammar"
    return mode


def _with_schema(kwargs: dict, mode: str, schema: dict) -> dict:
    """Chat request arguments that ask for JSON matching `schema` in the given way."""
    if mode == "json_schema":
        fmt = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": True}}
        return {**kwargs, "response_format": fmt}
    if mode == "json_object":
        return {**kwargs, "response_format": {"type": "json_object", "schema": schema}}
    if mode == "grammar":
        return {**kwargs, "extra_body": {"grammar": schema_to_gbnf(json.dumps(schema))}}
    hint = f"Answer with only a JSON value that matches this JSON schema:\n{json.dumps(schema)}"
    messages = [dict(m) for m in kwargs["messages"]]
    if messages and messages[-1].get("role") == "user":
        messages[-1]["content"] = f"{messages[-1]['content']}\n\n{hint}"
    else:
        messages.append({"role": "user", "content": hint})
    return {**kwargs, "messages": messages}


def _unfenced(c: Completion) -> Completion:
    """The completion without a Markdown code fence around its JSON (unconstrained replies)."""
    m = re.fullmatch(r"\s*```(?:json)?\s*(.*?)\s*```\s*", c.text, flags=re.S)
    return c if m is None else replace(c, text=m.group(1))


def _unreachable(base_url: str, reason: object) -> str:
    return (
        f"no OpenAI-compatible server answers at {base_url} ({reason}). Is it running? Start one (e.g. "
        "`python -m llama_cpp.server --model MODEL.gguf --port 8000`) or pass --base-url "
        "(env EXPERIO_BASE_URL) with the address of the one that runs."
    )
