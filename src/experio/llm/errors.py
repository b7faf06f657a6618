"""Precise exceptions of the LLM layer. Each message says what was wrong, where, and what to do.

    ExperioError (experio.errors)
     └── LLMError
          ├── ModelFileError          (also an InputFileError)
          ├── ModelLoadError
          ├── ServerUnreachableError
          ├── ServerError
          ├── PromptError             (also a ValueError)
          ├── NotSupportedError
          ├── SchemaMismatchError
          └── BackendConfigError      (also a UsageError)
"""

from __future__ import annotations

from experio.errors import ExperioError, InputFileError, UsageError


class LLMError(ExperioError, RuntimeError):
    """Base class of every error raised by `experio.llm`."""


class ModelFileError(LLMError, InputFileError):
    """The model file is missing, truncated, or its checksum is wrong."""


class ModelLoadError(LLMError):
    """The model file exists but cannot be loaded (not a GGUF, unsupported architecture, ...)."""


class ServerUnreachableError(LLMError):
    """An OpenAI-compatible server did not answer (connection refused, DNS, timeouts)."""


class ServerError(LLMError):
    """An OpenAI-compatible server answered a request with an HTTP error; `status` is its code."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class PromptError(LLMError, ValueError):
    """A prompt or conversation that cannot be sent: a malformed message, a failing chat template, too long."""


class NotSupportedError(LLMError):
    """The backend or server cannot do what was asked (e.g. log-probabilities for `score`)."""


class SchemaMismatchError(LLMError):
    """Model output does not parse as JSON or does not match the requested JSON schema.

    `text` holds the raw output so that nothing the model said is lost.
    """

    def __init__(self, message: str, text: str):
        super().__init__(message)
        self.text = text


class BackendConfigError(LLMError, UsageError):
    """An unknown backend name or a missing setting (e.g. `EXPERIO_BASE_URL` for `openai`)."""
