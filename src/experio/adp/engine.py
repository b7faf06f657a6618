"""The chunked engine under `convert_file` and `export_file`: rows in, outputs and rejects out.

The input is cut into chunks (`experio.adp.readers.read_chunks`); `process_chunk` parses,
converts and/or exports, validates and serialises one chunk, in this process or in a
worker (`experio.adp.parallel.OrderedPool`); only the calling process writes: the outputs
(under a temporary name until complete), the rejects file and the balance. Every row ends
as a `RowResult`: output rows, or a reason to reject it.

    >>> from experio.adp.readers import Row
    >>> job = Job("export", "trl", dataset=None)
    >>> [r.reason for r in outcomes(job, [Row(1, None, "invalid JSON: x", "{x")])]
    ['invalid JSON: x']
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson
from pydantic import ValidationError

from experio.adp.atif import from_atif, is_atif
from experio.adp.converters import Converter, get_converter
from experio.adp.errors import ATIFError, SchemaVersionError
from experio.adp.exporters import ExportContext, get_exporter
from experio.adp.parallel import OrderedPool
from experio.adp.readers import ParquetSlice, Row, parse_chunk, read_rows, release_arrow_memory
from experio.adp.schema import RELEASE, Trajectory, check_version, to_wire
from experio.adp.summary import ProgressFn, RunSummary
from experio.adp.writers import RowWriter, output_format, parquet_tables, read_arrow_tables, write_arrow_tables
from experio.errors import UsageError, unknown_name
from experio.runs import RejectsFile

#: ADP columns stored as JSON text in Parquet (their items are heterogeneous)
ADP_JSON_COLUMNS = ("content", "details")
#: what an input of `export` / `validate` holds: ADP rows, ATIF rows, or either (by shape)
INPUT_FORMATS = ("auto", "adp", "atif")


@dataclass(frozen=True)
class Job:
    """What a worker needs to process a chunk (picklable: names, not objects)."""

    action: str  # "convert" or "export"
    name: str  # converter or exporter name
    version: str = RELEASE
    dataset: str | None = None  # export: the tool registry
    json_columns: tuple[str, ...] = ()
    export_to: str | None = None  # convert: export each trajectory at once (one pass)
    with_adp: bool = False  # one pass: also return the ADP rows
    input_format: str = "auto"  # export: "adp", "atif" or "auto"
    output: str = "jsonl"  # "jsonl" or "parquet"
    schema: Any = None  # Parquet: the file's schema, once the first rows fixed it
    adp_output: str = "jsonl"  # one pass with ADP kept: that file's format and schema
    adp_schema: Any = None
    parts_dir: str | None = None  # workers write the output's results here, not through the pipe
    adp_parts_dir: str | None = None  # the same for the ADP output (None: through the pipe)


@dataclass(slots=True)
class RowResult:
    """What became of one input row (several, for a converter that joins rows).

    ``rows`` are the output rows, None when the row is rejected with ``reason`` (``raw``
    is what the rejects file keeps of it); ``adp`` is the ADP row a one-pass run keeps.
    """

    lines: tuple[int, ...]
    rows: list[dict] | None = None
    adp: dict | None = None
    reason: str | None = None
    raw: Any = None


@dataclass(slots=True)
class Converted:
    """One converted trajectory (``value`` its wire dict) or a rejected row (``reason``)."""

    lines: tuple[int, ...]
    trajectory: Trajectory | None = None
    value: dict | None = None
    reason: str | None = None
    raw: Any = None


@dataclass
class Encoded:
    """Rows ready to append to one output: JSONL lines or pyarrow Tables."""

    jsonl: list[bytes] = field(default_factory=list)  # one line each (joining would copy)
    tables: list = field(default_factory=list)  # one row group each
    part: str | None = None  # or: a file of JSONL lines written by a worker (``part_rows`` of them)
    part_rows: int = 0


@dataclass
class ChunkResult:
    """A processed chunk: counts, rejected rows, and the output(s) ready to append."""

    rows_in: int = 0
    rows_ok: int = 0
    rows_out: int = 0
    rejects: list[RowResult] = field(default_factory=list)
    out: Encoded = field(default_factory=Encoded)
    adp: Encoded = field(default_factory=Encoded)  # one pass with ADP kept


def short(e: Exception) -> str:
    """A reject reason: the first schema error with its field path, else ``Type: message``."""
    if isinstance(e, ValidationError):
        errs = e.errors()
        loc = ".".join(str(p) for p in errs[0]["loc"])
        more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
        return f"schema: {loc}: {errs[0]['msg']}{more}"
    return f"{type(e).__name__}: {e}"


def usable_workers(workers: int, plugin: object) -> int:
    """``workers``, or 1 for a converter/exporter defined outside experio.adp:
    a worker process imports the registries afresh and would not know it."""
    if not isinstance(workers, int) or workers < 1:
        raise UsageError(f"workers must be a positive integer, got {workers!r}")
    fn = getattr(plugin, "_fn", None)  # FunctionConverter wraps a function
    module = (fn or type(plugin)).__module__
    return workers if module.startswith("experio.adp.") else 1


def groups_rows(converter: Converter) -> bool:
    """Whether a converter joins consecutive rows (its groups may cross chunk boundaries)."""
    return type(converter).stream is not Converter.stream


# --------------------------------------------------------------------------- row outcomes

def validated(dataset: str, rows: Iterable[Row], version: str) -> Iterator[Converted]:
    """Convert raw rows with ``dataset``'s converter and validate each result once.

    In the release form the converter's dict (already in wire form) is kept as is.
    """
    check_version(version)
    for oc in get_converter(dataset).stream(rows):
        if oc.value is None:
            yield Converted(oc.lines, reason=oc.error, raw=oc.raw)
            continue
        try:
            traj = Trajectory.model_validate(oc.value)
            value = oc.value if version == RELEASE else to_wire(traj, version)
        except (ValidationError, SchemaVersionError) as e:
            yield Converted(oc.lines, reason=short(e), raw=oc.raw)
            continue
        yield Converted(oc.lines, traj, value)


def adp_value(value: Any, input_format: str = "auto") -> Any:
    """An input row as ADP: an ATIF row is converted (``input_format`` "auto" or "atif")."""
    if input_format == "adp":
        return value
    if is_atif(value):
        return from_atif(value)
    if input_format == "atif":
        raise ATIFError("not an ATIF trajectory (no steps list, or an ADP content list)")
    return value


def outcomes(job: Job, rows: Iterable[Row]) -> Iterator[RowResult]:
    """What ``job`` makes of each row: convert, export, or convert and export (one pass)."""
    if job.action == "export":
        yield from _exported(job, rows)
        return
    if job.export_to is None:
        for c in validated(job.name, rows, job.version):
            yield RowResult(c.lines, None if c.value is None else [c.value], reason=c.reason, raw=c.raw)
        return
    exporter = get_exporter(job.export_to)
    ctx = ExportContext(job.name)
    for c in validated(job.name, rows, job.version):
        if c.trajectory is None:
            yield RowResult(c.lines, reason=c.reason, raw=c.raw)
            continue
        try:
            out = exporter.export(c.trajectory, ctx)
        except Exception as e:  # noqa: BLE001 - any failure rejects the row
            yield RowResult(c.lines, reason="export: " + short(e), raw=c.value)
            continue
        yield RowResult(c.lines, out, c.value if job.with_adp else None)


def _exported(job: Job, rows: Iterable[Row]) -> Iterator[RowResult]:
    exporter = get_exporter(job.name)
    ctx = ExportContext(job.dataset)
    for row in rows:
        if row.error is not None:
            yield RowResult((row.line,), reason=row.error, raw=row.raw)
            continue
        try:
            traj = Trajectory.model_validate(adp_value(row.value, job.input_format))
            out = exporter.export(traj, ctx)
        except Exception as e:  # noqa: BLE001 - any failure rejects the row
            yield RowResult((row.line,), reason=short(e), raw=row.value)
            continue
        yield RowResult((row.line,), out)


# ------------------------------------------------------------------------------ chunks

def process_chunk(job: Job, chunk: "list | ParquetSlice") -> ChunkResult:
    """Parse, convert and/or export, validate and serialise one chunk (runs in a worker)."""
    res = ChunkResult()
    out: list[dict] = []
    adp_rows: list[dict] = []
    for r in outcomes(job, parse_chunk(chunk)):
        res.rows_in += len(r.lines)
        if r.rows is None:
            res.rejects.append(r)
            continue
        out.extend(r.rows)
        if r.adp is not None:
            adp_rows.append(r.adp)
        res.rows_ok += len(r.lines)
        res.rows_out += len(r.rows)
    res.out = encode(out, job.output, job.json_columns, job.schema, job.parts_dir)
    if job.with_adp:
        res.adp = encode(adp_rows, job.adp_output, ADP_JSON_COLUMNS, job.adp_schema, job.adp_parts_dir)
    return res


def encode(
    rows: list[dict], fmt: str, json_columns: tuple[str, ...], schema: Any, parts_dir: str | None = None
) -> Encoded:
    """Serialise a chunk's rows for one output. In a worker (``parts_dir`` set) the result
    goes to a part file, so the calling process only copies bytes: passing large rows
    through the pool's pipe cost the parent as much CPU as a worker's whole conversion of
    the row (measured in docs/adp.md, "Performance")."""
    if fmt == "parquet":
        release_arrow_memory()  # what the previous chunk's tables used
        tables = parquet_tables(rows, json_columns, schema) if rows else []
        if parts_dir is None or not tables:
            return Encoded(tables=tables)
        fd, part = tempfile.mkstemp(suffix=".arrow", dir=parts_dir)
        os.close(fd)
        write_arrow_tables(part, tables)  # Arrow IPC: the parent maps it, no decoding
        return Encoded(part=part, part_rows=len(rows))
    lines = [orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows]
    if parts_dir is None or not lines:
        return Encoded(jsonl=lines)
    fd, part = tempfile.mkstemp(suffix=".jsonl", dir=parts_dir)
    with os.fdopen(fd, "wb") as f:
        f.writelines(lines)
    return Encoded(part=part, part_rows=len(lines))


def _parts_dir(output: str | os.PathLike, adp_output: str | os.PathLike | None, workers: int) -> Path | None:
    """A hidden folder beside the output for the workers' part files (more than one worker
    and an output that is not gzip: a gzip stream is compressed by the writer, from the pipe)."""
    if workers < 2 or not any(_takes_parts(p) for p in (output, adp_output)):
        return None
    folder = Path(output).parent
    folder.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{Path(output).name}.parts.", dir=folder))


def _takes_parts(path: str | os.PathLike | None) -> bool:
    """Whether an output can be assembled from part files (any but gzip and none)."""
    return path is not None and not str(path).lower().endswith(".gz")


# -------------------------------------------------------------------------------- runs

class _Sink:
    """The calling process's side of a run: the writer(s), the rejects file and the balance."""

    def __init__(self, stack: ExitStack, job: Job, output: str | os.PathLike,
                 adp_output: str | os.PathLike | None, rejects: RejectsFile, summary: RunSummary,
                 progress: ProgressFn | None) -> None:
        self.w = stack.enter_context(RowWriter(output, json_columns=job.json_columns))
        self.w_adp = None if adp_output is None else stack.enter_context(
            RowWriter(adp_output, json_columns=ADP_JSON_COLUMNS))
        self.rejects, self.summary, self.progress = rejects, summary, progress

    def reject(self, r: RowResult) -> None:
        self.rejects.add(r.lines, r.reason or "unknown error", r.raw)

    def write_chunk(self, res: ChunkResult) -> None:
        for r in res.rejects:
            self.reject(r)
        _append(self.w, res.out)
        if self.w_adp is not None:
            _append(self.w_adp, res.adp)
        self.summary.rows_in += res.rows_in
        self.summary.rows_ok += res.rows_ok
        self.summary.rows_out += res.rows_out
        if self.progress is not None:
            self.progress(res.rows_in)


def _finish(summary: RunSummary, rejects: RejectsFile, t0: float) -> RunSummary:
    rejects.commit()
    summary.rejected, summary.reasons = rejects.count, dict(rejects.reasons)
    summary.seconds = time.perf_counter() - t0
    return summary


def run_streaming(
    job: Job, input: str | os.PathLike, output: str | os.PathLike, adp_output: str | os.PathLike | None,
    summary: RunSummary, progress: ProgressFn | None,
) -> RunSummary:
    """Row by row in this process, for converters that join rows (groups cross chunk boundaries)."""
    t0 = time.perf_counter()
    rows = read_rows(input)
    rejects = RejectsFile(output)
    try:
        with ExitStack() as stack:
            sink = _Sink(stack, job, output, adp_output, rejects, summary, None)
            for r in outcomes(job, _counting(rows, summary, progress)):
                if r.rows is None:
                    sink.reject(r)
                    continue
                for v in r.rows:
                    sink.w.write(v)
                if sink.w_adp is not None and r.adp is not None:
                    sink.w_adp.write(r.adp)
                summary.rows_ok += len(r.lines)
                summary.rows_out += len(r.rows)
    except BaseException:
        rejects.abort()
        raise
    return _finish(summary, rejects, t0)


def _counting(rows: Iterable[Row], summary: RunSummary, progress: ProgressFn | None) -> Iterator[Row]:
    for row in rows:
        summary.rows_in += 1
        if progress is not None:
            progress(1)
        yield row


def run_chunked(
    job: Job, chunks: Iterator, output: str | os.PathLike, adp_output: str | os.PathLike | None,
    summary: RunSummary, progress: ProgressFn | None, workers: int,
) -> RunSummary:
    """Process chunks in ``workers`` processes, write the results here in input order.

    Only this process writes: the output(s) (under a temporary name until complete) and
    the rejects file. An exception or Ctrl-C stops the workers and leaves none of them
    behind under its final name.
    """
    t0 = time.perf_counter()
    job = replace(job, output=output_format(output),
                  adp_output=output_format(adp_output) if adp_output is not None else "jsonl")
    rejects = RejectsFile(output)
    parts = _parts_dir(output, adp_output, workers)
    try:
        with ExitStack() as stack:
            if parts is not None:
                stack.callback(shutil.rmtree, parts, ignore_errors=True)
                job = replace(job, parts_dir=str(parts) if _takes_parts(output) else None,
                              adp_parts_dir=str(parts) if _takes_parts(adp_output) else None)
            sink = _Sink(stack, job, output, adp_output, rejects, summary, progress)
            pool = stack.enter_context(OrderedPool(workers))
            job = _fix_parquet_schemas(job, chunks, sink)
            for res in pool.map(process_chunk, job, chunks):
                sink.write_chunk(res)
    except BaseException:
        rejects.abort()
        raise
    return _finish(summary, rejects, t0)


def _fix_parquet_schemas(job: Job, chunks: Iterator, sink: _Sink) -> Job:
    """Process chunks here until every Parquet output's schema is known (it is inferred
    from the first rows written); later chunks, wherever processed, are built with it, so
    the files are the same for every worker count."""
    writers = [x for x in (sink.w, sink.w_adp) if x is not None and x.format == "parquet"]
    if not writers:
        return job
    for chunk in chunks:
        sink.write_chunk(process_chunk(job, chunk))
        if all(x.schema is not None for x in writers):
            break
    return replace(job, schema=sink.w.schema, adp_schema=sink.w_adp.schema if sink.w_adp is not None else None)


def _append(w: RowWriter, enc: Encoded) -> None:
    for table in enc.tables:
        w.write_table(table)
    if enc.jsonl:
        w.write_jsonl_lines(enc.jsonl)
    if enc.part is not None:
        if w.format == "parquet":
            for table in read_arrow_tables(enc.part):
                w.write_table(table)
        else:
            w.append_jsonl_file(enc.part, enc.part_rows)
        os.remove(enc.part)


def check_input_format(input_format: str) -> str:
    """``input_format`` if it is one of INPUT_FORMATS, else a UsageError listing them."""
    if input_format not in INPUT_FORMATS:
        raise unknown_name("input format", input_format, INPUT_FORMATS)
    return input_format

