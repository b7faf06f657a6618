"""Streaming readers and writers: JSONL (optionally .gz), Parquet, JSON arrays.

Everything iterates; memory stays bounded by one row (JSONL, JSON array) or
one row group / batch (Parquet).

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "x.jsonl")
>>> with RowWriter(p) as w:
...     w.write({"id": "a"}); w.write({"id": "b"})
>>> [r.value["id"] for r in read_rows(p)]
['a', 'b']
"""

from __future__ import annotations

import gzip
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

import orjson

PARQUET_BATCH_ROWS = 2048
PARQUET_BATCH_BYTES = 16 << 20  # flush a row group at ~16 MB of text, whatever the row count
_SIZE_SAMPLE = 16  # estimate the buffered size from one row in this many
_JSON_COLUMNS_KEY = b"experio.json_columns"


class InputFormatError(ValueError):
    """The input file cannot be read as any supported format."""


@dataclass(slots=True)
class Row:
    """One input row: its 1-based ``line`` (JSONL line, array element, Parquet row).

    ``value`` is the parsed object, or None with ``error`` saying why not.
    """

    line: int
    value: Any
    error: str | None = None
    raw: str | None = None


def detect_format(path: str | os.PathLike) -> str:
    """``"jsonl"``, ``"parquet"`` or ``"json"`` from the file name (and first byte).

    ``.jsonl``/``.ndjson`` (optionally ``.gz``) is JSONL, ``.parquet`` Parquet;
    ``.json`` is a JSON array when it starts with ``[``, else JSONL.
    """
    name = str(path).lower()
    base = name[:-3] if name.endswith(".gz") else name
    if base.endswith(".parquet"):
        return "parquet"
    if base.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if base.endswith(".json"):
        with _open_bytes(path) as f:
            head = f.read(4096).lstrip()
        return "json" if head.startswith(b"[") else "jsonl"
    raise InputFormatError(
        f"{path}: unknown input format; use .jsonl, .jsonl.gz, .json (array) or .parquet"
    )


def _open_bytes(path: str | os.PathLike) -> IO[bytes]:
    if str(path).lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def read_jsonl(path: str | os.PathLike, tolerate_truncated_tail: bool = False) -> Iterator[Row]:
    """Rows of a JSONL file; blank lines are skipped, bad lines yield an error Row.

    With ``tolerate_truncated_tail`` a last line without a newline that does not
    parse (a run killed mid-write) is dropped silently.
    """
    with _open_bytes(path) as f:
        pending: tuple[int, bytes] | None = None
        for n, line in enumerate(f, 1):
            if pending is not None:
                yield _parse_line(*pending)
                pending = None
            if not line.strip():
                continue
            pending = (n, line)
        if pending is not None:
            n, line = pending
            row = _parse_line(n, line)
            if row.error and tolerate_truncated_tail and not line.endswith(b"\n"):
                return
            yield row


def _parse_line(n: int, line: bytes) -> Row:
    try:
        return Row(n, orjson.loads(line))
    except orjson.JSONDecodeError as e:
        text = line.decode("utf-8", "replace").rstrip("\n")
        return Row(n, None, f"invalid JSON: {e}", text[:2000])


def read_json_array(path: str | os.PathLike, chunk_size: int = 1 << 20) -> Iterator[Row]:
    """Elements of a top-level JSON array, decoded one at a time.

    The buffer holds at most one element plus one chunk, so memory stays flat
    for arrays of any length (an element itself must fit in memory). ``line`` is
    the element's 1-based index in the array. A malformed element ends the
    file: JSON gives no safe point to resynchronise inside an array.
    """
    dec = json.JSONDecoder()
    with _open_bytes(path) as fb:
        f = io.TextIOWrapper(fb, encoding="utf-8")
        buf = f.read(chunk_size).lstrip()
        if not buf.startswith("["):
            raise InputFormatError(f"{path}: a .json input must be a JSON array")
        pos, index, eof, want = 1, 0, False, chunk_size
        while True:
            while True:  # skip whitespace and commas between elements
                while pos < len(buf) and buf[pos] in " \t\r\n,":
                    pos += 1
                if pos < len(buf) or eof:
                    break
                more = f.read(chunk_size)
                eof = not more
                buf, pos = buf[pos:] + more, 0
            if pos >= len(buf):
                yield Row(index + 1, None, "unexpected end of file: the array is not closed")
                return
            if buf[pos] == "]":
                return
            try:
                value, end = dec.raw_decode(buf, pos)
            except json.JSONDecodeError as e:
                if eof:
                    yield Row(index + 1, None, f"invalid JSON in array element: {e.msg}")
                    return
                more = f.read(want)
                want *= 2  # grow geometrically so a huge element is re-parsed O(log n) times
                eof = not more
                buf, pos = buf[pos:] + more, 0
                continue
            index += 1
            want = chunk_size
            yield Row(index, value)
            buf, pos = buf[end:], 0


def read_parquet(path: str | os.PathLike, batch_rows: int = PARQUET_BATCH_ROWS) -> Iterator[Row]:
    """Rows of a Parquet file, read batch by batch; JSON-text columns are decoded."""
    import pyarrow.parquet as pq

    _release_arrow_memory_promptly()
    pf = pq.ParquetFile(path, buffer_size=1 << 20)
    meta = pf.schema_arrow.metadata or {}
    json_cols = set(orjson.loads(meta[_JSON_COLUMNS_KEY])) if _JSON_COLUMNS_KEY in meta else set()
    n = 0
    for batch in pf.iter_batches(batch_size=batch_rows):
        for rec in batch.to_pylist():
            n += 1
            for c in json_cols:
                if isinstance(rec.get(c), str):
                    rec[c] = orjson.loads(rec[c])
            yield Row(n, rec)


def read_rows(path: str | os.PathLike, tolerate_truncated_tail: bool = False) -> Iterator[Row]:
    """Rows of any supported input, chosen by :func:`detect_format`."""
    if not Path(path).exists():
        raise FileNotFoundError(f"input not found: {path}")
    fmt = detect_format(path)
    if fmt == "parquet":
        return read_parquet(path)
    if fmt == "json":
        return read_json_array(path)
    return read_jsonl(path, tolerate_truncated_tail)


def iter_values(path: str | os.PathLike) -> Iterator[Any]:
    """Parsed values only; raises InputFormatError on the first unreadable row."""
    for row in read_rows(path):
        if row.error:
            raise InputFormatError(f"{path}:{row.line}: {row.error}")
        yield row.value


def _release_arrow_memory_promptly() -> None:
    """Make Arrow's jemalloc pool return freed memory at once (keeps RSS flat)."""
    import pyarrow as pa

    try:
        pa.jemalloc_set_decay(0)
    except (NotImplementedError, AttributeError, OSError):  # other allocators: nothing to do
        pass


# --------------------------------------------------------------------------- writing


def output_format(path: str | os.PathLike) -> str:
    name = str(path).lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json")):
        return "jsonl"
    raise InputFormatError(f"{path}: unknown output format; use .jsonl, .jsonl.gz or .parquet")


class RowWriter:
    """Write dict rows to JSONL (``.jsonl``, ``.jsonl.gz``) or Parquet.

    Parquet rows are buffered into row groups of at most ``batch_rows`` rows
    and about ``PARQUET_BATCH_BYTES`` of text, so memory stays bounded even
    for large rows (OpenHands rows carry an 18 kB system prompt); columns named
    in ``json_columns`` are stored as JSON text (for heterogeneous values such
    as ADP ``content``) and decoded again by :func:`read_parquet`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        json_columns: tuple[str, ...] = (),
        batch_rows: int = PARQUET_BATCH_ROWS,
    ) -> None:
        self.path = Path(path)
        self.format = output_format(path)
        self.json_columns = tuple(json_columns)
        self.batch_rows = batch_rows
        self.count = 0
        self._buf: list[dict] = []
        self._buf_bytes = 0
        self._pq_writer = None
        self._schema = None
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.format == "jsonl":
            if str(path).lower().endswith(".gz"):
                self._fh: IO[bytes] = gzip.open(self.path, "wb", compresslevel=5)  # type: ignore[assignment]
            else:
                self._fh = open(self.path, "wb", buffering=1 << 20)

    def write(self, row: dict) -> None:
        self.count += 1
        if self.format == "jsonl":
            self._fh.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
            return
        if self.json_columns:
            row = dict(row)
            for c in self.json_columns:
                if c in row:
                    row[c] = orjson.dumps(row[c]).decode()
        self._buf.append(row)
        if self.count % _SIZE_SAMPLE == 1 or _SIZE_SAMPLE == 1:  # sizing every row costs ~10%
            self._buf_bytes += _approx_size(row) * _SIZE_SAMPLE
        if len(self._buf) >= self.batch_rows or self._buf_bytes >= PARQUET_BATCH_BYTES:
            self._flush_parquet()

    def _flush_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._buf:
            return
        if self._schema is None:
            _release_arrow_memory_promptly()
            table = pa.Table.from_pylist(self._buf)
            meta = {_JSON_COLUMNS_KEY: orjson.dumps(list(self.json_columns))}
            self._schema = table.schema.with_metadata(meta)
            table = table.replace_schema_metadata(meta)
            self._pq_writer = pq.ParquetWriter(self.path, self._schema, compression="zstd")
        else:
            table = pa.Table.from_pylist(self._buf, schema=self._schema)
        self._pq_writer.write_table(table)  # type: ignore[union-attr]
        self._buf = []
        self._buf_bytes = 0

    def close(self) -> None:
        if self.format == "jsonl":
            self._fh.close()
            return
        self._flush_parquet()
        if self._pq_writer is None:  # no rows: still leave a valid (empty) file
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({}), self.path)
        else:
            self._pq_writer.close()

    def __enter__(self) -> "RowWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _approx_size(x: Any) -> int:
    """Rough in-memory text size of a JSON-like value (for row-group sizing)."""
    if isinstance(x, str):
        return len(x)
    if isinstance(x, dict):
        return 16 * len(x) + sum(_approx_size(v) for v in x.values())
    if isinstance(x, list):
        return 8 * len(x) + sum(_approx_size(v) for v in x)
    return 8


def write_rows(path: str | os.PathLike, rows: Any, json_columns: tuple[str, ...] = ()) -> int:
    """Write an iterable of dicts; returns the number written."""
    with RowWriter(path, json_columns=json_columns) as w:
        for r in rows:
            w.write(r)
    return w.count
