"""The errors of `experio.speech`: each says what was wrong, where, and what to do, in one line.

    ExperioError (experio.errors)
     └── SpeechError
          ├── AudioError               input that is not audio, or audio with no samples (also a ValueError)
          ├── LanguageError            a language code that is malformed or that a backend cannot do;
          │                            names the nearest supported ones (also experio.errors.UsageError)
          ├── SpeechModelError         a missing, damaged or unloadable speech model (weights, checkpoint)
          │    └── BackendUnavailable  a backend whose package is not installed (names the pip extra)
          └── TestSetError             a manifest or built-in test set that cannot be read or built

    >>> raise LanguageError("language 'xx_Latn' is not a code; use ISO 639-3 + script, like eng_Latn")
    Traceback (most recent call last):
    ...
    experio.speech.errors.LanguageError: language 'xx_Latn' is not a code; use ISO 639-3 + script, like eng_Latn
"""

from __future__ import annotations

from experio.errors import ExperioError, UsageError


class SpeechError(ExperioError):
    """Base class of every error raised on purpose by `experio.speech`."""


class AudioError(SpeechError, ValueError):
    """An input that cannot be decoded as audio, or that holds no samples."""


class LanguageError(SpeechError, UsageError):
    """A language code that is malformed, or that the chosen backend cannot transcribe."""


class SpeechModelError(SpeechError):
    """A speech model whose files are missing, damaged, or cannot be loaded."""


class BackendUnavailable(SpeechModelError):
    """A backend whose Python package is not installed."""


class TestSetError(SpeechError):
    """A test-set manifest, or the built-in test set, that cannot be read or built."""

    __test__ = False  # not a pytest test class, whatever its name says
