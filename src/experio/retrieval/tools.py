"""MARAG-R1's four retrieval tools over one corpus, as plain functions.

    >>> tools = RetrievalTools(load_corpus("builtin"))                       # doctest: +SKIP
    >>> tools.keyword_search("garbage collection", k=3)                       # doctest: +SKIP
    [Hit(id='f02263', score=6.2985), Hit(id='f06452', score=6.2658), Hit(id='f04244', score=6.2353)]
    >>> langs = tools.filter("categories", "contains", "language")           # doctest: +SKIP
    >>> len(tools.filter("year", "eq", 1995, within=langs))                  # doctest: +SKIP
    249
    >>> tools.aggregate("top_k_largest", "words", ids=langs, k=3)            # doctest: +SKIP
    Aggregate(op='top_k_largest', field='words', n=1058, rows=[('f05989', 725), ('f10164', 697), ('f08024', 640)], missing=0)

The paper (arXiv 2510.27569) names the tools but publishes no signatures; these are experio's:

    semantic_search(query, k=10, within=None)  dense: MiniLM embeddings (`experio.embed`), exact cosine top-k
    keyword_search(query, k=10, within=None)   BM25 (the `bm25s` library: English stopwords, no stemming)
    filter(field, op, value, within=None)      metadata conditions through DuckDB over the Arrow table
    aggregate(op, field=None, ids=None, k=3)   count, count_by, min, max, sort, top-k over a set (numpy)

`within` / `ids` is a list of document ids (None: the whole corpus). Filter operators by
field type (see `OPS`): numbers and dates take eq, ne, lt, le, gt, ge, between [lo, hi]
(inclusive) and in [values]; a category eq, ne, in; categories (a set of labels) contains
(has the label) and in (has any of the labels). Aggregations ignore documents without a value
of the field and say how many they were; `min` / `max` return every document that shares the
extreme value. Ties (equal scores, equal values) keep corpus order, so every result is
deterministic; a repeated id in `within` / `ids` counts once.

The dense index (one float32 row per document, of title and text) is cached under
`$EXPERIO_HOME/retrieval/<corpus fingerprint>/` (or `cache_dir`), one file per embedder, so a
corpus is embedded once. The tools may be called from several threads (an MCP server's).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from experio.runs import experio_home

from .corpus import Corpus, convert_value
from .errors import FieldTypeError, FilterValueError, ToolError, UnknownFieldError

OPS = {
    "number": ("eq", "ne", "lt", "le", "gt", "ge", "between", "in"),
    "date": ("eq", "ne", "lt", "le", "gt", "ge", "between", "in"),
    "category": ("eq", "ne", "in"),
    "categories": ("contains", "in"),
}
AGGREGATIONS = ("count", "count_by", "min", "max", "sort_asc", "sort_desc", "top_k_smallest", "top_k_largest")
_SQL = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_REMEMBERED, _REMEMBER_FROM = 32, 100  # id lists whose positions are kept; lists shorter than that are not
EMBED_CHARS = 1000  # of title + text per document for the dense index (MiniLM reads 256 tokens)


@dataclass(frozen=True)
class Hit:
    """A search result: a document id and its score (BM25, or cosine similarity)."""

    id: str
    score: float


@dataclass(frozen=True)
class Aggregate:
    """An aggregation's result: `rows` of (document id or label, value), `n` documents aggregated,
    `missing` documents of the set without a value of the field."""

    op: str
    field: str | None
    n: int
    rows: list[tuple[str, Any]] = field(default_factory=list)
    missing: int = 0

    @property
    def value(self) -> Any:
        """count: the number; min / max: the extreme value; otherwise the rows."""
        if self.op == "count":
            return self.n
        if self.op in ("min", "max"):
            return self.rows[0][1] if self.rows else None
        return self.rows


class RetrievalTools:
    """The four tools over `corpus`; indexes are built on first use (`build()` builds them all)."""

    def __init__(self, corpus: Corpus, *, embedder: Any = None, cache_dir: str | Path | None = None):
        self.corpus = corpus
        self._embedder = embedder
        self._cache_dir = Path(cache_dir) if cache_dir else None  # default: from the fingerprint, when needed
        self._bm25: Any = None
        self._vectors: np.ndarray | None = None
        self._db: Any = None
        self._row = "row__"  # the row-number column of the DuckDB table
        self._columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._known: OrderedDict[int, tuple[list[str], list[str], np.ndarray]] = OrderedDict()  # see positions()
        self._ids = np.asarray(corpus.ids, dtype=object)
        self._lock = threading.RLock()  # one DuckDB connection and lazily built indexes, shared by threads

    def build(self, dense: bool = True) -> "RetrievalTools":
        """Build every index now (keyword, metadata, and the dense one unless `dense=False`)."""
        self._keyword_index()
        self._database()
        if dense:
            self._dense_index()
        return self

    # -------------------------------------------------------------------- the four tools

    def semantic_search(self, query: str, k: int = 10, within: Sequence[str] | None = None) -> list[Hit]:
        """The `k` documents whose embedding is closest to the query's (cosine), best first."""
        from experio.embed import cosine_top_k

        query, k = _check_query(query), _check_k(k)
        vectors = self._dense_index()
        q = self._embed([query])
        pos = None if within is None else self._unique_positions(within)
        rows, sims = cosine_top_k(q, vectors if pos is None else vectors[pos], k)
        rows = rows[0] if pos is None else pos[rows[0]]
        return [Hit(self.corpus.ids[i], round(float(s), 4)) for i, s in zip(rows, sims[0])]

    def keyword_search(self, query: str, k: int = 10, within: Sequence[str] | None = None) -> list[Hit]:
        """The `k` documents with the highest BM25 score for the query's words, best first
        (documents that share no word with the query are not returned)."""
        query, k = _check_query(query), _check_k(k)
        index = self._keyword_index()
        tokens = [t for t in _tokenize(query) if t in index.vocab_dict]
        if not tokens:
            return []
        scores = index.get_scores(tokens)
        if within is not None:
            keep = np.zeros(len(scores), dtype=bool)
            keep[self.positions(within)] = True
            scores = np.where(keep, scores, 0)
        top = _top_k(scores, k)
        return [Hit(self.corpus.ids[i], round(float(scores[i]), 4)) for i in top]

    def filter(self, field: str, op: str, value: Any, within: Sequence[str] | None = None) -> list[str]:
        """Ids of the documents whose `field` satisfies `op value`, in corpus order (a document
        without a value of the field satisfies no condition, `ne` included)."""
        sql, params = self.condition(field, op, value)
        db = self._database()
        with self._lock:
            row = self._row
            pos = db.execute(f"SELECT {row} FROM docs WHERE {sql} ORDER BY {row}", params).fetchnumpy()[row]
        if within is not None:
            keep = np.zeros(len(self.corpus), dtype=bool)
            keep[self.positions(within)] = True
            pos = pos[keep[pos]]
        ids = self._ids[pos].tolist()
        self._remember(ids, pos)
        return ids

    def aggregate(self, op: str, field: str | None = None, ids: Sequence[str] | None = None,
                  k: int = 3) -> Aggregate:
        """`op` over the documents `ids` (all when None): see AGGREGATIONS and the module docstring.
        `count` with a field counts the documents that have a value of it."""
        if op not in AGGREGATIONS:
            raise ToolError(f"unknown aggregation {op!r}; choose one of: {', '.join(AGGREGATIONS)}")
        pos = np.arange(len(self.corpus)) if ids is None else self._unique_positions(ids)
        if op == "count" and not field:
            return Aggregate(op, None, len(pos))
        typ = self._field_type(field, f"aggregation {op!r}")
        if op == "count":
            n = int(np.count_nonzero(self._present(field)[pos]))
            return Aggregate(op, field, n, [], len(pos) - n)
        if op == "count_by":
            return self._count_by(field, typ, pos)
        if typ not in ("number", "date"):
            raise FilterValueError(f"{op} needs a number or date field; {field!r} is a {typ}")
        if op.startswith("top_k"):
            k = _check_k(k)
        values, present = self._column(field)
        pos_ok = pos[present[pos]]
        vals = values[pos_ok]
        missing = len(pos) - len(pos_ok)
        if op in ("min", "max"):
            if not len(vals):
                return Aggregate(op, field, 0, [], missing)
            best = vals.min() if op == "min" else vals.max()
            return Aggregate(op, field, len(pos_ok), self._rows(field, pos_ok[vals == best]), missing)
        descending = op in ("sort_desc", "top_k_largest")
        order = _ascending(-vals if descending else vals, k if op.startswith("top_k") else None)
        return Aggregate(op, field, len(pos_ok), self._rows(field, pos_ok[order]), missing)

    # ------------------------------------------------------------------------ helpers

    def positions(self, ids: Sequence[str]) -> np.ndarray:
        """Row positions of `ids` (unknown ids are an error naming the first of them). The positions
        of the last few id lists (those `filter` returned, those passed in) are remembered: a set
        used again (`within=R1`, then `over=R1`) is not looked up id by id again."""
        if isinstance(ids, str):
            raise ToolError(f"a set of documents is a list of ids, got the text {ids!r}")
        with self._lock:
            known = self._known.get(id(ids))
        if known is not None and known[0] is ids and known[1] == ids:  # the same list, unchanged
            return known[2]
        where = self.corpus.position
        try:
            pos = np.fromiter(map(where.__getitem__, ids), dtype=np.int64, count=len(ids))
        except KeyError as e:
            raise ToolError(f"document id {e.args[0]!r} is not in corpus {self.corpus.name!r}") from None
        except TypeError:
            raise ToolError(f"a set of documents is a list of ids, got {ids!r:.80}") from None
        self._remember(ids, pos)
        return pos

    def _remember(self, ids: Sequence[str], pos: np.ndarray) -> None:
        """Keep the positions of the list `ids` (with a copy of it: a list changed since is looked up anew)."""
        if isinstance(ids, list) and len(ids) >= _REMEMBER_FROM:
            pos.flags.writeable = False
            with self._lock:
                self._known[id(ids)] = (ids, list(ids), pos)  # holding `ids` keeps its id() its own
                self._known.move_to_end(id(ids))
                while len(self._known) > _REMEMBERED:
                    self._known.popitem(last=False)

    def _unique_positions(self, ids: Sequence[str]) -> np.ndarray:
        """Sorted, distinct row positions of `ids`."""
        pos = self.positions(ids)
        if len(pos) < 2 or bool(np.all(pos[1:] > pos[:-1])):
            return pos  # already so (a set a filter made): nothing to do
        keep = np.zeros(len(self.corpus), dtype=bool)
        keep[pos] = True
        return np.flatnonzero(keep)

    def condition(self, field: str, op: str, value: Any) -> tuple[str, list[Any]]:
        """The SQL condition and parameters of `field op value`, checked against the field's type."""
        typ = self._field_type(field, "filter")
        if op not in OPS[typ]:
            raise FilterValueError(f"{field!r} is a {typ} field; its operators are: {', '.join(OPS[typ])} (got {op!r})")
        col = '"' + field.replace('"', '""') + '"'
        if op in ("between", "in"):
            if not isinstance(value, (list, tuple)) or not value or (op == "between" and len(value) != 2):
                want = "[low, high]" if op == "between" else "a non-empty list of values"
                raise FilterValueError(f"filter {field} {op} needs {want}, got {value!r}")
            vals = [self._value(field, typ, v) for v in value]
            if op == "between":
                return f"{col} BETWEEN ? AND ?", vals
            if typ == "categories":
                return f"list_has_any({col}, ?::VARCHAR[])", [vals]
            return f"{col} IN ({', '.join('?' * len(vals))})", vals
        if op == "contains":
            return f"list_contains({col}, ?)", [self._value(field, typ, value)]
        return f"{col} {_SQL[op]} ?", [self._value(field, typ, value)]

    def _value(self, field: str, typ: str, value: Any) -> Any:
        if isinstance(value, (list, tuple, dict)):
            raise FilterValueError(f"filter on {field!r} takes one value here, got {value!r}; use op 'in' for a list")
        try:
            v = convert_value(field, "category" if typ == "categories" else typ, value)
        except FieldTypeError as e:
            raise FilterValueError(str(e)) from None
        if v is None:
            raise FilterValueError(f"filter on {field!r} needs a value, got {value!r}")
        return v

    def _field_type(self, field: str | None, what: str) -> str:
        typ = self.corpus.fields.get(field or "")
        if typ is None:
            known = ", ".join(self.corpus.fields) or "(none)"
            raise UnknownFieldError(f"{what}: unknown field {field!r}; the fields are: {known}")
        return typ

    def _column(self, field: str) -> tuple[np.ndarray, np.ndarray]:
        """(values, present) of a field as numpy arrays, built once: numbers as they are, dates as
        day numbers, labels as None; `present` says which documents have a (non-empty) value."""
        if field not in self._columns:
            col = self.corpus.table.column(field)
            typ = self.corpus.fields[field]
            present = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
            if typ == "categories":
                present &= pc.fill_null(pc.list_value_length(col), 0).to_numpy() > 0
            if typ == "date":
                values = col.cast(pa.int32()).fill_null(0).to_numpy()
            elif typ == "number":
                values = col.fill_null(0).to_numpy()
            else:
                values = None
            self._columns[field] = (values, present)
        return self._columns[field]

    def _present(self, field: str) -> np.ndarray:
        return self._column(field)[1]

    def _rows(self, field: str, pos: np.ndarray) -> list[tuple[str, Any]]:
        values = self._column(field)[0][pos]
        if self.corpus.fields[field] == "date":
            values = values.astype("datetime64[D]")  # .tolist() gives datetime.date
        return list(zip(self._ids[pos].tolist(), values.tolist()))

    def _count_by(self, field: str, typ: str, pos: np.ndarray) -> Aggregate:
        col = self.corpus.table.column(field).take(pa.array(pos))
        present = self._present(field)[pos]
        labels = pc.list_flatten(col) if typ == "categories" else col.drop_null()
        counts = pc.value_counts(labels)
        keys = [v.isoformat() if isinstance(v, dt.date) else str(v) for v in counts.field("values").to_pylist()]
        rows = sorted(zip(keys, counts.field("counts").to_pylist()), key=lambda kv: (-kv[1], kv[0]))
        n = int(np.count_nonzero(present))
        return Aggregate("count_by", field, n, rows, len(pos) - n)

    # ------------------------------------------------------------------------ indexes

    def _database(self) -> Any:
        with self._lock:
            if self._db is None:
                import duckdb

                meta = self.corpus.table.select(list(self.corpus.fields))
                while self._row in self.corpus.fields:  # a field of that name would hide the row number
                    self._row += "_"
                meta = meta.append_column(self._row, pa.array(np.arange(len(self.corpus), dtype=np.int64)))
                db = duckdb.connect(":memory:")
                db.register("docs_arrow", meta)
                db.execute("CREATE TABLE docs AS SELECT * FROM docs_arrow")  # columnar copy: faster scans
                db.unregister("docs_arrow")
                self._db = db
        return self._db

    def _keyword_index(self) -> Any:
        with self._lock:
            if self._bm25 is None:
                import bm25s

                logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG: one line per index
                texts = [f"{t}\n{x}" for t, x in zip(self.corpus.titles, self.corpus.texts)]
                tokens = bm25s.tokenize(texts, stopwords="en", show_progress=False)
                bm25 = bm25s.BM25()
                bm25.index(tokens, show_progress=False)
                self._bm25 = bm25
        return self._bm25

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self._load_embedder().embed(texts)

    def _load_embedder(self) -> Any:
        with self._lock:
            if self._embedder is None:
                from experio.embed import load_embedder

                self._embedder = load_embedder()
        return self._embedder

    def _dense_index(self) -> np.ndarray:
        with self._lock:
            if self._vectors is None:
                path = self._dense_path()
                if path.exists():
                    vectors = np.load(path)
                    if vectors.shape[0] == len(self.corpus):
                        self._vectors = vectors
                        return vectors
                texts = [f"{t}\n{x}"[:EMBED_CHARS] for t, x in zip(self.corpus.titles, self.corpus.texts)]
                vectors = self._embed(texts)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
                np.save(tmp, vectors)
                tmp.replace(path)
                self._vectors = vectors
        return self._vectors

    def _dense_path(self) -> Path:
        """The cached dense index of this corpus and embedder (class, and model when it names one)."""
        embedder = self._load_embedder()
        name = type(embedder).__name__
        model = getattr(embedder, "model", None)
        if isinstance(model, str):
            name += "-" + re.sub(r"[^A-Za-z0-9._-]+", "_", model)
        folder = self._cache_dir or experio_home() / "retrieval" / self.corpus.fingerprint()[:16]
        return folder / f"dense-{name}.npy"


def _tokenize(text: str) -> list[str]:
    """The words BM25 indexes (bm25s's tokenizer: lower case, English stopwords dropped)."""
    import bm25s

    return bm25s.tokenize([text], stopwords="en", show_progress=False, return_ids=False)[0]


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` highest positive scores, best first; ties in corpus order."""
    candidates = np.flatnonzero(scores > 0)  # the documents sharing a word with the query: usually few
    if len(candidates) > k:
        kept = scores[candidates]
        kth = np.partition(kept, len(kept) - k)[len(kept) - k]  # the k-th highest score
        candidates = candidates[kept >= kth]
    return candidates[np.argsort(-scores[candidates], kind="stable")[:k]]


def _ascending(keys: np.ndarray, k: int | None = None) -> np.ndarray:
    """Indices that sort `keys` ascending, ties in index order; only the first `k` when given."""
    if k is not None and k < len(keys):
        kth = np.partition(keys, k - 1)[k - 1]  # the k-th smallest key
        candidates = np.flatnonzero(keys <= kth)
        return candidates[np.argsort(keys[candidates], kind="stable")[:k]]
    return np.argsort(keys, kind="stable")


def _check_query(query: Any) -> str:
    if not isinstance(query, str) or not query.strip():
        raise ToolError(f"a search needs a query (non-empty text), got {query!r}")
    return query


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ToolError(f"k must be a positive integer, got {k!r}")
    return k
