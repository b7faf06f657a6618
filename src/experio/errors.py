"""The one error tree of experio: every error raised on purpose is an `ExperioError`.

Each package keeps its own errors in its `errors.py`, subclasses of the ones here; the CLI
turns any `ExperioError` into one red line and an exit code (`experio.cli.common`): 2 for a
`UsageError` or `InputFileError` (what click gives a bad option), 1 for every other error, so a
traceback reaches a user only for a real bug.

    ExperioError
     ├── UsageError            an option or argument value experio cannot use (lists the valid ones)
     │    └── experio.emergence.EmergenceError (see experio/emergence/errors.py)
     ├── InputFileError        an input path that is missing, a directory, or unreadable
     ├── RunFolderError        a run folder that a command cannot use as asked
     │    └── ResumeRequired   the folder already holds finished work: pass --resume
     ├── experio.llm.LLMError            (see experio/llm/errors.py)
     ├── experio.embed.EmbeddingError    (see experio/embed/errors.py)
     ├── experio.adp.ADPError            (see experio/adp/errors.py)
     ├── experio.envs.EnvError           (see experio/envs/errors.py)
     ├── experio.agent.AgentError        (see experio/agent/errors.py)
     └── experio.memory.MemoryLayerError (see experio/memory/errors.py)

Errors that are also a wrong value keep `ValueError` as a second base (and `FileNotFoundError`
for a missing file), so code that catches the built-in type keeps working.

    >>> raise UsageError("--tasks must be at least 1, got 0")
    Traceback (most recent call last):
    ...
    experio.errors.UsageError: --tasks must be at least 1, got 0
    >>> unknown_name("context", "flod", ["react", "fold"])
    UsageError("unknown context 'flod'; choose one of: fold, react")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable


class ExperioError(Exception):
    """The base of every error experio raises on purpose."""


class UsageError(ExperioError, ValueError):
    """An option or argument value that experio cannot use; the message lists what it can."""


class InputFileError(ExperioError, FileNotFoundError):
    """An input path that is missing, is a directory where a file is expected, or cannot be read."""


class RunFolderError(ExperioError):
    """A run folder that a command cannot use as asked (another command's folder, unreadable)."""


class ResumeRequired(RunFolderError):
    """The run folder already holds finished work of this run: pass --resume, or choose another --out."""


def unknown_name(what: str, name: object, valid: Iterable[str]) -> UsageError:
    """The error for a name that is not one of `valid` (returned, for the caller to raise)."""
    choices = ", ".join(sorted(str(v) for v in valid)) or "(none registered)"
    return UsageError(f"unknown {what} {name!r}; choose one of: {choices}")


def positive(what: str, value: int) -> int:
    """`value` if it is at least 1, else a UsageError naming `what`."""
    if value < 1:
        raise UsageError(f"{what} must be at least 1, got {value}")
    return value


def input_file(path: str | os.PathLike, what: str = "input file") -> Path:
    """`path` as a Path if it is a readable file, else an InputFileError saying which problem."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{what} {p} does not exist; check the path")
    if p.is_dir():
        raise InputFileError(f"{what} {p} is a directory; pass a file in it")
    if not os.access(p, os.R_OK):
        raise InputFileError(f"{what} {p} cannot be read (permissions)")
    return p
