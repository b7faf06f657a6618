"""A corpus: documents with text and typed metadata, held as one Arrow table.

    >>> c = Corpus.from_records([
    ...     {"id": "a", "title": "Ada", "text": "A language for embedded systems.", "year": 1983, "tags": ["language"]},
    ...     {"id": "b", "title": "BASIC", "text": "A language for beginners.", "year": 1964, "tags": ["language"]},
    ... ], name="tiny")
    >>> len(c), c.fields
    (2, {'tags': 'categories', 'year': 'number'})
    >>> c.doc("b").title, c.doc("b").meta["year"]
    ('BASIC', 1964)

Columns: `id` (unique, non-empty), `title`, `text`, then one column per metadata field, each of
one type:

    number       integers or floats (int64 when every value is an integer, else float64)
    date         ISO dates, YYYY-MM-DD (date32)
    category     one label per document (string)
    categories   a set of labels per document (list<string>)

A missing value is null. Field types come from `fields={"name": "type"}` (other fields are
then not loaded) or are inferred from all of a field's values: categories when any value is a
list (a CSV cell `a;b`), else the type most values have (a number -> number, a YYYY-MM-DD
string -> date, another string -> category). A row that does not fit (no id, a repeated id, no
text, a value of the wrong type) goes to the rejects file with its reason and the rest is loaded.

Sources (`load_corpus`): `builtin` / `foldoc` (see `experio.retrieval.foldoc`), a `.jsonl`
(`.jsonl.gz`) file, a `.csv` file (categories as `a;b;c`), a `.parquet` file, or a folder of
`.txt` files (the file's path below the folder, without `.txt`, is its id; its first line the
title) with a metadata table `metadata.{csv,jsonl,parquet}` keyed by `id`.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson
import pyarrow as pa

from experio.runs import RejectsFile

from .errors import CorpusError, CorpusNotFoundError, EmptyCorpusError, FieldTypeError

FIELD_TYPES = ("number", "date", "category", "categories")
RESERVED = ("id", "title", "text")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Document:
    """One document: its id, title, text and metadata (field -> value, None when missing)."""

    id: str
    title: str
    text: str
    meta: dict[str, Any]


class Corpus:
    """Documents as one Arrow table (`table`) with typed metadata `fields` (name -> type)."""

    def __init__(self, table: pa.Table, fields: dict[str, str], name: str = "corpus", licence: str | None = None):
        for f, typ in fields.items():
            if typ not in FIELD_TYPES:
                raise FieldTypeError(f"field {f!r} has type {typ!r}; the types are: {', '.join(FIELD_TYPES)}")
        self.table, self.fields, self.name, self.licence = table, dict(sorted(fields.items())), name, licence
        self.ids: list[str] = table.column("id").to_pylist()
        self.titles: list[str] = table.column("title").to_pylist()
        self.texts: list[str] = table.column("text").to_pylist()
        self.position: dict[str, int] = {d: i for i, d in enumerate(self.ids)}
        if not self.ids:
            raise EmptyCorpusError(f"corpus {name!r} has no documents")

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Document]:
        return (self.doc_at(i) for i in range(len(self)))

    def doc_at(self, i: int) -> Document:
        meta = {f: self.table.column(f)[i].as_py() for f in self.fields}
        return Document(self.ids[i], self.titles[i], self.texts[i], meta)

    def doc(self, doc_id: str) -> Document:
        i = self.position.get(doc_id)
        if i is None:
            raise CorpusError(f"corpus {self.name!r} has no document {doc_id!r}")
        return self.doc_at(i)

    def fingerprint(self) -> str:
        """sha256 of ids, titles, texts and field types: the key of the indexes built from it."""
        h = hashlib.sha256(orjson.dumps(self.fields))
        for d, t, x in zip(self.ids, self.titles, self.texts):
            h.update(orjson.dumps([d, t, x]))
        return h.hexdigest()

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]], *, fields: dict[str, str] | None = None,
                     name: str = "corpus", licence: str | None = None, rejects: RejectsFile | None = None) -> "Corpus":
        """A corpus from dict rows (`id`, `text`, optional `title`, the rest metadata or under `meta`).

        A row that does not fit goes to `rejects` with its reason (without `rejects` it is a
        CorpusError naming its row). When no row is left the rejects are committed, so the file
        the EmptyCorpusError names exists.

            >>> Corpus.from_records([{"id": "a", "text": "x", "year": "MCMLXXXIII"}], fields={"year": "number"})
            Traceback (most recent call last):
            ...
            experio.retrieval.errors.CorpusError: row 1: field 'year' is a number; 'MCMLXXXIII' is not (expected an integer or a float)
        """
        return _build(((f"row {n}", n, r) for n, r in enumerate(records, start=1)), fields, name, licence, rejects)


def _build(rows: Iterable[tuple[str, int, Any]], fields: dict[str, str] | None, name: str, licence: str | None,
           rejects: RejectsFile | None) -> Corpus:
    """The corpus of (where, line, record) rows: checked, typed (declared or inferred), converted."""
    for f, typ in (fields or {}).items():
        if typ not in FIELD_TYPES:
            raise FieldTypeError(f"field {f!r} has type {typ!r}; the types are: {', '.join(FIELD_TYPES)}")
    checked: list[tuple[str, int, Any, dict[str, Any]]] = []
    for where, line, record in rows:
        if record is _UNREADABLE:
            continue  # its reader already rejected it
        try:
            checked.append((where, line, record, _check_row(record)))
        except CorpusError as e:
            _reject(rejects, where, line, str(e), record)
    types = dict(fields) if fields is not None else _infer_types(row for *_, row in checked)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for where, line, record, row in checked:
        try:
            if row["id"] in seen:
                raise CorpusError(f"id {row['id']!r} appears twice; ids must be unique")
            out.append(_convert_row(row, types))
            seen.add(row["id"])
        except CorpusError as e:
            _reject(rejects, where, line, str(e), record)
    if not out:
        where = ""
        if rejects is not None and rejects.count:
            where = f"; every row was rejected, see {rejects.commit()}"
        raise EmptyCorpusError(f"corpus {name!r} has no usable document{where}")
    return Corpus(_table(out, types), types, name, licence)


_UNREADABLE = object()  # a row a reader could not parse (and already sent to the rejects)


def _reject(rejects: RejectsFile | None, where: str, line: int, reason: str, record: Any) -> None:
    if rejects is None:
        raise CorpusError(f"{where}: {reason}")
    rejects.add(line, reason, record if isinstance(record, dict) else {"value": repr(record)})


def _check_row(record: Any) -> dict[str, Any]:
    """One row's id, title, text and raw metadata (`meta`), or CorpusError saying what is missing."""
    if not isinstance(record, dict):
        raise CorpusError(f"a document is an object with id and text, got {type(record).__name__}")
    doc_id = record.get("id")
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise CorpusError('a document without an "id" (a non-empty string)')
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(f'document {doc_id!r} has no "text"')
    nested = record.get("meta") or {}
    if not isinstance(nested, dict):
        raise CorpusError(f'document {doc_id!r}: "meta" is an object of fields, got {type(nested).__name__}')
    meta = {**nested, **{k: v for k, v in record.items() if k not in (*RESERVED, "meta")}}
    return {"id": doc_id, "title": str(record.get("title") or doc_id), "text": text, "meta": meta}


def _infer_types(rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Each field's type from all its non-null values: categories if any value is a list, else
    the type most values have (rows whose value does not fit it are rejected later)."""
    kinds: dict[str, dict[str, int]] = {}
    for row in rows:
        for key, value in row["meta"].items():
            if value is not None:
                counts = kinds.setdefault(key, {})
                typ = _infer_type(value)
                counts[typ] = counts.get(typ, 0) + 1
    return {key: "categories" if "categories" in counts else max(counts, key=counts.__getitem__)
            for key, counts in kinds.items()}


def _convert_row(row: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    """The row with its metadata as the field types want it (an undeclared field is dropped)."""
    out = {"id": row["id"], "title": row["title"], "text": row["text"]}
    for key, value in row["meta"].items():
        if key in types:
            out[key] = convert_value(key, types[key], value)
    return out


def _infer_type(value: Any) -> str:
    if isinstance(value, _CsvText):
        return value.kind
    if isinstance(value, (list, tuple)):
        return "categories"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"
    if isinstance(value, dt.date) or (isinstance(value, str) and _DATE.match(value)):
        return "date"
    return "category"


def convert_value(field: str, typ: str, value: Any) -> Any:
    """`value` as field type `typ` wants it (None stays None), or FieldTypeError saying why not."""
    if value is None or (isinstance(value, str) and not value.strip() and typ != "category"):
        return None
    bad = FieldTypeError(f"field {field!r} is a {typ}; {value!r} is not (expected {_EXPECTED[typ]})")
    if typ == "number":
        if isinstance(value, bool):
            raise bad
        if isinstance(value, str):
            try:
                value = float(value) if any(c in value for c in ".eE") else int(value)
            except ValueError:
                raise bad from None
        if not isinstance(value, (int, float)) or value != value:  # NaN is no number to compare
            raise bad
        return value
    if typ == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str) and _DATE.match(value.strip()):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                raise bad from None
        raise bad
    if typ == "categories":
        if isinstance(value, str):
            value = [v for v in (p.strip() for p in value.split(";")) if v]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise bad
        return sorted(set(value))
    if isinstance(value, (dict, list, tuple)):
        raise bad
    return str(value)


_EXPECTED = {"number": "an integer or a float", "date": "YYYY-MM-DD", "category": "one label",
             "categories": "a list of labels, or 'a;b' in CSV"}
_ARROW = {"date": pa.date32(), "category": pa.string(), "categories": pa.list_(pa.string())}


def _table(rows: list[dict[str, Any]], types: dict[str, str]) -> pa.Table:
    """The Arrow table of checked rows, column by column (a field missing in a row is null)."""
    columns = {k: pa.array([r[k] for r in rows], pa.string()) for k in RESERVED}
    for f, typ in sorted(types.items()):
        values = [r.get(f) for r in rows]
        if typ == "number":
            ints = all(v is None or isinstance(v, int) for v in values)
            columns[f] = pa.array(values, pa.int64() if ints else pa.float64())
        else:
            columns[f] = pa.array(values, _ARROW[typ])
    return pa.table(columns)


# ------------------------------------------------------------------------------ loading


def load_corpus(source: str | Path, *, fields: dict[str, str] | None = None,
                rejects: RejectsFile | None = None) -> Corpus:
    """The corpus `source` names (see the module docstring); unusable rows go to `rejects`."""
    if str(source) in ("builtin", "foldoc"):
        from .foldoc import load_foldoc

        return load_foldoc()
    path = Path(source)
    if not path.exists():
        raise CorpusNotFoundError(f"corpus {path} does not exist; pass a .jsonl, .csv or .parquet file, "
                                  "a folder of .txt files, or builtin")
    name = path.stem.removesuffix(".jsonl")
    if path.is_dir():
        rows: Iterable[tuple[str, int, Any]] = _folder_records(path)
    elif path.name.endswith((".jsonl", ".jsonl.gz")):
        rows = _jsonl_records(path, rejects)
    elif path.suffix == ".csv":
        rows = _arrow_records(path, _read_csv(path), first=2, cells=True)
    elif path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = _arrow_records(path, pq.read_table(path), first=1)
    else:
        raise CorpusError(f"corpus {path}: unknown format; use .jsonl, .jsonl.gz, .csv, .parquet or a folder")
    return _build(rows, fields, name, None, rejects)


def _jsonl_records(path: Path, rejects: RejectsFile | None) -> Iterator[tuple[str, int, Any]]:
    """(where, line, record) per non-blank line; a line that is not JSON is rejected here."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        for line, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield f"{path}:{line}", line, orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                _reject(rejects, f"{path}:{line}", line, f"not JSON ({e})",
                        {"text": raw.decode("utf-8", "replace")[:200]})
                yield f"{path}:{line}", line, _UNREADABLE


def _read_csv(path: Path) -> pa.Table:
    import pyarrow.csv as pcsv

    # Every column as text: types are the corpus's to decide (declared or inferred per value).
    with open(path, encoding="utf-8", newline="") as fh:
        names = next(csv.reader(fh), [])
    if not names:
        raise EmptyCorpusError(f"corpus {path} is an empty CSV file")
    opts = pcsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True)
    return pcsv.read_csv(path, convert_options=opts)


def _arrow_records(path: Path, table: pa.Table, first: int, cells: bool = False) -> Iterator[tuple[str, int, Any]]:
    """(where, line, row) of an Arrow table; with `cells` (CSV), metadata text is read as the value it spells."""
    for line, row in enumerate(table.to_pylist(), start=first):
        if cells:
            row = {k: _csv_value(v) if isinstance(v, str) and k not in RESERVED else v for k, v in row.items()}
        yield f"{path}:{line}", line, row


class _CsvText(str):
    """A CSV cell's text, and the type it spells (`kind`): what inference goes by; converting a
    value to its field's type reads the text itself (so a declared category keeps "007" or "a;b")."""

    kind: str


def _csv_value(value: str) -> Any:
    """A CSV cell: its text, marked with the type it spells (a number, `a;b` labels, a date, a label)."""
    v = value.strip()
    cell = _CsvText(v)
    if re.fullmatch(r"-?\d+", v) or re.fullmatch(r"-?\d*\.\d+([eE][-+]?\d+)?", v):
        cell.kind = "number"
    elif ";" in v:
        cell.kind = "categories"
    else:
        cell.kind = "date" if _DATE.match(v) else "category"
    return cell


def _folder_records(folder: Path) -> Iterator[tuple[str, int, Any]]:
    """(file, number, record) per `.txt` file below `folder` (links out of it are ignored), with
    its metadata row; a `title` in the metadata wins over the file's first line."""
    root = folder.resolve()
    meta = _metadata_table(folder)
    files = sorted(p for p in folder.rglob("*.txt") if p.resolve().is_relative_to(root))
    if not files:
        raise EmptyCorpusError(f"corpus folder {folder} holds no .txt files")
    for n, p in enumerate(files, start=1):
        doc_id = p.relative_to(folder).with_suffix("").as_posix()
        text = p.read_text(encoding="utf-8", errors="replace")
        title = text.strip().splitlines()[0][:200] if text.strip() else doc_id
        yield str(p), n, {"title": title, **meta.get(doc_id, {}), "id": doc_id, "text": text}


def _metadata_table(folder: Path) -> dict[str, dict]:
    """The metadata rows of a folder corpus by id (the .txt file's path below it, without .txt)."""
    for name in ("metadata.csv", "metadata.jsonl", "metadata.parquet"):
        path = folder / name
        if not path.exists():
            continue
        if name.endswith(".jsonl"):
            rows = _jsonl_records(path, None)
        elif name.endswith(".csv"):
            rows = _arrow_records(path, _read_csv(path), first=2, cells=True)
        else:
            import pyarrow.parquet as pq

            rows = _arrow_records(path, pq.read_table(path), first=1)
        out = {}
        for where, _, row in rows:
            key = (row.pop("id", None) or row.pop("file", None)) if isinstance(row, dict) else None
            if not key:
                raise CorpusError(f"{where}: a metadata row needs an id (the .txt file's path without .txt)")
            out[str(key).removesuffix(".txt")] = row
        return out
    return {}
