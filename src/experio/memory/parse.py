"""Parsing model output into memory items, judgements and selections, with validation.

    >>> text = '''# Memory Item 1
    ... ## Title Verify before submitting
    ... ## Description Check the final state against the goal before declaring success.
    ... ## Content Agents often stop one step early. Compare what the goal asks for with what
    ... the last observation shows, and act again if they differ.'''
    >>> [i.title for i in parse_memory_items(text)]
    ['Verify before submitting']
    >>> parse_judgement("The key was never used.\\nStatus: failure").status
    'failure'

Two forms of memory items are read: the official Markdown (`# Memory Item i`, `## Title`,
`## Description`, `## Content`, the value on the heading's line or below it) and JSON
(`{"items": [{"title", "description", "content"}, ...]}` or a bare list). Every problem found
is named in one `MemoryParseError`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .errors import MemoryParseError
from .records import MemoryItem

# Bounds in characters. The paper: title a short name, description one sentence, content
# 1-3 sentences; these leave room for long sentences and reject runaway output.
TITLE_CHARS = (3, 120)
DESCRIPTION_CHARS = (10, 400)
CONTENT_CHARS = (10, 1200)
BOUNDS = {"title": TITLE_CHARS, "description": DESCRIPTION_CHARS, "content": CONTENT_CHARS}

_ITEM_HEAD = re.compile(r"^\s*#{1,3}\s*\**\s*memory\s+item\b[^\n]*$", re.I | re.M)
# "## Title", "## Title: x", "**Title**: x", "- Title: x" (a bare word at a line start is text)
_FIELD_HEAD = re.compile(
    r"^\s*(?:#{1,4}\s*\**\s*(title|description|content)\b\s*\**\s*:?"
    r"|-?\s*\**\s*(title|description|content)\s*\**\s*:)\s*\**\s*(.*)$", re.I)
_STATUS = re.compile(
    r"\bstatus\b\W{0,6}\s*(success(?:ful)?|succeeded|fail(?:ure|ed)?)\b", re.I)


def parse_memory_items(text: str, max_items: int = 3, *, query: str | None = None) -> list[MemoryItem]:
    """Memory items from model output (Markdown or JSON), validated; any problem is an error.

    Checks: at least one and at most `max_items` items; every field present, non-empty and
    within `BOUNDS`; no title that merely repeats `query` (the task's own wording). An item
    repeated word for word is kept once.
    """
    items, problems = parse_memory_items_lenient(text, max_items, query=query)
    if problems:
        raise MemoryParseError(problems, text)
    return items


def parse_memory_items_lenient(text: str, max_items: int = 3, *, query: str | None = None,
                               reject: Callable[[MemoryItem], str | None] | None = None
                               ) -> tuple[list[MemoryItem], list[str]]:
    """The valid items of the output (the first `max_items`) and the problems of the rest.

    `reject(item)`, when given, returns why a well-formed item must still be left out (or None).

    Small models often write one good item next to a broken one; this keeps the good one and
    names what was dropped. Raises MemoryParseError only when nothing item-like is found.

        >>> items, dropped = parse_memory_items_lenient(
        ...     "# Memory Item 1\n## Title Re-read the goal\n## Description Check the goal before acting.\n"
        ...     "## Content Compare the goal with the page.\n# Memory Item 2\n## Title Oops")
        >>> [i.title for i in items], dropped
        (['Re-read the goal'], ['item 2: description is missing or empty', 'item 2: content is missing or empty'])
    """
    if not isinstance(text, str) or not text.strip():
        raise MemoryParseError("the output is empty", text or "")
    body = _strip_fence(text.strip())
    if body[:1] in "[{":
        raw = _json_items(body, text)
    else:
        raw = _markdown_items(body)
        if not raw:
            raise MemoryParseError("found no memory items: expected '# Memory Item 1' with '## Title', "
                                   "'## Description' and '## Content' sections, or JSON", text)
    problems: list[str] = []
    if len(raw) > max_items:
        problems.append(f"{len(raw)} memory items, at most {max_items} allowed")
    norm_query = _normal(query) if query else None
    out: list[MemoryItem] = []
    for n, fields in enumerate(raw, start=1):
        found = _item_problems(fields, n, norm_query)
        item = None if found else MemoryItem(fields["title"], fields["description"], fields["content"])
        if item is not None and reject is not None and (why := reject(item)):
            found = [f"item {n}: {why}"]
        problems += found
        if found or len(out) == max_items:
            continue
        assert item is not None
        # an item repeated word for word is kept once
        if not any(_normal(item.title + " " + item.content) == _normal(o.title + " " + o.content) for o in out):
            out.append(item)
    return out, problems


def _item_problems(fields: dict[str, Any], n: int, norm_query: str | None) -> list[str]:
    """What is wrong with item `n` (its fields are whitespace-normalised in place)."""
    problems = []
    for key, (lo, hi) in BOUNDS.items():
        value = fields.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"item {n}: {key} is missing or empty")
            continue
        value = " ".join(value.split())
        fields[key] = value
        if len(value) < lo:
            problems.append(f"item {n}: {key} is {len(value)} characters, at least {lo} needed")
        elif len(value) > hi:
            problems.append(f"item {n}: {key} is {len(value)} characters, at most {hi} allowed")
    if norm_query and isinstance(fields.get("title"), str) and _normal(fields["title"]) == norm_query:
        problems.append(f"item {n}: the title repeats the task query; it must name a general strategy")
    return problems


def _strip_fence(text: str) -> str:
    m = re.match(r"^```[a-zA-Z]*\s*\n(.*?)\n?```\s*$", text, re.S)
    return m.group(1).strip() if m else text


def _json_items(body: str, text: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(body)
    except json.JSONDecodeError as e:
        raise MemoryParseError(f"looks like JSON but does not parse ({e.msg} at char {e.pos})", text) from None
    if isinstance(value, dict):
        for key in ("items", "memory_items", "memories"):
            if key in value:
                value = value[key]
                break
        else:
            value = [value] if {"title", "content"} & set(value) else value
    if not isinstance(value, list):
        raise MemoryParseError('JSON must be {"items": [...]} or a list of items', text)
    out = []
    for n, it in enumerate(value, start=1):
        if not isinstance(it, dict):
            raise MemoryParseError(f"item {n} is {type(it).__name__}, expected an object with title, "
                                   "description and content", text)
        out.append({k: it.get(k) for k in BOUNDS})
    return out


def _markdown_items(body: str) -> list[dict[str, Any]]:
    heads = list(_ITEM_HEAD.finditer(body))
    if heads:
        blocks = [body[h.end(): (heads[i + 1].start() if i + 1 < len(heads) else len(body))]
                  for i, h in enumerate(heads)]
    else:
        blocks = [body]
    items: list[dict[str, Any]] = []
    for block in blocks:
        current: dict[str, Any] | None = None
        key: str | None = None
        for line in block.splitlines():
            m = _FIELD_HEAD.match(line)
            if m:
                field = (m.group(1) or m.group(2)).lower()
                if current is None or field in current:  # a repeated field starts a new item
                    current = {}
                    items.append(current)
                key = field
                current[key] = m.group(3).strip().strip("*").strip()
            elif key is not None and current is not None:
                if re.match(r"^\s*#", line):  # some other heading ends the field
                    key = None
                    continue
                current[key] = (current[key] + " " + line.strip()).strip()
    return [it for it in items if it]


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


# ---------------------------------------------------------------------- judgements
@dataclass(frozen=True)
class Judgement:
    """The LLM-as-judge verdict: `status` "success" or "failure", its `rationale`, the `raw` output."""

    status: str
    rationale: str
    raw: str

    @property
    def success(self) -> bool:
        return self.status == "success"


def parse_judgement(text: str) -> Judgement:
    """Read a verdict: JSON {"rationale", "status"} or free text ending in a `Status:` line.

    The last status line counts ("Status: Success", "**Status**: failed", "STATUS - FAILURE"
    ...); the rationale is the text before it, without a leading "Rationale:"/"Thoughts:".
    """
    stripped = _strip_fence((text or "").strip())
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict) and isinstance(value.get("status"), str):
            status = _status_word(value["status"])
            if status is None:
                raise MemoryParseError(f"status {value['status']!r} is neither success nor failure", text)
            return Judgement(status, str(value.get("rationale", "")).strip(), text)
    matches = list(_STATUS.finditer(stripped))
    if not matches:
        raise MemoryParseError("no 'Status: success' or 'Status: failure' line", text)
    last = matches[-1]
    status = _status_word(last.group(1))
    assert status is not None
    rationale = stripped[: last.start()].strip().rstrip("*#-").strip()
    rationale = re.sub(r"^\W*(rationale|thoughts?|reasoning)\W*:\s*", "", rationale, flags=re.I)
    return Judgement(status, rationale, text)


def _status_word(word: str) -> str | None:
    w = word.strip().lower()
    if w.startswith("succe"):
        return "success"
    if w.startswith("fail"):
        return "failure"
    return None


# ---------------------------------------------------------------------- selections
@dataclass(frozen=True)
class Selection:
    """The best-of-N choice (MaTTS parallel): `index` into the candidates, `rationale`, `raw`."""

    index: int
    rationale: str
    raw: str


def parse_selection(text: str, n: int) -> Selection:
    """Read the chosen candidate: JSON {"rationale", "best"} or a `Best: i` line (0 <= i < n)."""
    stripped = _strip_fence((text or "").strip())
    index: Any = None
    rationale = ""
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            index, rationale = value.get("best"), str(value.get("rationale", ""))
    if index is None:
        m = list(re.finditer(r"\bbest\b\W{0,6}\s*(?:trajectory|attempt|candidate)?\s*#?\s*(\d+)", stripped, re.I))
        if not m:
            raise MemoryParseError("no 'Best: <index>' line", text)
        index, rationale = int(m[-1].group(1)), stripped[: m[-1].start()].strip()
        rationale = re.sub(r"^\W*(rationale|reasoning)\W*:\s*", "", rationale, flags=re.I)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
        raise MemoryParseError(f"chosen index {index!r} is not one of 0..{n - 1}", text)
    return Selection(index, rationale.strip(), text)


def format_memory_items(items: Sequence[MemoryItem]) -> str:
    """Items in the official Markdown form (for prompts and for few-shot examples).

        >>> print(format_memory_items([MemoryItem("T", "D.", "C.")]))
        # Memory Item 1
        ## Title T
        ## Description D.
        ## Content C.
    """
    blocks = []
    for n, item in enumerate(items, start=1):
        blocks.append(f"# Memory Item {n}\n## Title {item.title}\n## Description {item.description}\n"
                      f"## Content {item.content}")
    return "\n\n".join(blocks)
