"""Streaming conversion and export with a rejects file and a closing balance.

>>> import tempfile, os, json
>>> d = tempfile.mkdtemp(); raw = os.path.join(d, "raw.jsonl")
>>> with open(raw, "w") as f:
...     _ = f.write(json.dumps({"id": "m1", "conversations": [
...         {"role": "user", "content": "Pick: A. x B. y"},
...         {"role": "assistant", "content": "Thought: t\\nAnswer: B."}]}) + "\\n")
...     _ = f.write("{not json\\n")
>>> s = convert_file("agenttuning_mind2web", raw, os.path.join(d, "std.jsonl"))
>>> (s.rows_in, s.rows_ok, s.rejected, s.rows_out)
(2, 1, 1, 1)
>>> json.loads(open(s.rejects_path).read())["line"]
2
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson
from pydantic import ValidationError

from experio.adp.converters import Converter, get_converter
from experio.adp.exporters import ExportContext, get_exporter
from experio.adp.io import (
    ParquetSlice,
    Row,
    RowWriter,
    temporary_name,
    output_format,
    parquet_tables,
    parse_chunk,
    read_arrow_tables,
    read_chunks,
    read_rows,
    release_arrow_memory,
    write_arrow_tables,
)
from experio.adp.parallel import OrderedPool
from experio.adp.schema import RELEASE, WIRE_VERSIONS, SchemaVersionError, Trajectory, to_wire

ProgressFn = Callable[[int], None]


@dataclass
class RunSummary:
    """Counts of one streaming run; ``rows_in == rows_ok + rejected`` always holds.

    ``rows_ok`` input rows produced output; ``rows_out`` output rows were
    written (more than ``rows_ok`` when an exporter makes one row per step,
    fewer when a converter joins several step rows into one trajectory).
    """

    action: str
    input: str
    output: str
    rows_in: int = 0
    rows_ok: int = 0
    rows_out: int = 0
    rejected: int = 0
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def rejects_path(self) -> str:
        return rejects_path(self.output)

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.rows_ok + self.rejected

    @property
    def rate(self) -> float:
        return self.rows_in / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        eq = "=" if self.balanced else "!="
        out = [
            f"{self.action}: {self.input} -> {self.output}",
            f"rows in {self.rows_in} {eq} rows ok {self.rows_ok} + rows rejected {self.rejected}"
            + (f" (rows out {self.rows_out})" if self.rows_out != self.rows_ok else ""),
            f"{self.seconds:.2f} s, {self.rate:,.0f} rows/s",
        ]
        if self.rejected:
            out.append(f"rejects: {self.rejects_path}")
            for reason, n in sorted(self.reasons.items(), key=lambda kv: -kv[1])[:5]:
                out.append(f"  {n} x {reason}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def rejects_path(output: str | os.PathLike) -> str:
    """Where the rejected rows of a run writing ``output`` go: ``OUTPUT.rejects.jsonl``."""
    return f"{output}.rejects.jsonl"


class _Rejects:
    """``OUT.rejects.jsonl``, written under a temporary name and put in place by
    :meth:`commit` together with the output: a successful run without rejects
    removes an old rejects file, a failed run leaves the old pair untouched."""

    def __init__(self, output: str | os.PathLike, summary: RunSummary) -> None:
        self.path = rejects_path(output)
        self.tmp_path = temporary_name(Path(self.path))
        self.summary = summary
        self._fh = None

    def add(self, lines: tuple[int, ...], reason: str, row: object) -> None:
        if self._fh is None:
            self._fh = open(self.tmp_path, "wb")
        rec = {"line": lines[0], "reason": reason, "row": row}
        if len(lines) > 1:
            rec["lines"] = list(lines)
        self._fh.write(orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE, default=str))
        self.summary.rejected += len(lines)
        key = reason.split(":")[0] if ":" in reason else reason
        self.summary.reasons[key[:120]] = self.summary.reasons.get(key[:120], 0) + len(lines)

    def commit(self) -> None:
        if self._fh is not None:
            self._fh.close()
            os.replace(self.tmp_path, self.path)
        elif os.path.exists(self.path):
            os.remove(self.path)

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            os.remove(self.tmp_path)


def _short(e: Exception) -> str:
    if isinstance(e, ValidationError):
        errs = e.errors()
        first = errs[0]
        loc = ".".join(str(p) for p in first["loc"])
        more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
        return f"schema: {loc}: {first['msg']}{more}"
    return f"{type(e).__name__}: {e}"


def _counting(rows: Iterable[Row], summary: RunSummary, progress: ProgressFn | None) -> Iterator[Row]:
    for row in rows:
        summary.rows_in += 1
        if progress is not None:
            progress(1)
        yield row


# --------------------------------------------------------------------------- convert


def convert_rows(
    dataset: str, rows: Iterable[Row], version: str = RELEASE
) -> Iterator[tuple[tuple[int, ...], dict | None, str | None, object]]:
    """Convert raw rows; yields ``(lines, wire_dict, None, None)`` or ``(lines, None, reason, raw)``.

    Each converted trajectory is validated once against the schema; in the
    release form the converter's dict (already in wire form) is written as is.
    """
    for lines, _, value, reason, raw in _validated(dataset, rows, version):
        yield lines, value, reason, raw


def _validated(
    dataset: str, rows: Iterable[Row], version: str
) -> Iterator[tuple[tuple[int, ...], Trajectory | None, dict | None, str | None, object]]:
    """``(lines, trajectory, wire_dict, None, None)`` or ``(lines, None, None, reason, raw)``."""
    if version not in WIRE_VERSIONS:
        raise ValueError(f"unknown version {version!r}; choose one of {WIRE_VERSIONS}")
    conv = get_converter(dataset)
    for oc in conv.stream(rows):
        if oc.value is None:
            yield oc.lines, None, None, oc.error, oc.raw
            continue
        try:
            traj = Trajectory.model_validate(oc.value)
            value = oc.value if version == RELEASE else to_wire(traj, version)
        except (ValidationError, SchemaVersionError) as e:
            yield oc.lines, None, None, _short(e), oc.raw
            continue
        yield oc.lines, traj, value, None, None


def convert_file(
    dataset: str,
    input: str | os.PathLike,
    output: str | os.PathLike,
    version: str = RELEASE,
    progress: ProgressFn | None = None,
    workers: int = 1,
    to: str | None = None,
    adp_output: str | os.PathLike | None = None,
) -> RunSummary:
    """Raw dataset rows -> ADP trajectories (JSONL, JSONL.gz or Parquet).

    Rows that fail go to ``OUTPUT.rejects.jsonl`` with their line number and
    reason; the run continues. Parquet stores ``content`` and ``details`` as
    JSON text (their items are heterogeneous) and reads them back as objects.

    ``to`` (an exporter name) makes it one pass raw -> ADP -> training rows:
    ``output`` then holds the exported rows, and ``adp_output`` (optional) the
    ADP trajectories of the same rows. Each trajectory is validated once and
    never re-read from disk, which is what makes this faster than
    ``convert_file`` then ``export_file`` (the bytes written are the same). A
    row the exporter cannot express is rejected ("export: ...") and left out
    of both outputs, so their ids match. The tool registry is ``dataset``'s.

    ``workers > 1`` converts chunks of rows in that many processes; the output
    is byte-identical to ``workers=1``. Converters that join several rows into
    one trajectory (``nnetnav-live``) and converters or exporters registered
    outside ``experio.adp`` (which a fresh worker process would not know) run in
    this process whatever ``workers`` says.
    """
    if version not in WIRE_VERSIONS:
        raise ValueError(f"unknown version {version!r}; choose one of {WIRE_VERSIONS}")
    conv = get_converter(dataset)
    if to is None:
        if adp_output is not None:
            raise ValueError("adp_output needs to= (the output is ADP already)")
        job = _Job("convert", dataset, version=version, json_columns=ADP_JSON_COLUMNS)
        summary = RunSummary(f"convert {dataset}", str(input), str(output))
    else:
        exporter = get_exporter(to)
        job = _Job("convert", dataset, version=version, json_columns=exporter.json_columns, export_to=to,
                   with_adp=adp_output is not None)
        summary = RunSummary(f"convert {dataset} -> {to}", str(input), str(output))
        workers = _usable_workers(workers, exporter)
    if type(conv).stream is not Converter.stream:  # rows group across chunk boundaries
        return _run_streaming(job, input, output, adp_output, summary, progress)
    workers = _usable_workers(workers, conv)
    return _run_chunked(job, read_chunks(input), output, adp_output, summary, progress, workers)


#: ADP columns stored as JSON text in Parquet (their items are heterogeneous)
ADP_JSON_COLUMNS = ("content", "details")


def _run_streaming(
    job: "_Job", input: str | os.PathLike, output: str | os.PathLike, adp_output: str | os.PathLike | None,
    summary: RunSummary, progress: ProgressFn | None,
) -> RunSummary:
    """Row by row in this process, for converters that join rows (groups cross chunk boundaries)."""
    t0 = time.perf_counter()
    rows = _counting(read_rows(input), summary, progress)
    rej = _Rejects(output, summary)
    try:
        with ExitStack() as stack:
            w, w_adp = _open_writers(stack, job, output, adp_output)
            for lines, values, adp_value, reason, raw in _outcomes(job, rows):
                if values is None:
                    rej.add(lines, reason or "unknown error", raw)
                    continue
                for v in values:
                    w.write(v)
                if w_adp is not None and adp_value is not None:
                    w_adp.write(adp_value)
                summary.rows_ok += len(lines)
                summary.rows_out += len(values)
    except BaseException:
        rej.abort()
        raise
    rej.commit()
    summary.seconds = time.perf_counter() - t0
    return summary


def _open_writers(
    stack: ExitStack, job: "_Job", output: str | os.PathLike, adp_output: str | os.PathLike | None
) -> tuple[RowWriter, RowWriter | None]:
    """The output's writer and, for a one-pass run keeping the ADP rows, theirs."""
    w = stack.enter_context(RowWriter(output, json_columns=job.json_columns))
    if adp_output is None:
        return w, None
    return w, stack.enter_context(RowWriter(adp_output, json_columns=ADP_JSON_COLUMNS))


# --------------------------------------------------------------------------- read ADP


def iter_trajectory_rows(
    input: str | os.PathLike, tolerate_truncated_tail: bool = False
) -> Iterator[tuple[int, Trajectory | None, str | None, object]]:
    """``(line, trajectory, None, None)`` or ``(line, None, reason, raw)`` per ADP row."""
    for row in read_rows(input, tolerate_truncated_tail):
        if row.error is not None:
            yield row.line, None, row.error, row.raw
            continue
        try:
            yield row.line, Trajectory.model_validate(row.value), None, None
        except ValidationError as e:
            yield row.line, None, _short(e), row.value


def read_trajectories(
    input: str | os.PathLike, tolerate_truncated_tail: bool = False
) -> Iterator[Trajectory]:
    """Validated trajectories of an ADP file; raises ValueError naming the bad line.

    With ``tolerate_truncated_tail`` a cut-off last line (a killed run) is skipped.
    """
    for line, traj, reason, _ in iter_trajectory_rows(input, tolerate_truncated_tail):
        if traj is None:
            raise ValueError(f"{input}:{line}: {reason}")
        yield traj


def guess_dataset(path: str | os.PathLike) -> str | None:
    """A registered dataset name found among the folders of ``path``, if any.

    >>> guess_dataset("data/adp/agenttuning_kg/sample_std.json")
    'agenttuning_kg'
    """
    from experio.adp.converters import converter_names
    from experio.adp.tools import toolset_names

    known = set(converter_names()) | set(toolset_names())
    for part in reversed(Path(path).parts[:-1]):
        if part in known:
            return part
    stem = Path(path).name.split(".")[0]
    return stem if stem in known else None


# --------------------------------------------------------------------------- export


def export_file(
    fmt: str,
    input: str | os.PathLike,
    output: str | os.PathLike,
    dataset: str | None = None,
    progress: ProgressFn | None = None,
    workers: int = 1,
) -> RunSummary:
    """ADP trajectories -> a training format (``openhands``, ``sweagent``, ``agentlab``,
    ``openai``, ``trl``). ``dataset`` selects the tool registry (guessed from the
    input path when omitted). Trajectories the format cannot express are rejected
    with the reason. ``workers > 1`` exports chunks of rows in that many
    processes; the output is byte-identical to ``workers=1``."""
    exporter = get_exporter(fmt)
    ds = dataset or guess_dataset(input)
    summary = RunSummary(f"export {fmt}" + (f" ({ds})" if ds else ""), str(input), str(output))
    job = _Job("export", fmt, dataset=ds, json_columns=exporter.json_columns)
    workers = _usable_workers(workers, exporter)
    return _run_chunked(job, read_chunks(input), output, None, summary, progress, workers)


# --------------------------------------------------------------------------- chunked runs


@dataclass(frozen=True)
class _Job:
    """What a worker needs to process a chunk (picklable: names, not objects)."""

    action: str  # "convert" or "export"
    name: str  # converter or exporter name
    version: str = RELEASE
    dataset: str | None = None  # export: the tool registry
    json_columns: tuple[str, ...] = ()
    export_to: str | None = None  # convert: export each trajectory at once (one pass)
    with_adp: bool = False  # one pass: also return the ADP rows
    output: str = "jsonl"  # "jsonl" or "parquet"
    schema: Any = None  # Parquet: the file's schema, once the first rows fixed it
    adp_output: str = "jsonl"  # one pass with ADP kept: that file's format and schema
    adp_schema: Any = None
    parts_dir: str | None = None  # workers write the output's results here, not through the pipe
    adp_parts_dir: str | None = None  # the same for the ADP output (None: through the pipe)


@dataclass
class _Encoded:
    """Rows ready to append to one output: JSONL lines or pyarrow Tables."""

    jsonl: list[bytes] = field(default_factory=list)  # one line each (joining would copy)
    tables: list = field(default_factory=list)  # one row group each
    part: str | None = None  # or: a file of JSONL lines written by a worker (``part_rows`` of them)
    part_rows: int = 0


@dataclass
class _ChunkResult:
    """A processed chunk: counts, rejects, and the output(s) ready to append."""

    rows_in: int = 0
    rows_ok: int = 0
    rows_out: int = 0
    rejects: list[tuple[tuple[int, ...], str, object]] = field(default_factory=list)
    out: _Encoded = field(default_factory=_Encoded)
    adp: _Encoded = field(default_factory=_Encoded)  # one pass with ADP kept


def _usable_workers(workers: int, plugin: object) -> int:
    """``workers``, or 1 for a converter/exporter defined outside experio.adp:
    a worker process imports the registries afresh and would not know it."""
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    fn = getattr(plugin, "_fn", None)  # FunctionConverter wraps a function
    module = (fn or type(plugin)).__module__
    return workers if module.startswith("experio.adp.") else 1


# (lines, output rows, ADP row kept for a one-pass run, reason, raw)
Outcomes = Iterator[tuple[tuple[int, ...], "list[dict] | None", "dict | None", "str | None", object]]


def _outcomes(job: _Job, rows: Iterable[Row]) -> Outcomes:
    """What ``job`` makes of each row: convert, export, or convert and export (one pass)."""
    if job.action == "export":
        yield from _exported(job, rows)
        return
    if job.export_to is None:
        for lines, _, value, reason, raw in _validated(job.name, rows, job.version):
            yield lines, (None if value is None else [value]), None, reason, raw
        return
    exporter = get_exporter(job.export_to)
    ctx = ExportContext(job.name)
    for lines, traj, value, reason, raw in _validated(job.name, rows, job.version):
        if traj is None:
            yield lines, None, None, reason, raw
            continue
        try:
            out = exporter.export(traj, ctx)
        except Exception as e:  # noqa: BLE001 - any failure rejects the row
            yield lines, None, None, "export: " + _short(e), value
            continue
        yield lines, out, (value if job.with_adp else None), None, None


def _exported(job: _Job, rows: Iterable[Row]) -> Outcomes:
    exporter = get_exporter(job.name)
    ctx = ExportContext(job.dataset)
    for row in rows:
        if row.error is not None:
            yield (row.line,), None, None, row.error, row.raw
            continue
        try:
            traj = Trajectory.model_validate(row.value)
            out = exporter.export(traj, ctx)
        except Exception as e:  # noqa: BLE001 - any failure rejects the row
            yield (row.line,), None, None, _short(e), row.value
            continue
        yield (row.line,), out, None, None, None


def _process_chunk(job: _Job, chunk: "list | ParquetSlice") -> _ChunkResult:
    """Parse, convert and/or export, validate and serialise one chunk (runs in a worker)."""
    res = _ChunkResult()
    rows = parse_chunk(chunk)
    out: list[dict] = []
    adp_rows: list[dict] = []
    for lines, values, adp_value, reason, raw in _outcomes(job, rows):
        res.rows_in += len(lines)
        if values is None:
            res.rejects.append((lines, reason or "unknown error", raw))
            continue
        out.extend(values)
        if adp_value is not None:
            adp_rows.append(adp_value)
        res.rows_ok += len(lines)
        res.rows_out += len(values)
    res.out = _encode(out, job.output, job.json_columns, job.schema, job.parts_dir)
    if job.with_adp:
        res.adp = _encode(adp_rows, job.adp_output, ADP_JSON_COLUMNS, job.adp_schema, job.adp_parts_dir)
    return res


def _encode(
    rows: list[dict], fmt: str, json_columns: tuple[str, ...], schema: Any, parts_dir: str | None = None
) -> _Encoded:
    """Serialise a chunk's rows for one output. In a worker (``parts_dir`` set) the result goes
    to a part file, so the calling process only copies bytes: passing 27 kB OpenHands rows
    through the pool's pipe cost the parent ~80 us of CPU a row (JSONL; Parquet tables more),
    as much as a worker's whole conversion of the row."""
    if fmt == "parquet":
        release_arrow_memory()  # what the previous chunk's tables used
        tables = parquet_tables(rows, json_columns, schema) if rows else []
        if parts_dir is None or not tables:
            return _Encoded(tables=tables)
        fd, part = tempfile.mkstemp(suffix=".arrow", dir=parts_dir)
        os.close(fd)
        write_arrow_tables(part, tables)  # Arrow IPC: the parent maps it, no decoding
        return _Encoded(part=part, part_rows=len(rows))
    lines = [orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows]
    if parts_dir is None or not lines:
        return _Encoded(jsonl=lines)
    fd, part = tempfile.mkstemp(suffix=".jsonl", dir=parts_dir)
    with os.fdopen(fd, "wb") as f:
        f.writelines(lines)
    return _Encoded(part=part, part_rows=len(lines))


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


def _run_chunked(
    job: _Job, chunks: Iterator, output: str | os.PathLike, adp_output: str | os.PathLike | None,
    summary: RunSummary, progress: ProgressFn | None, workers: int,
) -> RunSummary:
    """Process chunks in ``workers`` processes, write the results here in input order.

    Only this process writes: the output(s) (under a temporary name until
    complete) and the rejects file. An exception or Ctrl-C stops the workers
    and leaves none of them behind under its final name.
    """
    t0 = time.perf_counter()
    job = replace(job, output=output_format(output),
                  adp_output=output_format(adp_output) if adp_output is not None else "jsonl")
    rej = _Rejects(output, summary)
    parts = _parts_dir(output, adp_output, workers)
    try:
        with ExitStack() as stack:
            if parts is not None:
                stack.callback(shutil.rmtree, parts, ignore_errors=True)
                job = replace(job, parts_dir=str(parts) if _takes_parts(output) else None,
                              adp_parts_dir=str(parts) if _takes_parts(adp_output) else None)
            w, w_adp = _open_writers(stack, job, output, adp_output)
            pool = stack.enter_context(OrderedPool(workers))

            def write(res: _ChunkResult) -> None:
                _write_chunk(res, w, w_adp, rej, summary, progress)

            job = _fix_parquet_schemas(job, chunks, w, w_adp, write)
            for res in pool.map(_process_chunk, job, chunks):
                write(res)
    except BaseException:
        rej.abort()
        raise
    rej.commit()
    summary.seconds = time.perf_counter() - t0
    return summary


def _fix_parquet_schemas(
    job: _Job, chunks: Iterator, w: RowWriter, w_adp: RowWriter | None, write: Callable
) -> _Job:
    """Process chunks here until every Parquet output's schema is known (it is
    inferred from the first rows written); later chunks, wherever processed, are
    built with it, so the files are the same for every worker count."""
    writers = [x for x in (w, w_adp) if x is not None and x.format == "parquet"]
    if not writers:
        return job
    for chunk in chunks:
        write(_process_chunk(job, chunk))
        if all(x.schema is not None for x in writers):
            break
    return replace(job, schema=w.schema, adp_schema=w_adp.schema if w_adp is not None else None)


def _write_chunk(
    res: _ChunkResult, w: RowWriter, w_adp: RowWriter | None, rej: _Rejects, summary: RunSummary,
    progress: ProgressFn | None,
) -> None:
    for lines, reason, raw in res.rejects:
        rej.add(lines, reason, raw)
    _append(w, res.out)
    if w_adp is not None:
        _append(w_adp, res.adp)
    summary.rows_in += res.rows_in
    summary.rows_ok += res.rows_ok
    summary.rows_out += res.rows_out
    if progress is not None:
        progress(res.rows_in)


def _append(w: RowWriter, enc: _Encoded) -> None:
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
