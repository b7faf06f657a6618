"""Metrics, report.md and the prompt-token plot of an agent run folder, from its episode records."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from experio.runs import markdown_table, pct, save_line_plot, write_json, write_text

from .errors import EpisodeRecordError
from .records import EXPERT_KIND, EpisodeDetails, agent_folder, read_episodes


def episode_rows(out: Path) -> list[EpisodeDetails]:
    """The episodes of an agent run folder (RunFolderError if it is another command's)."""
    return read_episodes(agent_folder(out))


def compute_metrics(episodes: list[EpisodeDetails]) -> dict[str, dict[str, Any]]:
    by_context: dict[str, list[EpisodeDetails]] = defaultdict(list)
    for e in episodes:
        by_context[e.context].append(e)
    metrics = {}
    for ctx, eps in sorted(by_context.items()):
        steps = sum(e.steps for e in eps)
        fold_turns = sum(max(0, e.steps - 1) for e in eps) if ctx == "fold" else 0
        curve = mean_tokens_per_turn(eps)
        metrics[ctx] = {
            "episodes": len(eps),
            "success_rate": float(np.mean([e.success for e in eps])),
            "mean_reward": float(np.mean([e.reward for e in eps])),
            "mean_steps": float(np.mean([e.steps for e in eps])),
            "invalid_action_rate": sum(e.invalid_actions for e in eps) / max(1, steps),
            "invalid_directive_rate": (sum(e.invalid_directives for e in eps) / fold_turns) if fold_turns else None,
            "directive_repair_rate": (sum(e.directive_repairs for e in eps) / fold_turns) if fold_turns else None,
            "unreadable_response_rate": sum(e.unreadable_responses for e in eps) / max(1, steps),
            "prompt_tokens_turn1": curve[0] if curve else None,
            "prompt_tokens_last_turn": curve[-1] if curve else None,
            "turns_reached": len(curve),
            "prompt_tokens_per_turn": curve,
        }
    return metrics


def mean_tokens_per_turn(episodes: list[EpisodeDetails]) -> list[float]:
    """Mean prompt tokens at each turn over the episodes that reached it."""
    longest = max((len(e.prompt_tokens) for e in episodes), default=0)
    return [float(np.mean([e.prompt_tokens[i] for e in episodes if len(e.prompt_tokens) > i]))
            for i in range(longest)]


HEADERS = ["context", "episodes", "success", "mean steps", "invalid actions", "unreadable", "invalid directives",
           "repairs", "prompt tokens turn 1", "last turn (turn)"]


def write_report(out: Path) -> dict[str, Any]:
    """metrics.json, report.md and prompt_tokens.png of an agent run folder, from its records.

    Everything is read and checked first: a folder of another command (or one holding memory-run
    records) raises RunFolderError and nothing is written to it.
    """
    out = Path(out)
    run = agent_folder(out)
    run.check_kind(must_exist=True)
    if not run.records_path.is_file():
        raise EpisodeRecordError(f"{out} has no {run.records_path.name}: not an agent run folder")
    metrics = compute_metrics(read_episodes(run))
    write_json(out / "metrics.json", metrics)
    rows = [[ctx, m["episodes"], pct(m["success_rate"]), f"{m['mean_steps']:.1f}", pct(m["invalid_action_rate"]),
             pct(m["unreadable_response_rate"]), pct(m["invalid_directive_rate"]), pct(m["directive_repair_rate"]),
             f"{m['prompt_tokens_turn1']:.0f}", f"{m['prompt_tokens_last_turn']:.0f} ({m['turns_reached']})"]
            for ctx, m in metrics.items()]
    title = "Expert run (walkthrough replays, rule-written thoughts)" if run.kind == EXPERT_KIND else "Agent run"
    lines = [f"# {title}: {out.name}", "", *markdown_table(HEADERS, rows)]
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
