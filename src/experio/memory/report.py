"""Metrics, report.md and the cumulative success curve of a memory run folder, from its records.

Every figure is recomputed from the counted lines of trajectories.jsonl (one per finished
task and method), so the report of a resumed run equals that of an uninterrupted one.

    >>> metrics = write_report(Path("runs/rb"))      # doctest: +SKIP
    >>> metrics["reasoningbank"]["success_rate"]     # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from experio.adp import read_trajectories
from experio.runs import save_line_plot, write_json, write_text


def task_rows(out: Path) -> list[dict[str, Any]]:
    """One row per finished task and method (the counted lines), in file order."""
    path = Path(out) / "trajectories.jsonl"
    if not path.exists():
        return []
    rows = []
    for t in read_trajectories(path, tolerate_truncated_tail=True):
        d = t.details
        if "method" not in d or d.get("counted") != "true":
            continue
        extraction = json.loads(d.get("extraction", "{}"))
        rows.append({
            "method": d["method"], "task_index": int(d["task_index"]), "task_id": d["task_id"],
            "success": d["env_success"] == "true", "judged": d.get("judged_status"),
            "judge_source": d.get("judge_source"), "steps": int(d["steps"]),
            "total_steps": int(d.get("total_steps", d["steps"])), "retrieved": len(json.loads(d["retrieved"])),
            "injected": len(json.loads(d["items_injected"])), "used": len(json.loads(d["items_used"])),
            "stored": d.get("store") == "true", "items": int(extraction.get("items", 0)),
            "extraction": extraction.get("outcome", "none"),
        })
    return rows


def compute_metrics(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per method: success rate (environment), mean steps, judge agreement, memory counts, curve."""
    by_method: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_method[r["method"]].append(r)
    metrics = {}
    for method, tasks in sorted(by_method.items()):
        tasks.sort(key=lambda r: r["task_index"])
        judged = [r for r in tasks if r["judge_source"] == "llm"]
        with_memory = [r for r in tasks if r["injected"]]
        metrics[method] = {
            "tasks": len(tasks),
            "success_rate": float(np.mean([r["success"] for r in tasks])),
            "mean_steps": float(np.mean([r["steps"] for r in tasks])),
            "mean_steps_all_rollouts": float(np.mean([r["total_steps"] for r in tasks])),
            "judged_success_rate": float(np.mean([r["judged"] == "success" for r in tasks])),
            "judge_agreement": (float(np.mean([(r["judged"] == "success") == r["success"] for r in judged]))
                                if judged else None),
            "judge_agreement_n": len(judged),
            "judge_fallbacks": sum(r["judge_source"] == "env-fallback" for r in tasks),
            "tasks_with_memory": len(with_memory),
            "tasks_using_memory": sum(1 for r in with_memory if r["used"]),
            "experiences_stored": sum(r["stored"] for r in tasks),
            "items_stored": sum(r["items"] for r in tasks if r["stored"]),
            "extractions_skipped": sum(r["extraction"] == "skipped" for r in tasks),
            "cumulative_successes": [int(x) for x in np.cumsum([r["success"] for r in tasks])],
        }
    return metrics


def write_report(out: Path) -> dict[str, Any]:
    """Write metrics.json, report.md and success_curve.png for every method in `out`; return the metrics."""
    out = Path(out)
    metrics = compute_metrics(task_rows(out))
    write_json(out / "metrics.json", metrics)
    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f} %"
    lines = [f"# Memory run: {out.name}", "",
             "| method | tasks | success | mean steps | steps, all rollouts | judged success | judge agreement | "
             "stored (items) | extraction skipped | used memory |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for m, x in metrics.items():
        agreement = pct(x["judge_agreement"]) + (f" (n={x['judge_agreement_n']})" if x["judge_agreement_n"] else "")
        lines.append(f"| {m} | {x['tasks']} | {pct(x['success_rate'])} | {x['mean_steps']:.1f} | "
                     f"{x['mean_steps_all_rollouts']:.1f} | {pct(x['judged_success_rate'])} | {agreement} | "
                     f"{x['experiences_stored']} ({x['items_stored']}) | {x['extractions_skipped']} | "
                     f"{x['tasks_using_memory']}/{x['tasks_with_memory']} |")
    if metrics:
        _plot(out, metrics)
        lines += ["", "![cumulative successes along the task stream](success_curve.png)"]
    lines += ["", "Success is the environment's verdict on the rollout that counts (MaTTS parallel: the selector's "
                  "choice; sequential: the last pass). Judge agreement compares the LLM judge with the environment "
                  "where the LLM judged. Used memory: tasks where the agent said it used a retrieved item / tasks "
                  "that were shown memory."]
    write_text(out / "report.md", "\n".join(lines) + "\n")
    return metrics


def _plot(out: Path, metrics: dict[str, Any]) -> None:
    series = {method: m["cumulative_successes"] for method, m in metrics.items()}
    save_line_plot(out / "success_curve.png", series, xlabel="tasks seen", ylabel="tasks solved so far",
                   title="Cumulative success along the stream")
