"""The errors of `experio.rlp`: each says what was wrong, where, and what to do, in one line.

    ExperioError (experio.errors)
     └── RLPError
          └── CorpusError              a corpus RLP cannot train on (also a ValueError)
               ├── CorpusNotFoundError   --corpus names a path that does not exist
               │                         (also experio.errors.InputFileError)
               ├── EmptyCorpusError      no document with text (empty folder, empty files, all lines rejected)
               └── CorpusTooShortError   no document is longer than the context plus one word

Settings out of range (G < 2, tau outside (0, 1), an unknown advantage) raise
`experio.train.RLSettingsError`, the RL core's error; a run folder that needs --resume raises
`experio.errors.ResumeRequired`; a checkpoint made with other settings
`experio.train.CheckpointMismatchError`.

    >>> raise EmptyCorpusError("corpus notes/ has no .txt files; pass a folder of .txt files, a .jsonl or a .txt")
    Traceback (most recent call last):
    ...
    experio.rlp.errors.EmptyCorpusError: corpus notes/ has no .txt files; pass a folder of .txt files, a .jsonl or a .txt
"""

from __future__ import annotations

from experio.errors import ExperioError, InputFileError


class RLPError(ExperioError):
    """Base class of every error raised on purpose by `experio.rlp`."""


class CorpusError(RLPError, ValueError):
    """A corpus that RLP cannot train on."""


class CorpusNotFoundError(CorpusError, InputFileError):
    """The corpus path does not exist."""


class EmptyCorpusError(CorpusError):
    """The corpus holds no document with text."""


class CorpusTooShortError(CorpusError):
    """No document of the corpus is longer than the context plus one word."""
