"""Statistics of ADP files: trajectories, turns, item classes, tools, languages.

>>> s = Stats()
>>> s.add_row({"id": "a", "details": {}, "content": [
...     {"class_": "text_observation", "content": "hi", "name": None, "source": "user"},
...     {"class_": "api_action", "function": "go", "kwargs": {}, "description": None}]})
>>> s.trajectories, s.classes["api_action"], s.functions["go"]
(1, 1, 1)
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from experio.adp.readers import read_rows
from experio.errors import InputFileError


@dataclass
class Stats:
    """Running counts over trajectories (plain dicts, so no validation cost)."""

    trajectories: int = 0
    items: int = 0
    bad_rows: int = 0
    max_items: int = 0
    chars: int = 0
    classes: Counter = field(default_factory=Counter)
    functions: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    finished: int = 0

    def add_row(self, t: dict) -> None:
        content = t.get("content")
        if not isinstance(content, list):
            self.bad_rows += 1
            return
        self.trajectories += 1
        self.items += len(content)
        self.max_items = max(self.max_items, len(content))
        for it in content:
            c = it.get("class_", "?")
            self.classes[c] += 1
            text = it.get("content")
            if isinstance(text, str):
                self.chars += len(text)
            if c == "api_action":
                self.functions[it.get("function")] += 1
            elif c == "code_action":
                self.languages[it.get("language")] += 1
            elif c == "text_observation":
                self.sources[it.get("source")] += 1
        last = content[-1] if content else {}
        if last.get("class_") == "message_action" and "<finish>" in str(last.get("content")):
            self.finished += 1

    @property
    def mean_items(self) -> float:
        return self.items / self.trajectories if self.trajectories else 0.0

    def as_dict(self) -> dict:
        return {
            "trajectories": self.trajectories,
            "bad_rows": self.bad_rows,
            "items": self.items,
            "mean_items": round(self.mean_items, 2),
            "max_items": self.max_items,
            "actions": sum(self.classes[c] for c in ("api_action", "code_action", "message_action")),
            "observations": sum(
                self.classes[c] for c in ("text_observation", "web_observation", "image_observation")
            ),
            "finished": self.finished,
            "content_chars": self.chars,
            "classes": dict(self.classes),
            "functions": dict(self.functions.most_common(20)),
            "languages": dict(self.languages),
            "sources": dict(self.sources),
        }


def stats(path: str | os.PathLike) -> dict[str, dict]:
    """Per-file statistics: a file, or every ADP file in a folder (recursively).

    Keys are the dataset folder name (or file name); values :meth:`Stats.as_dict`.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p} does not exist; pass an ADP file or a folder of them")
    if p.is_file():
        files = [p]
    else:
        pats = ("sample_std.json", "*.jsonl", "*.jsonl.gz", "*.parquet")
        files = sorted({f for pat in pats for f in p.rglob(pat) if "rejects" not in f.name})
        if not files:
            raise InputFileError(f"{p}: no ADP files in it (sample_std.json, *.jsonl[.gz], *.parquet)")
    out: dict[str, dict] = {}
    for f in files:
        s = Stats()
        for row in read_rows(f):
            if row.error or not isinstance(row.value, dict):
                s.bad_rows += 1
            else:
                s.add_row(row.value)
        key = f.parent.name if f.name == "sample_std.json" else f.name
        out[key] = s.as_dict()
    return out
