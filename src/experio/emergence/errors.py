"""Exceptions raised by `experio.emergence`.

    ExperioError (experio.errors)
     └── UsageError (experio.errors; a ValueError: the CLI exits 2)
          └── EmergenceError          bad input of the measures or the game
               ├── EmergenceInputError
               └── CSVFormatError

Every error says what was wrong, where, and what to do about it, e.g.::

    >>> from experio.emergence import entropy
    >>> entropy([0.5, 1.5])                      # doctest: +SKIP
    EmergenceInputError: x must hold integer codes, got float64 values. Discretise numbers
    first with experio.emergence.quantile_bin(x, bins=...).
"""

from __future__ import annotations

from experio.errors import UsageError


class EmergenceError(UsageError):
    """Base class of all errors of experio.emergence: each is bad input (a ValueError, so callers may catch either)."""


class EmergenceInputError(EmergenceError):
    """Bad arrays given to an estimator: wrong dtype, mismatched lengths, too few samples, ..."""


class CSVFormatError(EmergenceError):
    """A group CSV (layout ``round,agent_1,...,agent_N``) is malformed; the message names file and line."""

    def __init__(self, path: str, line: int | None, problem: str, fix: str = "") -> None:
        self.path, self.line, self.problem = str(path), line, problem
        where = f"{path}:{line}" if line is not None else str(path)
        hint = f" {fix}" if fix else ""
        super().__init__(f"{where}: {problem}.{hint}")
