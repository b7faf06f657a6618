"""The built-in corpus: FOLDOC, the Free On-line Dictionary of Computing (Denis Howe, GFDL).

    >>> corpus = load_foldoc()                                    # doctest: +SKIP
    >>> len(corpus), corpus.fields                                # doctest: +SKIP
    (12009, {'categories': 'categories', 'links': 'number', 'updated': 'date', 'words': 'number', 'year': 'number'})

Why FOLDOC: about 12,000 entries (Debian's 2023 package) written by people over three decades,
each a paragraph or more of prose with its own metadata, so corpus-level questions (how many
entries of a category were updated in a year, which one is the longest, the three most
recently updated) have exact answers. It installs offline from Debian's `dict-foldoc` package (in dictd's format);
`scripts/install_retrieval.sh` (run by `make install`) extracts the package's files into
`$EXPERIO_HOME/corpora/foldoc/` without installing the dictd server it depends on. Licence: GNU
Free Documentation License; `LICENCE` below (`corpus.licence`) is the notice the package carries.

An entry in the dictd file: one or more headword lines at the left margin (the first is the
title, the others its aliases), a blank line, then the definition indented by three spaces.
Fields of each document:

    categories  the labels in <...> at the start of the definition ("language", "networking", ...)
    updated     the date in the entry's last line, "(YYYY-MM-DD)": when the entry was last updated
    year        the year of `updated`
    words       the number of words of the definition
    links       the number of cross-references, {like this}, in the definition

An entry with no definition text is left out; a repeated title gets " (2)", " (3)" so titles,
which answers name, stay unique. Document ids are `f00001`, ... in file order.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

from experio.runs import experio_home

from .corpus import Corpus
from .errors import CorpusNotFoundError

LICENCE = (
    "FOLDOC, the Free On-line Dictionary of Computing, Copyright 1993 by Denis Howe. Permission is granted "
    "to copy, distribute and/or modify this document under the terms of the GNU Free Documentation License, "
    "Version 1.1 or any later version published by the Free Software Foundation; with no Invariant Sections, "
    "Front- or Back-Cover Texts. Refer to it as \"The Free On-line Dictionary of Computing, "
    "http://foldoc.org/, Editor Denis Howe\". Packaged for Debian as dict-foldoc."
)
FIELDS = {"categories": "categories", "links": "number", "updated": "date", "words": "number", "year": "number"}
DICT_FILE = "foldoc.dict.dz"
_TAG = re.compile(r"^\s*<([^<>]{1,80})>\s*")
_DATE = re.compile(r"^\((\d{4})-(\d{2})-(\d{2})\)$")
_LINK = re.compile(r"\{[^{}]+\}")
_cache: dict[str, Corpus] = {}


def foldoc_file() -> Path:
    """Where the dictd file is: the installed Debian package, or the copy the install script made."""
    for path in (Path("/usr/share/dictd") / DICT_FILE, experio_home() / "corpora" / "foldoc" / DICT_FILE):
        if path.exists():
            return path
    raise CorpusNotFoundError(
        f"the built-in corpus FOLDOC is not installed (no {DICT_FILE} in /usr/share/dictd or "
        f"{experio_home() / 'corpora' / 'foldoc'}); run scripts/install_retrieval.sh (make install does)")


def load_foldoc(path: str | Path | None = None) -> Corpus:
    """The FOLDOC corpus, parsed once per process."""
    path = Path(path) if path else foldoc_file()
    key = str(path.resolve())
    if key not in _cache:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            records = parse_entries(fh.read())
        _cache[key] = Corpus.from_records(records, fields=FIELDS, name="foldoc", licence=LICENCE)
    return _cache[key]


def parse_entries(text: str) -> list[dict[str, Any]]:
    """Documents (id, title, text, metadata) of a dictd-format FOLDOC text.

        >>> doc = parse_entries("\\nAda\\nAda 83\\n\\n   <language> A language, see {Pascal}.\\n\\n   (1995-03-01)\\n")[0]
        >>> doc["title"], doc["categories"], str(doc["updated"]), doc["words"], doc["links"]
        ('Ada', ['language'], '1995-03-01', 4, 1)
    """
    docs: list[dict[str, Any]] = []
    titles: dict[str, int] = {}
    for heads, body in _entries(text.split("\n")):
        title = heads[0].split("%%%")[0].strip()
        if title.startswith("00-database") or not body.strip():
            continue
        record = _record(title, body)
        if record is None:
            continue
        seen = titles.get(title, 0) + 1
        titles[title] = seen
        record["title"] = title if seen == 1 else f"{title} ({seen})"
        record["aliases"] = [h.strip() for h in heads[1:] if h.strip()]
        record["id"] = f"f{len(docs) + 1:05d}"
        docs.append(record)
    return docs


def _entries(lines: list[str]):
    """(headword lines, definition text) per entry. A headword block starts at the margin right
    after an empty line; a margin line right after a definition line continues that line."""
    heads: list[str] = []
    body: list[str] = []
    previous_empty, in_heads = True, False
    for line in lines:
        if not line:
            body.append("")
            previous_empty, in_heads = True, False
            continue
        at_margin = not line[0].isspace()
        if at_margin and previous_empty:
            if heads:
                yield heads, "\n".join(body)
            heads, body, in_heads = [line], [], True
        elif at_margin and in_heads:
            heads.append(line)
        else:
            body.append(line.strip())
            in_heads = False
        previous_empty = False
    if heads:
        yield heads, "\n".join(body)


def _record(title: str, body: str) -> dict[str, Any] | None:
    lines = [ln for ln in body.strip().split("\n")]
    updated = None
    if lines and (m := _DATE.match(lines[-1].strip())):
        updated = f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
        lines = lines[:-1]
    text = "\n".join(lines).strip()
    categories: list[str] = []
    if m := _TAG.match(text):
        categories = sorted({c.strip() for c in m.group(1).split(",") if c.strip()})
        text = text[m.end():]
    text = re.sub(r"(?<!\n)\n(?!\n)", " ", text).strip()  # re-flow wrapped lines; keep paragraphs
    if not text:
        return None
    return {"text": text, "categories": categories, "updated": updated,
            "year": int(updated[:4]) if updated else None, "words": len(text.split()),
            "links": len(_LINK.findall(text))}
