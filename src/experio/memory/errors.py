"""Errors of `experio.memory`: each says what went wrong, where, and what to do."""

from __future__ import annotations


class MemoryBankError(RuntimeError):
    """A memory bank file cannot be used as asked (foreign, corrupt, other schema, bad input).

    The message names the file and what to do; the file itself is never changed.

        >>> raise MemoryBankError("is not a SQLite file", "/tmp/x.db", "choose another path")
        Traceback (most recent call last):
        ...
        experio.memory.errors.MemoryBankError: /tmp/x.db is not a SQLite file; nothing was changed. choose another path
    """

    def __init__(self, what: str, where: object, todo: str, *, changed: bool = False) -> None:
        self.what, self.where, self.todo = what, str(where), todo
        untouched = "" if changed else "; nothing was changed"
        super().__init__(f"{self.where} {what}{untouched}. {todo}")


class MemoryParseError(ValueError):
    """Model output that is not a valid set of memory items, judgement or selection.

    `problems` lists every problem found; `text` is the output that was parsed.
    """

    def __init__(self, problems: list[str] | str, text: str = "") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.text = text
        shown = text if len(text) <= 200 else text[:200] + "..."
        super().__init__("; ".join(self.problems) + f" (output was {shown!r})")
