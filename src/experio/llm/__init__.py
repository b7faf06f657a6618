"""`experio.llm`: one `LLM` protocol, four backends.

    >>> from experio.llm import load_llm
    >>> llm = load_llm()                                   # EXPERIO_LLM or the embedded default
    >>> [c.text for c in llm.generate("Once upon a time", n=2, max_tokens=16, seed=0)]
    >>> llm.score("The capital of France is", " Paris").total

Backends, chosen by name or by the `EXPERIO_LLM` environment variable:
  llamacpp  in-process GGUF via llama.cpp (default: Gemma 3 270M from its PyPI package)
  openai    any OpenAI-compatible server (EXPERIO_BASE_URL, EXPERIO_MODEL, EXPERIO_API_KEY or
            OPENAI_API_KEY); `load_llm` checks up front that the server answers
  hf        transformers + torch, exact scores, `.model` is trainable
  scripted  a deterministic double for unit tests
"""

from __future__ import annotations

import os
from typing import Any

from .base import (LLM, BaseLLM, Completion, GenerationParams, Message, Prompt, Score, describe_llm,
                   parse_json_output)
from .errors import (
    BackendConfigError,
    LLMError,
    ModelFileError,
    ModelLoadError,
    NotSupportedError,
    PromptError,
    SchemaMismatchError,
    ServerError,
    ServerUnreachableError,
)
from .model_files import embedded_model_path, experio_home, sha256_file
from .prompting import render_transcript
from .scripted import ScriptedLLM

BACKENDS = ("llamacpp", "openai", "hf", "scripted")


def load_llm(backend: str | None = None, model: str | None = None, **options: Any) -> LLM:
    """Build a backend by name; unset arguments come from EXPERIO_* variables, then defaults.

    `model` is a GGUF path or model folder for llamacpp/hf (unset: the embedded model) and
    the served model name for openai.
    """
    backend = (backend or os.environ.get("EXPERIO_LLM") or "llamacpp").lower()
    model = model or os.environ.get("EXPERIO_MODEL") or None
    if backend == "llamacpp":
        from .llamacpp import LlamaCppLLM

        return LlamaCppLLM(model_path=model, **options)
    if backend == "hf":
        from .hf import HFLLM

        return HFLLM(model_path=model, **options)
    if backend == "openai":
        from .openai_backend import OpenAILLM

        base_url = options.pop("base_url", None) or os.environ.get("EXPERIO_BASE_URL")
        if not base_url:
            raise BackendConfigError(
                "the openai backend needs a server address: set EXPERIO_BASE_URL "
                "(e.g. http://127.0.0.1:8000/v1) or pass base_url="
            )
        api_key = (options.pop("api_key", None) or os.environ.get("EXPERIO_API_KEY")
                   or os.environ.get("OPENAI_API_KEY") or "none")
        llm = OpenAILLM(base_url=base_url, model=model or "default", api_key=api_key, **options)
        llm.check_reachable()  # one clear line now, not a traceback at the first request
        return llm
    if backend == "scripted":
        return ScriptedLLM(**options)
    raise BackendConfigError(f"unknown LLM backend {backend!r}; choose one of {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS", "LLM", "BaseLLM", "Completion", "GenerationParams", "Message", "Prompt", "Score",
    "ScriptedLLM", "describe_llm", "load_llm", "parse_json_output", "render_transcript", "embedded_model_path",
    "experio_home", "sha256_file", "LLMError", "ModelFileError", "ModelLoadError", "ServerUnreachableError",
    "ServerError",
    "NotSupportedError", "PromptError", "SchemaMismatchError", "BackendConfigError",
]
