"""Streaming conversion and export with a rejects file and a closing balance: the public API.

`convert_file` turns raw dataset rows (or ATIF trajectories, dataset ``"atif"``) into ADP,
`export_file` turns ADP (or ATIF) trajectories into a training format or ATIF; both keep
every row that fails in ``OUTPUT.rejects.jsonl`` (`experio.runs.RejectsFile`) with its
line number and reason and go on. The work itself is done by `experio.adp.engine`.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from pydantic import ValidationError

from experio.adp.atif import is_atif
from experio.adp.converters import converter_names, get_converter
from experio.adp.engine import (
    ADP_JSON_COLUMNS,
    Converted,
    Job,
    adp_value,
    check_input_format,
    groups_rows,
    run_chunked,
    run_streaming,
    short,
    usable_workers,
    validated,
)
from experio.adp.errors import ATIFError, TrajectoryError
from experio.adp.exporters import get_exporter
from experio.adp.readers import Row, read_chunks, read_rows
from experio.adp.schema import RELEASE, Trajectory, check_version
from experio.adp.summary import ProgressFn, RunSummary
from experio.adp.tools import toolset_names
from experio.errors import UsageError, input_file
from experio.runs import rejects_path

__all__ = [
    "ADP_JSON_COLUMNS",
    "RunSummary",
    "TrajectoryRow",
    "convert_file",
    "convert_rows",
    "detect_dataset",
    "export_file",
    "guess_dataset",
    "iter_trajectory_rows",
    "read_trajectories",
    "rejects_path",
]


def convert_rows(dataset: str, rows: Iterable[Row], version: str = RELEASE) -> Iterator[Converted]:
    """Convert raw rows; yields a `Converted` per trajectory: ``value`` its wire dict, or
    ``reason`` (and ``raw``) for a rejected row.

    Each converted trajectory is validated once against the schema; in the release form
    the converter's dict (already in wire form) is kept as is.
    """
    return validated(dataset, rows, version)


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

    Rows that fail go to ``OUTPUT.rejects.jsonl`` with their line number and reason; the
    run continues. Parquet stores ``content`` and ``details`` as JSON text (their items
    are heterogeneous) and reads them back as objects. ``dataset="atif"`` reads ATIF
    trajectories (each keeps the ADP version it was written from).

    ``to`` (an exporter name) makes it one pass raw -> ADP -> training rows: ``output``
    then holds the exported rows, and ``adp_output`` (optional) the ADP trajectories of
    the same rows. Each trajectory is validated once and never re-read from disk (the
    bytes written are those of ``convert_file`` then ``export_file``). A row the exporter
    cannot express is rejected ("export: ...") and left out of both outputs, so their ids
    match. The tool registry is ``dataset``'s.

    ``workers > 1`` converts chunks of rows in that many processes; the output is
    byte-identical to ``workers=1``. Converters that join several rows into one
    trajectory (``nnetnav-live``) and converters or exporters registered outside
    ``experio.adp`` (which a fresh worker process would not know) run in this process
    whatever ``workers`` says.
    """
    check_version(version)
    conv = get_converter(dataset)
    if to is None:
        if adp_output is not None:
            raise UsageError("adp_output needs to= (the output is ADP already)")
        job = Job("convert", dataset, version=version, json_columns=ADP_JSON_COLUMNS)
        summary = RunSummary(f"convert {dataset}", str(input), str(output))
    else:
        exporter = get_exporter(to)
        job = Job("convert", dataset, version=version, json_columns=exporter.json_columns, export_to=to,
                  with_adp=adp_output is not None)
        summary = RunSummary(f"convert {dataset} -> {to}", str(input), str(output))
        workers = usable_workers(workers, exporter)
    if groups_rows(conv):  # rows group across chunk boundaries
        return run_streaming(job, input, output, adp_output, summary, progress)
    workers = usable_workers(workers, conv)
    return run_chunked(job, read_chunks(input), output, adp_output, summary, progress, workers)


def export_file(
    fmt: str,
    input: str | os.PathLike,
    output: str | os.PathLike,
    dataset: str | None = None,
    progress: ProgressFn | None = None,
    workers: int = 1,
    input_format: str = "auto",
) -> RunSummary:
    """ADP trajectories -> a training format (``openhands``, ``sweagent``, ``agentlab``,
    ``openai``, ``trl``) or ATIF (``atif``).

    ``dataset`` selects the tool registry (guessed from the input path when omitted).
    ``input_format`` says what the input rows are: ``"adp"``, ``"atif"`` (each converted
    to ADP first) or ``"auto"`` (by each row's shape). Trajectories the format cannot
    express are rejected with the reason. ``workers > 1`` exports chunks of rows in that
    many processes; the output is byte-identical to ``workers=1``.
    """
    exporter = get_exporter(fmt)
    check_input_format(input_format)
    ds = dataset or guess_dataset(input)
    summary = RunSummary(f"export {fmt}" + (f" ({ds})" if ds else ""), str(input), str(output))
    job = Job("export", fmt, dataset=ds, json_columns=exporter.json_columns, input_format=input_format)
    workers = usable_workers(workers, exporter)
    return run_chunked(job, read_chunks(input), output, None, summary, progress, workers)


# --------------------------------------------------------------------------- read ADP

@dataclass(slots=True)
class TrajectoryRow:
    """One row of an ADP (or ATIF) file: its ``trajectory``, or the ``reason`` it is not one."""

    line: int
    trajectory: Trajectory | None = None
    reason: str | None = None
    raw: Any = None


def iter_trajectory_rows(
    input: str | os.PathLike, tolerate_truncated_tail: bool = False, input_format: str = "auto"
) -> Iterator[TrajectoryRow]:
    """Every row of an ADP file as a `TrajectoryRow` (ATIF rows converted, by shape or
    when ``input_format="atif"``)."""
    check_input_format(input_format)
    for row in read_rows(input, tolerate_truncated_tail):
        if row.error is not None:
            yield TrajectoryRow(row.line, reason=row.error, raw=row.raw)
            continue
        try:
            yield TrajectoryRow(row.line, Trajectory.model_validate(adp_value(row.value, input_format)))
        except (ValidationError, ATIFError) as e:
            yield TrajectoryRow(row.line, reason=short(e) if isinstance(e, ValidationError) else str(e),
                                raw=row.value)


def read_trajectories(input: str | os.PathLike, tolerate_truncated_tail: bool = False) -> Iterator[Trajectory]:
    """Validated trajectories of an ADP file; raises TrajectoryError (a ValueError) naming the bad line.

    With ``tolerate_truncated_tail`` a cut-off last line (a killed run) is skipped.
    """
    for r in iter_trajectory_rows(input, tolerate_truncated_tail, input_format="adp"):
        if r.trajectory is None:
            raise TrajectoryError(f"{input}:{r.line}: {r.reason}")
        yield r.trajectory


def guess_dataset(path: str | os.PathLike) -> str | None:
    """A registered dataset name found among the folders of ``path``, if any.

    >>> guess_dataset("data/adp/agenttuning_kg/sample_std.json")
    'agenttuning_kg'
    """
    known = set(converter_names()) | set(toolset_names())
    for part in reversed(Path(path).parts[:-1]):
        if part in known:
            return part
    stem = Path(path).name.split(".")[0]
    return stem if stem in known else None


def detect_dataset(path: str | os.PathLike) -> str | None:
    """The converter for an input recognised by its rows' shape: ``"atif"`` when the first
    readable row is an ATIF trajectory, else None (the input's dataset must be named)."""
    input_file(path)
    for row in read_rows(path):
        if row.error is None:
            return "atif" if is_atif(row.value) else None
    return None
