"""Streaming writers: JSONL (optionally .gz) and Parquet, under a temporary name until complete.

A `RowWriter` writes beside its output under a hidden temporary name and renames it into
place only when closed without an error, so a failed or interrupted run never leaves a
half-written file under the output's name (and an older file there survives).

>>> import tempfile, os
>>> from experio.adp.readers import read_rows
>>> p = os.path.join(tempfile.mkdtemp(), "x.jsonl")
>>> with RowWriter(p) as w:
...     w.write({"id": "a"}); w.write({"id": "b"})
>>> [r.value["id"] for r in read_rows(p)]
['a', 'b']
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import IO, Any

import orjson

from experio.adp.errors import InputFormatError
from experio.adp.readers import (
    JSON_COLUMNS_KEY,
    PARQUET_BATCH_ROWS,
    release_arrow_memory,
    release_arrow_memory_promptly,
)

#: flush a Parquet row group at about this much text, whatever the row count
PARQUET_BATCH_BYTES = 8 << 20
#: estimate the buffered size from one row in this many (sizing every row is costly)
SIZE_SAMPLE = 16


def output_format(path: str | os.PathLike) -> str:
    """``"jsonl"`` or ``"parquet"`` from an output's name (InputFormatError for any other)."""
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
    for large rows (OpenHands rows carry a long system prompt); columns named
    in ``json_columns`` are stored as JSON text (for heterogeneous values such
    as ADP ``content``) and decoded again by :func:`experio.adp.readers.read_parquet`.

    The file is written under a temporary name beside ``path`` and renamed to
    ``path`` only by a successful :meth:`close`; a run that fails or is
    interrupted (the ``with`` block exits with an exception) removes the
    temporary file, so ``path`` never holds a half-written output and an older
    file there survives a failed run.
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
        self._closed = False
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp_path = temporary_name(self.path)
        if self.format == "jsonl":
            if str(path).lower().endswith(".gz"):
                self._fh: IO[bytes] = gzip.open(self.tmp_path, "wb", compresslevel=5)  # type: ignore[assignment]
            else:
                self._fh = open(self.tmp_path, "wb", buffering=1 << 20)

    @property
    def schema(self):  # noqa: ANN201 - pyarrow.Schema or None
        """The Parquet schema once the first row group is written (None before, and for JSONL)."""
        return self._schema

    def write(self, row: dict) -> None:
        self.count += 1
        if self.format == "jsonl":
            self._fh.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
            return
        row = encode_json_columns(row, self.json_columns)
        self._buf.append(row)
        if self.count % SIZE_SAMPLE == 1 or SIZE_SAMPLE == 1:
            self._buf_bytes += _approx_size(row) * SIZE_SAMPLE
        if len(self._buf) >= self.batch_rows or self._buf_bytes >= PARQUET_BATCH_BYTES:
            self._flush_parquet()

    def write_jsonl_lines(self, lines: list[bytes]) -> None:
        """Append rows already serialised as JSONL lines (by a worker), one row each."""
        if self.format != "jsonl":
            raise InputFormatError(f"{self.path}: JSONL lines cannot be written to a {self.format} file")
        self._fh.writelines(lines)
        self.count += len(lines)

    def append_jsonl_file(self, path: str | os.PathLike, rows: int) -> None:
        """Append a file of ``rows`` JSONL lines (a worker's part file) to a plain JSONL output,
        copied in the kernel where it can be."""
        if self.format != "jsonl" or isinstance(self._fh, gzip.GzipFile):
            raise InputFormatError(f"{self.path}: a part file can only be appended to a plain JSONL output")
        self._fh.flush()
        out = self._fh.fileno()
        with open(path, "rb") as src:
            left = os.fstat(src.fileno()).st_size
            try:
                while left > 0:
                    n = os.copy_file_range(src.fileno(), out, left)
                    if n == 0:
                        break
                    left -= n
            except (AttributeError, OSError):  # not Linux, or a file system without it
                src.seek(os.fstat(src.fileno()).st_size - left)
                self._fh.write(src.read())
        self.count += rows

    def write_table(self, table) -> None:  # noqa: ANN001 - pyarrow.Table
        """Write a table built by :func:`parquet_tables` as one row group."""
        if self.format != "parquet":
            raise InputFormatError(f"{self.path}: a table cannot be written to a {self.format} file")
        self._flush_parquet()  # keep row order if single rows were buffered before
        self._write_table(table)
        self.count += table.num_rows

    def _flush_parquet(self) -> None:
        if not self._buf:
            return
        for table in parquet_tables(self._buf, self.json_columns, self._schema, encoded=True):
            self._write_table(table)
        self._buf = []
        self._buf_bytes = 0

    def _write_table(self, table) -> None:  # noqa: ANN001
        import pyarrow.parquet as pq

        if self._pq_writer is None:
            self._schema = table.schema
            self._pq_writer = pq.ParquetWriter(self.tmp_path, self._schema, compression="zstd")
        self._pq_writer.write_table(table)  # type: ignore[union-attr]
        release_arrow_memory()

    def close(self) -> None:
        """Finish the file and move it to its final name."""
        if self._closed:
            return
        self._closed = True
        if self.format == "jsonl":
            self._fh.close()
        else:
            self._flush_parquet()
            if self._pq_writer is None:  # no rows: still leave a valid (empty) file
                import pyarrow as pa
                import pyarrow.parquet as pq

                pq.write_table(pa.table({}), self.tmp_path)
            else:
                self._pq_writer.close()
        os.replace(self.tmp_path, self.path)

    def abort(self) -> None:
        """Drop the partial output: close the handles and remove the temporary file."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.format == "jsonl":
                self._fh.close()
            elif self._pq_writer is not None:
                self._pq_writer.close()
        finally:
            if os.path.exists(self.tmp_path):
                os.remove(self.tmp_path)

    def __enter__(self) -> "RowWriter":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def temporary_name(path: Path) -> Path:
    """``DIR/.NAME.PID.tmp``: same folder (so the final rename is atomic), hidden, unique per process."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def encode_json_columns(row: dict, json_columns: tuple[str, ...]) -> dict:
    """A copy of ``row`` with the ``json_columns`` values as JSON text (for Parquet)."""
    if not json_columns:
        return row
    row = dict(row)
    for c in json_columns:
        if c in row:
            row[c] = orjson.dumps(row[c]).decode()
    return row


def parquet_tables(
    rows: list[dict],
    json_columns: tuple[str, ...] = (),
    schema=None,  # noqa: ANN001 - pyarrow.Schema
    encoded: bool = False,
    max_bytes: int = PARQUET_BATCH_BYTES,
) -> list:
    """Arrow tables (one Parquet row group each) holding ``rows`` in order.

    Rows are cut into tables of about ``max_bytes`` of text, so a row group
    stays small whatever the row size. Without ``schema`` it is inferred from
    the first table and used for the rest; the schema carries the names of the
    JSON-text columns for :func:`experio.adp.readers.read_parquet`. ``encoded`` says the JSON
    columns are already text. Deterministic in ``rows``: the same rows give the
    same tables in a worker process as in the writing one.
    """
    release_arrow_memory_promptly()
    if not encoded:
        rows = [encode_json_columns(r, json_columns) for r in rows]
    tables, start, size = [], 0, 0
    for i, row in enumerate(rows):
        if (i - start) % SIZE_SAMPLE == 0:
            size += _approx_size(row) * SIZE_SAMPLE
        if size >= max_bytes or i + 1 == len(rows):
            tables.append(_table(rows[start : i + 1], json_columns, schema))
            schema = tables[-1].schema
            start, size = i + 1, 0
    return tables


def write_arrow_tables(path: str | os.PathLike, tables: list) -> None:
    """Tables of one schema as an Arrow IPC file (a worker's Parquet part, one batch per table)."""
    import pyarrow as pa

    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, tables[0].schema) as w:
        for t in tables:
            w.write_batch(t.combine_chunks().to_batches()[0] if t.num_rows else pa.record_batch([], schema=t.schema))


def read_arrow_tables(path: str | os.PathLike) -> list:
    """The tables :func:`write_arrow_tables` wrote, memory-mapped (no copy, no decoding)."""
    import pyarrow as pa

    with pa.memory_map(str(path)) as src:
        reader = pa.ipc.open_file(src)
        return [pa.Table.from_batches([reader.get_batch(i)]) for i in range(reader.num_record_batches)]


def _table(rows: list[dict], json_columns: tuple[str, ...], schema):  # noqa: ANN001, ANN202
    """An Arrow table of ``rows``, built column by column (the semantics of
    ``pa.Table.from_pylist``: names from the schema, else from the first row; a missing
    key is null), which is faster than ``from_pylist`` for OpenHands rows (docs/adp.md)."""
    import pyarrow as pa

    if schema is not None:
        columns = [pa.array([r.get(f.name) for r in rows], f.type) for f in schema]
        return pa.Table.from_arrays(columns, schema=schema)
    names = list(rows[0]) if rows else []
    table = pa.Table.from_arrays([pa.array([r.get(n) for r in rows]) for n in names], names=names)
    return table.replace_schema_metadata({JSON_COLUMNS_KEY: orjson.dumps(list(json_columns))})


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
