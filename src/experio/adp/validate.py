"""Validation of ADP files (and ATIF files, read as ADP) and their exports, with a per-dataset report.

Checks, as the official test-suite does: every row validates against the schema; ids are
unique; every ``api_action.function`` is known to the trajectory's tool registry; exported
(SFT) files have ids that match the standardized file; and each exported conversation's
turn count is within ``max(2, 30%)`` of the trajectory's item count.

The tool registry of a trajectory is, first, its own ``available_apis`` (schema 1.2.0):
each entry a tool name (``"go"``) or a signature with an optional docstring
(``"go(location: str)\\n    Move."``); a call of a tool not listed, or with a parameter
name the signature does not have, is an error. Else it is the dataset's registry (``dataset=``,
or the dataset folder the file is in): unknown tools are errors. A file with neither (one
experio did not convert) still gets every schema check; its tools are reported as
warnings, which ``strict=True`` makes errors.

>>> r = validate_path("does/not/exist.jsonl")  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
experio.errors.InputFileError: ...
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from experio.adp.converters import converter_names
from experio.adp.errors import UnknownConverterError
from experio.adp.pipeline import guess_dataset, iter_trajectory_rows
from experio.adp.readers import read_rows
from experio.adp.schema import Trajectory
from experio.adp.tools import ToolSet, find_toolset, parse_tool, toolset_names
from experio.errors import InputFileError

MAX_REPORTED = 5


def turn_tolerance(n_items: int) -> int:
    """The official tolerance on turn-count differences: ``max(2, 30% of items)``."""
    return max(2, int(0.3 * n_items))


@dataclass
class DatasetReport:
    """What validation found for one dataset (one standardized file + its exports).

    ``unknown_functions`` (tool -> count) are errors; ``unlisted_functions`` are the tools
    of a file without any registry, warnings unless ``strict``.
    """

    dataset: str
    path: str
    rows: int = 0
    strict: bool = False
    registry: str = "none"
    schema_errors: list[str] = field(default_factory=list)
    duplicate_ids: dict[str, list[int]] = field(default_factory=dict)
    unknown_functions: dict[str, int] = field(default_factory=dict)
    unknown_params: dict[str, int] = field(default_factory=dict)
    unlisted_functions: dict[str, int] = field(default_factory=dict)
    exports: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        n = len(self.schema_errors) + len(self.duplicate_ids)
        n += sum(self.unknown_functions.values()) + sum(self.unknown_params.values())
        if self.strict:
            n += sum(self.unlisted_functions.values())
        for e in self.exports.values():
            n += len(e["missing_ids"]) + len(e["turn_mismatches"]) + len(e["bad_rows"])
        return n

    @property
    def warnings(self) -> int:
        return 0 if self.strict else sum(self.unlisted_functions.values())

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def lines(self) -> list[str]:
        head = f"{self.dataset}: {self.rows} trajectories, " + ("OK" if self.ok else f"{self.errors} error(s)")
        if self.warnings:
            head += f", {self.warnings} warning(s)"
        out = [head]
        out += [f"  schema: {e}" for e in self.schema_errors[:MAX_REPORTED]]
        for tid, lines in list(self.duplicate_ids.items())[:MAX_REPORTED]:
            out.append(f"  id {tid!r} is repeated on lines {', '.join(map(str, lines))}")
        for fn, n in sorted(self.unknown_functions.items()):
            out.append(f"  api_action {fn!r} ({n}x) is not in the tool registry ({self.registry})")
        for call, n in sorted(self.unknown_params.items()):
            out.append(f"  api_action {call} ({n}x) (available_apis)")
        kind = "error" if self.strict else "warning"
        for fn, n in sorted(self.unlisted_functions.items()):
            out.append(f"  {kind}: api_action {fn!r} ({n}x) cannot be checked: no tool registry")
        out += self._export_lines()
        out += [f"  note: {n}" for n in self.notes]
        return out

    def _export_lines(self) -> list[str]:
        out = []
        for name, e in self.exports.items():
            status = "OK" if not (e["missing_ids"] or e["turn_mismatches"] or e["bad_rows"]) else "FAIL"
            out.append(f"  export {name}: {e['rows']} rows, {status}")
            out += [f"    id {i!r} is not in the standardized file" for i in e["missing_ids"][:MAX_REPORTED]]
            out += [f"    {m}" for m in e["turn_mismatches"][:MAX_REPORTED]]
            out += [f"    {m}" for m in e["bad_rows"][:MAX_REPORTED]]
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

    @property
    def warnings(self) -> int:
        return sum(d.warnings for d in self.datasets)

    def __str__(self) -> str:
        return "\n".join(line for d in self.datasets for line in d.lines())


# ---------------------------------------------------------------------------- registries

class ApiRegistry:
    """The tools a trajectory lists in ``available_apis``: name -> parameter names (None: any).

    >>> r = ApiRegistry(["go(location: str)\\n    Move.\\n", "look"])
    >>> r.problem("go", {"location": "x"}), r.problem("go", {"where": "x"}), r.problem("fly", {})
    (None, "'go' called with unknown parameter(s) ['where']", "'fly' is not in available_apis")
    """

    def __init__(self, entries: list[str]) -> None:
        self.params: dict[str, set[str] | None] = {}
        for entry in entries:
            text = entry.strip()
            if "(" in text.split("\n", 1)[0]:
                try:
                    tool = parse_tool(text)
                except ValueError:
                    self.params[text.split("(", 1)[0].strip()] = None
                    continue
                names = tool.param_names()
                self.params[tool.name] = None if any(n.startswith("*") for n in names) else set(names)
            elif text:
                self.params[text] = None

    def problem(self, function: str, kwargs: dict) -> str | None:
        """What is wrong with a call (None when it is fine)."""
        if function not in self.params:
            return f"{function!r} is not in available_apis"
        allowed = self.params[function]
        unknown = sorted(set(kwargs) - allowed) if allowed is not None else []
        return f"{function!r} called with unknown parameter(s) {unknown}" if unknown else None


def _check_tools(traj: Trajectory, toolset: ToolSet | None, known_dataset: bool, rep: DatasetReport) -> None:
    registry = ApiRegistry(traj.available_apis) if traj.available_apis is not None else None
    for it in traj.content:
        if it.class_ != "api_action":
            continue
        if registry is not None:
            problem = registry.problem(it.function, it.kwargs)
            if problem is not None and "parameter" in problem:
                rep.unknown_params[problem] = rep.unknown_params.get(problem, 0) + 1
            elif problem is not None:
                rep.unknown_functions[it.function] = rep.unknown_functions.get(it.function, 0) + 1
        elif toolset is not None or known_dataset:
            if toolset is None or not toolset.known(it.function):
                rep.unknown_functions[it.function] = rep.unknown_functions.get(it.function, 0) + 1
        else:
            rep.unlisted_functions[it.function] = rep.unlisted_functions.get(it.function, 0) + 1


def _known_datasets() -> set[str]:
    return set(converter_names()) | set(toolset_names())


# ---------------------------------------------------------------------------- validation

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
            res["turn_mismatches"].append(f"id {sid!r}: {m} turns vs {n} items (tolerance {turn_tolerance(n)})")
    return res


def validate_file(
    path: str | os.PathLike, dataset: str | None = None, exports: list[str | os.PathLike] = (),
    strict: bool = False, input_format: str = "auto",
) -> DatasetReport:
    """Validate one standardized ADP (or ATIF) file, and optionally exported files of it.

    ``dataset`` names the tool registry (default: the dataset folder the file is in);
    ``strict`` makes unknown tools errors even without one.
    """
    guessed = dataset or guess_dataset(path)
    rep = DatasetReport(guessed or Path(path).stem, str(path), strict=strict)
    toolset = find_toolset(guessed)
    known = guessed is not None and guessed in _known_datasets()
    rep.registry = f"{guessed!r}" if known else "none"
    items: dict[str, int] = {}
    first_line: dict[str, int] = {}
    for r in iter_trajectory_rows(path, input_format=input_format):
        rep.rows += 1
        if r.trajectory is None:
            rep.schema_errors.append(f"line {r.line}: {r.reason}")
            continue
        traj = r.trajectory
        if traj.id in first_line:
            rep.duplicate_ids.setdefault(traj.id, [first_line[traj.id]]).append(r.line)
        else:
            first_line[traj.id] = r.line
        items[traj.id] = len(traj.content)
        _check_tools(traj, toolset, known, rep)
    if rep.unlisted_functions:
        rep.notes.append("no tool registry: pass --dataset NAME, or give the trajectories available_apis")
    for e in exports:
        rep.exports[Path(e).name] = check_export(e, items)
    return rep


def validate_path(
    path: str | os.PathLike, dataset: str | None = None, strict: bool = False, input_format: str = "auto"
) -> ValidationReport:
    """Validate a file, a dataset folder (``sample_std.json`` + ``sample_sft/*.json``) or a
    folder of dataset folders (like the official ``datasets/``)."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p} does not exist; pass an ADP file, a dataset folder, or a folder of them")
    if dataset is not None and dataset not in _known_datasets():
        raise UnknownConverterError.of(dataset, _known_datasets())
    report = ValidationReport()
    if p.is_file():
        report.datasets.append(validate_file(p, dataset, strict=strict, input_format=input_format))
        return report
    folders = [p] if _std_file(p) else sorted(d for d in p.iterdir() if d.is_dir() and _std_file(d))
    if not folders:
        raise InputFileError(f"{p}: no sample_std.json / std.jsonl in it or its subfolders; pass an ADP file")
    for d in folders:
        std = _std_file(d)
        sft_dir = d / "sample_sft"
        exports = sorted(sft_dir.glob("*.json*")) if sft_dir.is_dir() else []
        report.datasets.append(validate_file(std, dataset or d.name, exports,  # type: ignore[arg-type]
                                             strict=strict, input_format=input_format))
    return report


def _std_file(folder: Path) -> Path | None:
    for name in ("sample_std.json", "std.jsonl", "std.jsonl.gz", "std.parquet"):
        if (folder / name).is_file():
            return folder / name
    return None
