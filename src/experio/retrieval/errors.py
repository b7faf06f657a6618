"""The errors of `experio.retrieval`: each says what was wrong, where, and what to do, in one line.

    ExperioError (experio.errors)
     └── RetrievalError
          ├── CorpusError               a corpus that cannot be used (also a ValueError)
          │    ├── CorpusNotFoundError    a corpus path, or the built-in corpus's files, missing
          │    │                          (also experio.errors.InputFileError)
          │    ├── EmptyCorpusError       no usable document (every row rejected, empty file)
          │    └── FieldTypeError         metadata that does not fit its field's declared type
          ├── ToolError                 a tool call that cannot run: what to change (also a ValueError)
          │    ├── UnknownFieldError      a field the corpus does not have (names the fields it has)
          │    ├── FilterValueError       a filter value of the wrong type for its field or operator
          │    └── UnknownSetError        a result set name (R1, R2, ...) that does not exist
          ├── QuestionFileError         a benchmark question file that cannot be read (names file and line)
          └── SplitOverlapError         a benchmark split whose train and test share a question or gold set

    >>> raise UnknownFieldError("unknown field 'yeer'; the fields are: categories, links, updated, words, year")
    Traceback (most recent call last):
    ...
    experio.retrieval.errors.UnknownFieldError: unknown field 'yeer'; the fields are: categories, links, updated, words, year
"""

from __future__ import annotations

from experio.errors import ExperioError, InputFileError


class RetrievalError(ExperioError):
    """Base class of every error raised on purpose by `experio.retrieval`."""


class CorpusError(RetrievalError, ValueError):
    """A corpus that cannot be used as given."""


class CorpusNotFoundError(CorpusError, InputFileError):
    """A corpus path, or the files of the built-in corpus, that do not exist."""


class EmptyCorpusError(CorpusError):
    """A corpus with no usable document."""


class FieldTypeError(CorpusError):
    """Metadata that does not fit its field's declared type."""


class ToolError(RetrievalError, ValueError):
    """A tool call that cannot run as written; the message says what to change."""


class UnknownFieldError(ToolError):
    """A metadata field the corpus does not have."""


class FilterValueError(ToolError):
    """A filter or aggregation value of the wrong type for its field or operator."""


class UnknownSetError(ToolError):
    """A result set name (R1, R2, ...) that no earlier call made."""


class QuestionFileError(RetrievalError, ValueError):
    """A benchmark question file that cannot be read; names the file and line."""


class SplitOverlapError(RetrievalError, ValueError):
    """A benchmark split whose train and test share a question text or a gold document set."""
