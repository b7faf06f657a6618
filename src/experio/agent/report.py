"""Metrics, report.md and the prompt-token plot of a run folder, from its trajectories."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from experio.adp import read_trajectories
from experio.runs import save_line_plot, write_json, write_text


def episode_rows(out: Path) -> list[dict[str, Any]]:
    path = Path(out) / "trajectories.jsonl"
    if not path.exists():
        return []
    rows = []
    for t in read_trajectories(path, tolerate_truncated_tail=True):
        d = t.details
        rows.append({
            "context": d["context"], "task_id": d["task_id"], "success": d["success"] == "true",
            "reward": float(d["reward"]), "steps": int(d["steps"]),
            "invalid_actions": int(d["invalid_actions"]), "invalid_directives": int(d.get("invalid_directives", 0)),
            "directive_repairs": int(d["directive_repairs"]), "prompt_tokens": json.loads(d["prompt_tokens"]),
            # records written before this counter existed hold none
            "unreadable_responses": int(d.get("unreadable_responses", 0)),
        })
    return rows


def compute_metrics(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_context: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_context[r["context"]].append(r)
    metrics = {}
    for ctx, eps in sorted(by_context.items()):
        steps = sum(e["steps"] for e in eps)
        fold_turns = sum(max(0, e["steps"] - 1) for e in eps) if ctx == "fold" else 0
        curve = mean_tokens_per_turn(eps)
        metrics[ctx] = {
            "episodes": len(eps),
            "success_rate": float(np.mean([e["success"] for e in eps])),
            "mean_reward": float(np.mean([e["reward"] for e in eps])),
            "mean_steps": float(np.mean([e["steps"] for e in eps])),
            "invalid_action_rate": sum(e["invalid_actions"] for e in eps) / max(1, steps),
            "invalid_directive_rate": (sum(e["invalid_directives"] for e in eps) / fold_turns) if fold_turns else None,
            "directive_repair_rate": (sum(e["directive_repairs"] for e in eps) / fold_turns) if fold_turns else None,
            "unreadable_response_rate": sum(e["unreadable_responses"] for e in eps) / max(1, steps),
            "prompt_tokens_turn1": curve[0] if curve else None,
            "prompt_tokens_last_turn": curve[-1] if curve else None,
            "turns_reached": len(curve),
            "prompt_tokens_per_turn": curve,
        }
    return metrics


def mean_tokens_per_turn(episodes: list[dict]) -> list[float]:
    """Mean prompt tokens at each turn over the episodes that reached it."""
    longest = max((len(e["prompt_tokens"]) for e in episodes), default=0)
    return [float(np.mean([e["prompt_tokens"][i] for e in episodes if len(e["prompt_tokens"]) > i]))
            for i in range(longest)]


def write_report(out: Path) -> dict[str, Any]:
    out = Path(out)
    metrics = compute_metrics(episode_rows(out))
    write_json(out / "metrics.json", metrics)
    lines = [f"# Agent run: {out.name}", "",
             "| context | episodes | success | mean steps | invalid actions | unreadable | invalid directives | repairs | prompt tokens turn 1 | last turn (turn) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for ctx, m in metrics.items():
        pct = lambda x: "n/a" if x is None else f"{100 * x:.1f} %"
        lines.append(
            f"| {ctx} | {m['episodes']} | {pct(m['success_rate'])} | {m['mean_steps']:.1f} | "
            f"{pct(m['invalid_action_rate'])} | {pct(m['unreadable_response_rate'])} | {pct(m['invalid_directive_rate'])} | {pct(m['directive_repair_rate'])} | "
            f"{m['prompt_tokens_turn1']:.0f} | {m['prompt_tokens_last_turn']:.0f} ({m['turns_reached']}) |"
        )
    if {"react", "fold"} <= metrics.keys():
        n = min(metrics["react"]["turns_reached"], metrics["fold"]["turns_reached"])
        if n:
            r, f = metrics["react"]["prompt_tokens_per_turn"][n - 1], metrics["fold"]["prompt_tokens_per_turn"][n - 1]
            lines += ["", f"At turn {n}, folding uses {f:.0f} prompt tokens vs {r:.0f} for full history "
                          f"({100 * f / r:.0f} %)."]
    if metrics:
        _plot(out, metrics)
        lines += ["", "![prompt tokens per turn](prompt_tokens.png)"]
    lines += ["", "Rates: invalid actions per step (unreadable turns included); unreadable responses (no JSON "
                  "even after the retry: the turn is lost) per step; invalid directives (first response of a turn) "
                  "and repairs (a readable response whose directive is still invalid after the retry) per folding turn."]
    write_text(out / "report.md", "\n".join(lines) + "\n")
    return metrics


def _plot(out: Path, metrics: dict[str, Any]) -> None:
    series = {ctx: m["prompt_tokens_per_turn"] for ctx, m in metrics.items()}
    save_line_plot(out / "prompt_tokens.png", series, xlabel="turn",
                   ylabel="prompt tokens (mean over episodes)", title="Context size per turn")
