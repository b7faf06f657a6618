"""The errors of `experio.memory`: each says what went wrong, where, and what to do.

    ExperioError (experio.errors)
     └── MemoryLayerError
          ├── MemoryBankError            a bank file that cannot be used as asked: not SQLite, another
          │                              program's database, another schema, damaged, locked too long
          ├── MemoryInputError           a value the memory API refuses: an experience, item or vector
          │    │                         the bank cannot store, a missing bank or environment (also ValueError)
          │    ├── MemorySettingsError   an unknown method, MaTTS mode or judge, k < 1, no tasks
          │    │                         (also experio.errors.UsageError)
          │    └── ExportLineError       a line of an export file that cannot be imported (it goes to
          │                              the rejects file, the import goes on)
          ├── UnknownExperienceError     an experience id the bank does not hold (also KeyError)
          ├── MemoryParseError           model output that is not valid memory items, a judgement, a
          │                              selection or a workflow (also ValueError)
          └── MemoryRunError             a run folder a memory run or report cannot use as asked
               │                         (also experio.errors.RunFolderError)
               ├── MemoryResumeRequired  the folder already has finished tasks of this method: pass
               │                         --resume (also experio.errors.ResumeRequired)
               └── MemoryRecordError     a records line that is not a memory task record (another
                                         command's records, an edited line)

Errors of the model (`experio.llm.LLMError`), the environments (`experio.envs.EnvError`), the
agent loop and the embedder reach the caller unchanged.

    >>> from experio.memory import MemorySettings
    >>> MemorySettings("mem0")
    Traceback (most recent call last):
    ...
    experio.memory.errors.MemorySettingsError: unknown memory 'mem0'; choose one of: awm, none, reasoningbank, synapse
"""

from __future__ import annotations

from experio.errors import ExperioError, ResumeRequired, RunFolderError, UsageError


class MemoryLayerError(ExperioError):
    """Base class of every error raised on purpose by `experio.memory`."""


class MemoryBankError(MemoryLayerError):
    """A memory bank file that cannot be used as asked; the message names it and what to do.

        >>> raise MemoryBankError("is not a SQLite file", "/tmp/x.db", "choose another path")
        Traceback (most recent call last):
        ...
        experio.memory.errors.MemoryBankError: /tmp/x.db is not a SQLite file; nothing was changed. choose another path
    """

    def __init__(self, what: str, where: object, todo: str, *, changed: bool = False) -> None:
        self.what, self.where, self.todo = what, str(where), todo
        untouched = "" if changed else "; nothing was changed"
        super().__init__(f"{self.where} {what}{untouched}. {todo}")


class MemoryInputError(MemoryLayerError, ValueError):
    """A value or argument the memory API refuses (the message names the field and the rule)."""


class MemorySettingsError(MemoryInputError, UsageError):
    """A memory run setting that does not exist or is out of range (the message lists the valid ones)."""


class ExportLineError(MemoryInputError):
    """One line of an export file that cannot be imported; the message names the first problem."""


class UnknownExperienceError(MemoryLayerError, KeyError):
    """An experience id that the bank does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MemoryParseError(MemoryLayerError, ValueError):
    """Model output that is not a valid set of memory items, judgement, selection or workflow.

    `problems` lists every problem found; `text` is the output that was parsed.
    """

    def __init__(self, problems: list[str] | str, text: str = "") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.text = text
        shown = text if len(text) <= 200 else text[:200] + "..."
        super().__init__("; ".join(self.problems) + f" (output was {shown!r})")


class MemoryRunError(MemoryLayerError, RunFolderError):
    """A run folder that a memory run or report cannot use as asked; the message says what to do."""


class MemoryResumeRequired(MemoryRunError, ResumeRequired):
    """The run folder already holds finished tasks of this method: pass --resume, or another --out."""


class MemoryRecordError(MemoryRunError):
    """A line of a run folder's records that is not a memory task record (the message names it)."""
