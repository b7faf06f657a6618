"""What a transcription returns, and the spoken form of text.

    >>> spoken_form("Hello, World! It's 5 o'clock.")
    "hello world it's 5 o'clock"

Spoken form is what Omnilingual outputs: no casing, no punctuation. Here: Unicode NFKC,
case-folded, every punctuation character dropped except an apostrophe or hyphen inside a word
(`it's`, `vingt-deux`), whitespace collapsed. Digits stay digits (numbers are not spelled out).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

_INNER = "'’-"


def spoken_form(text: str) -> str:
    """Lower-cased text without punctuation (NFKC; an apostrophe or hyphen inside a word stays)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    out = []
    for i, ch in enumerate(text):
        if unicodedata.category(ch).startswith("P"):
            inner = ch in _INNER and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
            out.append(("'" if ch == "’" else ch) if inner else " ")
        else:
            out.append(ch)
    return re.sub(r"\s+", " ", "".join(out)).strip()


@dataclass
class Word:
    """One word with its time span in seconds from the start of the input, and its probability."""

    start: float
    end: float
    word: str
    probability: float


@dataclass
class Segment:
    """One decoded stretch of speech: its time span in seconds, its raw text, and its words."""

    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcript:
    """The transcription of one input.

    `text` is the spoken form (as Omnilingual gives it), `raw` what the model wrote; `lang` the
    Omnilingual code used or detected, with its probability (1.0 when given) and, when detected,
    the top candidates `lang_probs`.
    """

    source: str
    text: str
    raw: str
    lang: str | None
    duration: float
    lang_probability: float = 1.0
    lang_probs: list[tuple[str, float]] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)

    def to_dict(self, timestamps: bool = False) -> dict[str, Any]:
        d = asdict(self)
        d["lang_probs"] = [list(p) for p in self.lang_probs]
        if not timestamps:
            d.pop("segments")
        return d


def join_segments(segments: list[Segment]) -> str:
    """The raw text of segments, joined with single spaces."""
    return " ".join(s.text.strip() for s in segments if s.text.strip())
