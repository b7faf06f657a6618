"""The errors of `experio.adp`: each says what was wrong, where, and what to do.

    ExperioError (experio.errors)
     └── ADPError
          ├── InputFormatError      a file that is no supported format (also a ValueError)
          ├── TrajectoryError       a row of an ADP file that is not a valid trajectory (also a ValueError)
          ├── ConversionError       a raw row a converter cannot turn into ADP (also a ValueError)
          ├── SchemaVersionError    data the requested wire version cannot carry (also a ValueError)
          ├── ExportError           a trajectory the target format cannot express (also a ValueError)
          ├── ATIFError             an ATIF trajectory that cannot be read as ADP (also a ValueError)
          └── UnknownNameError      a name no registry knows; lists the valid ones
               │                    (also experio.errors.UsageError and a KeyError)
               ├── UnknownConverterError   --dataset NAME (convert)
               ├── UnknownExporterError    --to NAME
               └── UnknownToolsetError     a dataset without a tool registry

A missing input file, or a directory where a file is expected, is the shared
`experio.errors.InputFileError` (raised through `experio.errors.input_file`). Rows that
fail inside a streaming run are not raised: they go to the rejects file with the error's
text as their reason, and the run continues.

    >>> from experio.adp import get_exporter
    >>> get_exporter("latex")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    experio.adp.errors.UnknownExporterError: unknown exporter 'latex'; choose one of: agentlab, atif, ...
"""

from __future__ import annotations

from typing import Iterable

from experio.errors import ExperioError, UsageError, unknown_name


class ADPError(ExperioError):
    """Base class of every error raised on purpose by `experio.adp`."""


class InputFormatError(ADPError, ValueError):
    """The file cannot be read or written as any supported format (by its name or content)."""


class TrajectoryError(ADPError, ValueError):
    """A row of an ADP file that is not a valid trajectory (the message names file and line)."""


class ConversionError(ADPError, ValueError):
    """A raw dataset row that a converter cannot turn into an ADP trajectory (the row is rejected)."""


class SchemaVersionError(ADPError, ValueError):
    """A trajectory holds data that the requested wire version cannot carry."""


class ExportError(ADPError, ValueError):
    """A trajectory cannot be expressed in the target format (the row is rejected)."""


class ATIFError(ADPError, ValueError):
    """An ATIF trajectory that cannot be read as ADP (e.g. a result pointing at an unknown call id)."""


class UnknownNameError(ADPError, UsageError, KeyError):
    """A converter, exporter or tool registry name that is not registered; the message lists the valid ones."""

    what = "name"

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""

    @classmethod
    def of(cls, name: object, valid: Iterable[str]) -> "UnknownNameError":
        """The error for `name`, with the message of `experio.errors.unknown_name`."""
        return cls(str(unknown_name(cls.what, name, valid)))


class UnknownConverterError(UnknownNameError):
    """No converter is registered under this dataset name (see `experio adp list`)."""

    what = "dataset"


class UnknownExporterError(UnknownNameError):
    """No exporter is registered under this format name (see `experio adp list`)."""

    what = "exporter"


class UnknownToolsetError(UnknownNameError):
    """No tool registry is registered for this dataset (see `experio adp list`)."""

    what = "tool registry"


__all__ = [
    "ADPError",
    "ATIFError",
    "ExportError",
    "InputFormatError",
    "SchemaVersionError",
    "TrajectoryError",
    "UnknownConverterError",
    "UnknownExporterError",
    "UnknownNameError",
    "UnknownToolsetError",
]
