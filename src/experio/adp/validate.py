"""Validation of ADP files and their exports, with a per-dataset report.

Checks, as the official test-suite does: every row validates against the
schema; every ``api_action.function`` is known to the dataset's tool registry;
exported (SFT) files have ids that match the standardized file; and each
exported conversation's turn count is within ``max(2, 30%)`` of the
trajectory's item count.

>>> r = validate_path("does/not/exist.jsonl")  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
FileNotFoundError: ...
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from experio.adp.io import read_rows
from experio.adp.pipeline import guess_dataset, iter_trajectory_rows
from experio.adp.tools import find_toolset

MAX_REPORTED = 5


def turn_tolerance(n_items: int) -> int:
    """The official tolerance on turn-count differences: ``max(2, 30% of items)``."""
    return max(2, int(0.3 * n_items))


@dataclass
class DatasetReport:
    """What validation found for one dataset (one standardized file + its exports)."""

    dataset: str
    path: str
    rows: int = 0
    schema_errors: list[str] = field(default_factory=list)
    unknown_functions: dict[str, int] = field(default_factory=dict)
    exports: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        n = len(self.schema_errors) + sum(self.unknown_functions.values())
        for e in self.exports.values():
            n += len(e["missing_ids"]) + len(e["turn_mismatches"]) + len(e["bad_rows"])
        return n

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def lines(self) -> list[str]:
        head = f"{self.dataset}: {self.rows} trajectories, " + ("OK" if self.ok else f"{self.errors} error(s)")
        out = [head]
        for e in self.schema_errors[:MAX_REPORTED]:
            out.append(f"  schema: {e}")
        for fn, n in sorted(self.unknown_functions.items()):
            out.append(f"  api_action {fn!r} ({n}x) is not in the tool registry")
        for name, e in self.exports.items():
            status = "OK" if not (e["missing_ids"] or e["turn_mismatches"] or e["bad_rows"]) else "FAIL"
            out.append(f"  export {name}: {e['rows']} rows, {status}")
            for i in e["missing_ids"][:MAX_REPORTED]:
                out.append(f"    id {i!r} is not in the standardized file")
            for m in e["turn_mismatches"][:MAX_REPORTED]:
                out.append(f"    {m}")
            for m in e["bad_rows"][:MAX_REPORTED]:
                out.append(f"    {m}")
        out += [f"  note: {n}" for n in self.notes]
        return out


@dataclass
class ValidationReport:
    datasets: list[DatasetReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.datasets)

    @property
    def errors(self) -> int:
        return sum(d.errors for d in self.datasets)

    def __str__(self) -> str:
        return "\n".join(line for d in self.datasets for line in d.lines())


def _base_id(sft_id: str, std_ids: set[str]) -> str:
    """AgentLab rows are ``<id>-<step>``; map them back to the trajectory id."""
    if sft_id in std_ids:
        return sft_id
    m = re.fullmatch(r"(.*)-\d+", sft_id)
    return m.group(1) if m and m.group(1) in std_ids else sft_id


def check_export(path: str | os.PathLike, items_per_id: dict[str, int]) -> dict:
    """Compare an exported file with the standardized trajectories it came from."""
    ids = set(items_per_id)
    res: dict = {"rows": 0, "missing_ids": [], "turn_mismatches": [], "bad_rows": []}
    for row in read_rows(path):
        res["rows"] += 1
        if row.error or not isinstance(row.value, dict) or "id" not in row.value:
            res["bad_rows"].append(f"line {row.line}: {row.error or 'no id'}")
            continue
        sid = str(row.value["id"])
        base = _base_id(sid, ids)
        if base not in ids:
            res["missing_ids"].append(sid)
            continue
        turns = row.value.get("conversations") or row.value.get("messages")
        if turns is None or base != sid:  # per-step rows (AgentLab) have no full conversation
            continue
        n, m = items_per_id[base], len(turns)
        if abs(n - m) > turn_tolerance(n):
            res["turn_mismatches"].append(
                f"id {sid!r}: {m} turns vs {n} items (tolerance {turn_tolerance(n)})"
            )
    return res


def validate_file(
    path: str | os.PathLike, dataset: str | None = None, exports: list[str | os.PathLike] = ()
) -> DatasetReport:
    """Validate one standardized ADP file, and optionally exported files of it."""
    ds = dataset or guess_dataset(path) or Path(path).stem
    rep = DatasetReport(ds, str(path))
    ts = find_toolset(ds)
    items: dict[str, int] = {}
    for line, traj, reason, _ in iter_trajectory_rows(path):
        rep.rows += 1
        if traj is None:
            rep.schema_errors.append(f"line {line}: {reason}")
            continue
        items[traj.id] = len(traj.content)
        for it in traj.content:
            if it.class_ == "api_action" and (ts is None or not ts.known(it.function)):
                rep.unknown_functions[it.function] = rep.unknown_functions.get(it.function, 0) + 1
    if ts is None and rep.unknown_functions:
        rep.notes.append(f"no tool registry is registered for {ds!r} (pass --dataset NAME?)")
    for e in exports:
        rep.exports[Path(e).name] = check_export(e, items)
    return rep


def validate_path(path: str | os.PathLike, dataset: str | None = None) -> ValidationReport:
    """Validate a file, a dataset folder (``sample_std.json`` + ``sample_sft/*.json``)
    or a folder of dataset folders (like the official ``datasets/``)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"nothing to validate at {p}")
    report = ValidationReport()
    if p.is_file():
        report.datasets.append(validate_file(p, dataset))
        return report
    folders = [p] if _std_file(p) else sorted(d for d in p.iterdir() if d.is_dir() and _std_file(d))
    if not folders:
        raise FileNotFoundError(f"{p}: no sample_std.json / std.jsonl in it or its subfolders")
    for d in folders:
        std = _std_file(d)
        sft_dir = d / "sample_sft"
        exports = sorted(sft_dir.glob("*.json*")) if sft_dir.is_dir() else []
        report.datasets.append(validate_file(std, dataset or d.name, exports))  # type: ignore[arg-type]
    return report


def _std_file(folder: Path) -> Path | None:
    for name in ("sample_std.json", "std.jsonl", "std.jsonl.gz", "std.parquet"):
        if (folder / name).is_file():
            return folder / name
    return None
