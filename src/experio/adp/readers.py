"""Streaming readers: JSONL (optionally .gz), Parquet, JSON arrays, one JSON object.

Everything iterates; memory stays bounded by one row (JSONL, JSON array) or one row group /
batch (Parquet). A row that does not parse is a `Row` with `error` set, not an exception, so a
run can put it in its rejects file and go on.

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "x.jsonl")
>>> _ = open(p, "w").write('{"id": "a"}\\n{oops\\n{"id": "b"}\\n')
>>> [(r.line, r.value, r.error is not None) for r in read_rows(p)]
[(1, {'id': 'a'}, False), (2, None, True), (3, {'id': 'b'}, False)]
"""

from __future__ import annotations

import gzip
import io
import json
import os
from dataclasses import dataclass
from typing import IO, Any, Iterator

import orjson

from experio.adp.errors import InputFormatError
from experio.errors import input_file

PARQUET_BATCH_ROWS = 2048
#: Parquet schema metadata key listing the columns stored as JSON text
JSON_COLUMNS_KEY = b"experio.json_columns"
#: rows per chunk handed to a worker by `read_chunks` (and its input-byte cap): small enough
#: that a chunk's output stays a few MB in every process, large enough that a worker round
#: trip per chunk is noise (benchmarks/adp_throughput.py, docs/adp.md "Performance")
CHUNK_ROWS = 256
CHUNK_BYTES = 4 << 20


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
    """``"jsonl"``, ``"parquet"``, ``"json"`` (an array) or ``"object"`` (one JSON object).

    ``.jsonl``/``.ndjson`` (optionally ``.gz``) is JSONL, ``.parquet`` Parquet; ``.json`` is
    a JSON array when it starts with ``[``, one object when its first line is not a whole
    JSON value (a pretty-printed file, e.g. one ATIF trajectory), else JSONL.
    """
    name = str(path).lower()
    base = name[:-3] if name.endswith(".gz") else name
    if base.endswith(".parquet"):
        return "parquet"
    if base.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if base.endswith(".json"):
        with open_bytes(path) as f:
            head = f.read(4096).lstrip()
            if head.startswith(b"["):
                return "json"
            f.seek(0)
            first = next((line for line in f if line.strip()), b"")
        try:
            orjson.loads(first)
        except orjson.JSONDecodeError:
            return "object" if first.lstrip().startswith(b"{") else "jsonl"
        return "jsonl"
    raise InputFormatError(f"{path}: unknown input format; use .jsonl, .jsonl.gz, .json (array) or .parquet")


def open_bytes(path: str | os.PathLike) -> IO[bytes]:
    """The file's bytes, gunzipped when its name ends in ``.gz``."""
    if str(path).lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def read_jsonl(path: str | os.PathLike, tolerate_truncated_tail: bool = False) -> Iterator[Row]:
    """Rows of a JSONL file; blank lines are skipped, bad lines yield an error Row.

    With ``tolerate_truncated_tail`` a last line without a newline that does not parse (a
    run killed mid-write) is dropped silently.
    """
    with open_bytes(path) as f:
        pending: tuple[int, bytes] | None = None
        for n, line in enumerate(f, 1):
            if pending is not None:
                yield parse_line(*pending)
                pending = None
            if not line.strip():
                continue
            pending = (n, line)
        if pending is not None:
            n, line = pending
            row = parse_line(n, line)
            if row.error and tolerate_truncated_tail and not line.endswith(b"\n"):
                return
            yield row


def parse_line(n: int, line: bytes) -> Row:
    """Line ``n`` of a JSONL file as a Row (an error Row, with the text, when it is not JSON)."""
    try:
        return Row(n, orjson.loads(line))
    except orjson.JSONDecodeError as e:
        text = line.decode("utf-8", "replace").rstrip("\n")
        return Row(n, None, f"invalid JSON: {e}", text[:2000])


def read_json_array(path: str | os.PathLike, chunk_size: int = 1 << 20) -> Iterator[Row]:
    """Elements of a top-level JSON array, decoded one at a time.

    The buffer holds at most one element plus one chunk, so memory stays flat for arrays of
    any length (an element itself must fit in memory). ``line`` is the element's 1-based
    index in the array. A malformed element ends the file: JSON gives no safe point to
    resynchronise inside an array.
    """
    dec = json.JSONDecoder()
    with open_bytes(path) as fb:
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


def read_json_object(path: str | os.PathLike) -> Iterator[Row]:
    """The one JSON object of a file (a pretty-printed trajectory) as row 1."""
    with open_bytes(path) as f:
        data = f.read()
    try:
        yield Row(1, orjson.loads(data))
    except orjson.JSONDecodeError as e:
        yield Row(1, None, f"invalid JSON: {e}", data[:2000].decode("utf-8", "replace"))


def read_parquet(path: str | os.PathLike, batch_rows: int = PARQUET_BATCH_ROWS) -> Iterator[Row]:
    """Rows of a Parquet file, read batch by batch; JSON-text columns are decoded."""
    for piece in _parquet_slices(path, batch_rows):
        yield from piece.rows()


def read_rows(path: str | os.PathLike, tolerate_truncated_tail: bool = False) -> Iterator[Row]:
    """Rows of any supported input, chosen by :func:`detect_format`.

    Raises at once (not on first use) for a missing input or a directory
    (``experio.errors.InputFileError``) and for an unknown format.
    """
    input_file(path)
    fmt = detect_format(path)
    if fmt == "parquet":
        return read_parquet(path)
    if fmt == "json":
        return read_json_array(path)
    if fmt == "object":
        return read_json_object(path)
    return read_jsonl(path, tolerate_truncated_tail)


# ------------------------------------------------------------------------------- chunks

#: an unparsed JSONL line with its 1-based line number, or a parsed row
ChunkItem = Any


@dataclass(slots=True)
class ParquetSlice:
    """A chunk of Parquet rows still in Arrow form: decoded by the worker, not the reader."""

    first_line: int
    batch: Any  # pyarrow.RecordBatch
    json_columns: tuple[str, ...]

    def __len__(self) -> int:
        return self.batch.num_rows

    def rows(self) -> Iterator[Row]:
        for n, rec in enumerate(self.batch.to_pylist(), self.first_line):
            for c in self.json_columns:
                if isinstance(rec.get(c), str):
                    rec[c] = orjson.loads(rec[c])
            yield Row(n, rec)


def read_chunks(
    path: str | os.PathLike, rows: int = CHUNK_ROWS, max_bytes: int = CHUNK_BYTES
) -> Iterator["list[ChunkItem] | ParquetSlice"]:
    """The input in chunks of at most ``rows`` rows (and about ``max_bytes`` of JSONL).

    JSONL lines stay unparsed ``(line, bytes)`` pairs, so parsing happens in whichever
    process handles the chunk (:func:`parse_chunk`); other formats give parsed :class:`Row`
    objects. Chunk boundaries depend only on the input, so every worker count cuts the same
    chunks. Raises at once (not on first use) for a missing or unknown input.
    """
    input_file(path)
    fmt = detect_format(path)
    if fmt == "jsonl":
        return _jsonl_chunks(path, rows, max_bytes)
    if fmt == "parquet":
        return _parquet_slices(path, rows)
    return _row_chunks(read_rows(path), rows)


def parse_chunk(chunk: "list[ChunkItem] | ParquetSlice") -> Iterator[Row]:
    """The rows of a chunk from :func:`read_chunks`, parsing JSONL lines."""
    if isinstance(chunk, ParquetSlice):
        yield from chunk.rows()
        return
    for item in chunk:
        yield parse_line(*item) if isinstance(item, tuple) else item


def _parquet_slices(path: str | os.PathLike, rows: int) -> Iterator[ParquetSlice]:
    import pyarrow.parquet as pq

    release_arrow_memory_promptly()
    pf = pq.ParquetFile(path, buffer_size=1 << 20)
    meta = pf.schema_arrow.metadata or {}
    json_cols = tuple(orjson.loads(meta[JSON_COLUMNS_KEY])) if JSON_COLUMNS_KEY in meta else ()
    n = 1
    for batch in pf.iter_batches(batch_size=rows):
        yield ParquetSlice(n, batch, json_cols)
        n += batch.num_rows


def _jsonl_chunks(path: str | os.PathLike, rows: int, max_bytes: int) -> Iterator[list[ChunkItem]]:
    with open_bytes(path) as f:
        chunk: list[ChunkItem] = []
        size = 0
        for n, line in enumerate(f, 1):
            if not line or line.isspace():  # blank lines are skipped, as by read_jsonl
                continue
            chunk.append((n, line))
            size += len(line)
            if len(chunk) >= rows or size >= max_bytes:
                yield chunk
                chunk, size = [], 0
        if chunk:
            yield chunk


def _row_chunks(it: Iterator[Row], rows: int) -> Iterator[list[ChunkItem]]:
    chunk: list[ChunkItem] = []
    for row in it:
        chunk.append(row)
        if len(chunk) >= rows:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def has_at_least_rows(path: str | os.PathLike, n: int) -> bool:
    """Whether the input holds ``n`` rows or more, reading no more than needed.

    JSONL counts newlines (blank lines included: an estimate is enough), Parquet reads its
    footer, a JSON array is judged by size (1 kB a row), a single object is one row.
    """
    fmt = detect_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows >= n
    if fmt == "json":
        return os.path.getsize(path) >= n * 1024
    if fmt == "object":
        return n <= 1
    lines = 0
    with open_bytes(path) as f:
        while lines < n:
            block = f.read(1 << 20)
            if not block:
                return False
            lines += block.count(b"\n")
    return True


# ------------------------------------------------------------------------ Arrow memory

def release_arrow_memory_promptly() -> None:
    """Make Arrow's jemalloc pool return freed memory at once (keeps RSS flat)."""
    import pyarrow as pa

    try:
        pa.jemalloc_set_decay(0)
    except (NotImplementedError, AttributeError, OSError):  # other allocators: nothing to do
        pass


def release_arrow_memory() -> None:
    """Hand memory freed by Arrow back to the OS now.

    Arrow's default pool (mimalloc or jemalloc, by platform) keeps freed pages for reuse;
    with row groups of a few MB written one after another that cache, not the data, is what
    made the RSS of a Parquet run grow. Called after each row group is written and before
    each chunk is built.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
