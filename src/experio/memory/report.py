"""Metrics, report.md and the cumulative success curve of a memory run folder, from its records.

Every figure is recomputed from the counted lines of trajectories.jsonl (one per finished
task and method, `MemoryDetails.counted`), so the report of a resumed run equals that of an
uninterrupted one. Everything is read and checked before anything is written: a folder of
another command is refused untouched.

    >>> metrics = write_report(Path("runs/rb"))      # doctest: +SKIP
    >>> metrics["reasoningbank"]["success_rate"]     # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from experio.runs import RunFolder, markdown_table, pct, save_line_plot, write_json, write_text

from .details import KIND, MemoryDetails, read_memory_records
from .errors import MemoryRunError

HEADERS = ["method", "tasks", "success", "mean steps", "steps, all rollouts", "judged success", "judge agreement",
           "stored (items)", "extraction skipped", "used memory"]


def task_rows(out: str | os.PathLike) -> list[MemoryDetails]:
    """The counted line of every finished task and method, in file order (RunFolderError on another command's folder)."""
    return [r.details for r in read_memory_records(RunFolder(out, KIND)) if r.details.counted]


def compute_metrics(tasks: list[MemoryDetails], lines: list[MemoryDetails] | None = None) -> dict[str, dict[str, Any]]:
    """Per method: success rate (environment), mean steps, judge agreement, memory counts, curve.

    With every line of the run (`lines`, rollouts included), a MaTTS parallel method also gets
    `rollouts` / `rollouts_won` and `tasks_any_rollout_won` (best-of-k with a perfect selector)
    over its finished tasks.
    """
    by_method: dict[str, list[MemoryDetails]] = defaultdict(list)
    for d in tasks:
        by_method[d.method].append(d)
    rollouts = _parallel_rollouts(tasks, lines or [])
    metrics = {}
    for method, rows in sorted(by_method.items()):
        rows.sort(key=lambda d: d.task_index)
        judged = [d for d in rows if d.verdict is not None and d.verdict.source == "llm"]
        with_memory = [d for d in rows if d.items_injected]
        summaries = [d.summary for d in rows if d.summary is not None]
        metrics[method] = {
            "tasks": len(rows),
            "success_rate": float(np.mean([d.env_success for d in rows])),
            "mean_steps": float(np.mean([d.episode.steps for d in rows])),
            "mean_steps_all_rollouts": float(np.mean([d.summary.total_steps if d.summary else d.episode.steps
                                                      for d in rows])),
            "judged_success_rate": float(np.mean([d.verdict is not None and d.verdict.success for d in rows])),
            "judge_agreement": (float(np.mean([d.verdict.success == d.env_success for d in judged]))  # type: ignore[union-attr]
                                if judged else None),
            "judge_agreement_n": len(judged),
            "judge_fallbacks": sum(d.verdict is not None and d.verdict.source == "env-fallback" for d in rows),
            "tasks_with_memory": len(with_memory),
            "tasks_using_memory": sum(1 for d in with_memory if d.items_used),
            "experiences_stored": sum(s.store for s in summaries),
            "items_stored": sum(s.extraction.items for s in summaries if s.store),
            "extractions_skipped": sum(s.extraction.outcome == "skipped" for s in summaries),
            "cumulative_successes": [int(x) for x in np.cumsum([d.env_success for d in rows])],
            **rollouts.get(method, {}),
        }
    return metrics


def _parallel_rollouts(tasks: list[MemoryDetails], lines: list[MemoryDetails]) -> dict[str, dict[str, int]]:
    """Per MaTTS parallel method: its finished tasks' rollouts, how many won, in how many tasks at least one."""
    finished = {(d.method, d.task_index) for d in tasks}
    won: dict[tuple[str, int], list[bool]] = defaultdict(list)
    for d in lines:
        if d.matts == "parallel" and (d.method, d.task_index) in finished:
            won[(d.method, d.task_index)].append(d.env_success)
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"rollouts": 0, "rollouts_won": 0, "tasks_any_rollout_won": 0})
    for (method, _), wins in won.items():
        out[method]["rollouts"] += len(wins)
        out[method]["rollouts_won"] += sum(wins)
        out[method]["tasks_any_rollout_won"] += any(wins)
    return dict(out)


def write_report(out: str | os.PathLike) -> dict[str, Any]:
    """Write metrics.json, report.md and success_curve.png for every method in `out`; return the metrics.

    Refuses, writing nothing, a folder that is missing (InputFileError), belongs to another
    command (RunFolderError), has no records or no finished memory task (MemoryRunError), or
    holds a line that is not a memory task record (MemoryRecordError).
    """
    out = Path(out)
    run = RunFolder(out, KIND)
    run.check_kind(must_exist=True)
    if not run.records_path.is_file():
        raise MemoryRunError(f"{out} has no {run.records_path.name}: not a memory run folder")
    every_line = [r.details for r in read_memory_records(run)]
    tasks = [d for d in every_line if d.counted]
    if not tasks:
        raise MemoryRunError(f"{run.records_path} holds no finished memory-run task; nothing to report")
    metrics = compute_metrics(tasks, every_line)
    write_json(out / "metrics.json", metrics)
    rows = []
    for m, x in metrics.items():
        agreement = pct(x["judge_agreement"]) + (f" (n={x['judge_agreement_n']})" if x["judge_agreement_n"] else "")
        rows.append([m, x["tasks"], pct(x["success_rate"]), f"{x['mean_steps']:.1f}",
                     f"{x['mean_steps_all_rollouts']:.1f}", pct(x["judged_success_rate"]), agreement,
                     f"{x['experiences_stored']} ({x['items_stored']})", x["extractions_skipped"],
                     f"{x['tasks_using_memory']}/{x['tasks_with_memory']}"])
    lines = [f"# Memory run: {out.name}", "", *markdown_table(HEADERS, rows)]
    _plot(out, metrics)
    lines += ["", "![cumulative successes along the task stream](success_curve.png)"]
    lines += ["", "Success is the environment's verdict on the rollout that counts (MaTTS parallel: the selector's "
                  "choice; sequential: the last pass). Judge agreement compares the LLM judge with the environment "
                  "where the LLM judged. Used memory: tasks where the agent said it used a retrieved item / tasks "
                  "that were shown memory."]
    for m, x in metrics.items():
        if "rollouts" in x:
            lines += ["", f"{m}: {x['rollouts_won']} of {x['rollouts']} rollouts won; at least one rollout won in "
                          f"{x['tasks_any_rollout_won']} of {x['tasks']} tasks (a perfect selector's rate, "
                          f"{pct(x['tasks_any_rollout_won'] / x['tasks'])}); the selector's choice won in "
                          f"{round(x['success_rate'] * x['tasks'])}."]
    write_text(out / "report.md", "\n".join(lines) + "\n")
    return metrics


def _plot(out: Path, metrics: dict[str, Any]) -> None:
    series = {method: m["cumulative_successes"] for method, m in metrics.items()}
    save_line_plot(out / "success_curve.png", series, xlabel="tasks seen", ylabel="tasks solved so far",
                   title="Cumulative success along the stream", integer_y=True)
