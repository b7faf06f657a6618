"""The embedded default backend: a GGUF model run in-process by llama.cpp.

    >>> llm = LlamaCppLLM()                       # Gemma 3 270M from its PyPI package
    >>> llm.generate("2 + 2 =", max_tokens=3, temperature=0)[0].text   # doctest: +SKIP

One `llama_cpp.Llama` per (file, context size, threads) is loaded per process and shared by
every `LlamaCppLLM` that asks for it; a lock per model makes concurrent calls from several
threads safe (they queue: llama.cpp contexts are not re-entrant).

A `json_schema` becomes a GBNF grammar through `experio.llm.grammar` (llama-cpp-python's own
converter leaves `\\` unescaped, and an enum value holding `"` then crashed the process); a
grammar llama.cpp still cannot parse is refused with a NotSupportedError, never sampled.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .base import BaseLLM, Completion, GenerationParams, Score
from .errors import ModelLoadError, NotSupportedError, PromptError
from .grammar import schema_to_gbnf
from .model_files import check_gguf, embedded_model_path

DEFAULT_N_CTX = 8192

_loaded: dict[tuple, tuple[Any, threading.Lock]] = {}
_loading = threading.Lock()


def shared_llama(path: Path, n_ctx: int, n_threads: int) -> tuple[Any, threading.Lock]:
    """The process-wide `Llama` for these settings and the lock that guards it."""
    key = (str(path), n_ctx, n_threads)
    with _loading:
        if key not in _loaded:
            from llama_cpp import Llama

            if not _loaded:
                _silence_llama_log()
                atexit.register(_close_all)

            try:
                llama = Llama(
                    model_path=str(path), n_ctx=n_ctx, n_threads=n_threads,
                    n_threads_batch=n_threads, verbose=False,
                )
            except (ValueError, RuntimeError) as e:
                raise ModelLoadError(
                    f"llama.cpp could not load {path}: {e}. The file may be truncated, of an "
                    "architecture this llama.cpp build does not know, or not a model at all."
                ) from None
            _loaded[key] = (llama, threading.Lock())
        return _loaded[key]


@dataclass
class LlamaCppLLM(BaseLLM):
    model_path: str | os.PathLike | None = None  # None: the embedded Gemma 3 270M
    n_ctx: int = DEFAULT_N_CTX
    n_threads: int | None = None
    name: str = "llamacpp"
    _llama: Any = field(default=None, init=False, repr=False)
    _grammars: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        path = embedded_model_path() if self.model_path is None else check_gguf(self.model_path)
        self.model_path = path
        self.n_threads = self.n_threads or os.cpu_count() or 1
        self._llama, self._lock = shared_llama(path, self.n_ctx, self.n_threads)
        meta = self._llama.metadata
        self.chat_template = meta.get("tokenizer.chat_template")
        self.instruction_tuned = self.chat_template is not None and not _looks_base(meta)
        self.bos_token = self._token_text(self._llama.token_bos())
        self.eos_token = self._token_text(self._llama.token_eos())

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._llama.metadata)

    # -- generation -----------------------------------------------------------------------
    def _complete(self, text: str, params: GenerationParams, json_schema: dict | None) -> Completion:
        # Key order is kept: the grammar emits properties in schema order (reasoning before action).
        grammar = self._grammar(json.dumps(json_schema)) if json_schema else None
        with self._lock:
            if params.seed is not None:
                # Same seed, same text: llama.cpp's logits for a cached prompt differ in the last
                # bits from a fresh evaluation, enough to flip a sample, so start fresh.
                self._llama.reset()
            out = self._llama.create_completion(text, grammar=grammar, **self._sampling(params))
        choice, usage = out["choices"][0], out["usage"]
        return Completion(
            text=choice["text"],
            finish_reason="length" if choice["finish_reason"] == "length" else "stop",
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
        )

    def _stream(self, text: str, params: GenerationParams) -> Iterator[str]:
        with self._lock:
            if params.seed is not None:
                self._llama.reset()
            for chunk in self._llama.create_completion(text, stream=True, **self._sampling(params)):
                piece = chunk["choices"][0]["text"]
                if piece:
                    yield piece

    def _grammar(self, schema_json: str):
        """The checked grammar of a JSON schema (compiling costs ~ms; schemas repeat)."""
        if schema_json not in self._grammars:
            from llama_cpp import LlamaGrammar

            gbnf = schema_to_gbnf(schema_json)
            if not _grammar_parses(self._llama, gbnf):
                # llama-cpp-python would sample with a null grammar sampler: a segfault
                raise NotSupportedError(
                    f"llama.cpp cannot parse the grammar made from this JSON schema: "
                    f"{schema_json[:200]}; simplify the schema (or report it to experio)"
                )
            self._grammars[schema_json] = LlamaGrammar.from_string(gbnf, verbose=False)
        return self._grammars[schema_json]

    @staticmethod
    def _sampling(params: GenerationParams) -> dict:
        return dict(
            max_tokens=params.max_tokens, temperature=params.temperature, top_p=params.top_p,
            stop=list(params.stop) or None, seed=params.seed,
        )

    # -- scoring --------------------------------------------------------------------------
    def score(self, prompt: str, continuation: str) -> Score:
        """log p(continuation | prompt), token by token.

        The prompt (with BOS) and the continuation are tokenized separately and joined, so
        the scored tokens are exactly the continuation's, the same split `hf` scores.
        """
        llama = self._llama
        p_ids = self._tokenize(prompt, add_bos=True)
        c_ids = self._tokenize(continuation, add_bos=False)
        if not c_ids:
            return Score(tokens=[], logprobs=[])
        ids = p_ids + c_ids
        if len(ids) > llama.n_ctx():
            raise PromptError(
                f"prompt + continuation is {len(ids)} tokens, more than the context of "
                f"{llama.n_ctx()}; load the model with a larger n_ctx"
            )
        first = len(p_ids) - 1  # the logits at position i predict token i + 1
        rows: list[np.ndarray] = []
        done = 0  # continuation tokens scored so far
        with self._lock:
            llama.reset()
            ctx, batch, n_batch, n_vocab = llama._ctx, llama._batch, llama.n_batch, llama.n_vocab()
            ctx.kv_cache_clear()
            for start in range(0, len(ids) - 1, n_batch):
                chunk = ids[start : min(len(ids) - 1, start + n_batch)]
                batch.set_batch(batch=chunk, n_past=start, logits_all=True)
                ctx.decode(batch)
                logits = np.ctypeslib.as_array(ctx.get_logits(), shape=(len(chunk), n_vocab))
                lo = max(first - start, 0)
                if lo < len(chunk):
                    rows.append(_log_softmax_at(logits[lo:], c_ids[done:]))
                    done += len(chunk) - lo
            ctx.kv_cache_clear()
            llama.reset()  # the next generate re-evaluates its prompt from scratch
        logprobs = np.concatenate(rows)
        return Score(tokens=[self._token_text(t) for t in c_ids], logprobs=logprobs.tolist())

    def count_tokens(self, text: str) -> int:
        return len(self._tokenize(text, add_bos=False))

    def _tokenize(self, text: str, add_bos: bool) -> list[int]:
        return self._llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def _token_text(self, token: int) -> str:
        return self._llama.detokenize([token], special=True).decode("utf-8", errors="replace")


def _log_softmax_at(logits: np.ndarray, targets: list[int]) -> np.ndarray:
    """log softmax(logits[i])[targets[i]] for each row, in float64 where it matters.

    Rows are 262k wide for Gemma: exp in float32 after subtracting the row max is exact
    enough (relative error ~1e-7 in the sum) and several times faster than logaddexp.reduce.
    """
    n = logits.shape[0]
    targets = np.asarray(targets[:n])
    m = logits.max(axis=1, keepdims=True)
    sums = np.exp(logits - m).sum(axis=1, dtype=np.float64)
    picked = logits[np.arange(n), targets].astype(np.float64)
    return picked - m[:, 0].astype(np.float64) - np.log(sums)


def _close_all() -> None:
    # Free models before interpreter teardown; llama_cpp's __del__ fails once its module is gone.
    for llama, _ in _loaded.values():
        llama.close()
    _loaded.clear()


_log_callback = None


def _silence_llama_log() -> None:
    """Keep llama.cpp's C-level log lines (cache layouts, ...) off the terminal."""
    global _log_callback
    import llama_cpp

    @llama_cpp.llama_log_callback
    def _quiet(level, text, user_data):  # noqa: ARG001 - signature fixed by llama.cpp
        return None

    _log_callback = _quiet  # keep a reference: C holds only a pointer
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


def _grammar_parses(llama, gbnf: str) -> bool:
    """Whether llama.cpp accepts `gbnf` (it returns no sampler for a grammar it cannot parse)."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), b"root")
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


def _looks_base(meta: dict) -> bool:
    """Whether GGUF metadata says the model is a pre-trained base (then: plain transcripts)."""
    tags = " ".join(meta.get(k, "") for k in ("general.finetune", "general.name", "general.basename"))
    tags = tags.lower()
    return "base" in tags or "-pt" in tags or not any(w in tags for w in ("it", "instruct", "chat"))
