"""The report of a guessing-game run folder: success per condition, then every emergence measure.

    from experio.emergence import report_game
    paths = report_game("runs/game", shuffles=200, seed=0)     # report.md, metrics.json, PNGs
    paths["report"].read_text()

Reads only what the run folder holds (``config.json``, ``groups.jsonl``, the group CSVs), so a
report can be rebuilt at any time, also of a run that is still going. The measures come from
`analyze_groups` over ``<condition>/group_XXX.csv``; groups that won within ``lag + 1`` rounds
are too short for time-delayed measures and are left out of that part (the report says how many).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from experio.runs import markdown_table, write_text

from .analyze import DEFAULT_BINS, DEFAULT_SHUFFLES, MEASURE_KEYS, Report, jsonable, analyze_groups
from .errors import EmergenceInputError
from .game import CONDITIONS, GroupRecord, group_csv_path, read_records, run_folder, wilson_interval


def success_table(records: list[GroupRecord], n_agents: int) -> list[dict]:
    """Per condition: groups, wins, success rate with its 95 % Wilson interval, rounds, answer quality."""
    rows = []
    conds = [c for c in CONDITIONS if any(r.condition == c for r in records)]
    for c in conds:
        rs = [r for r in records if r.condition == c]
        k, n = sum(r.success for r in rs), len(rs)
        lo, hi = wilson_interval(k, n)
        answers = sum(r.rounds_played for r in rs) * n_agents
        wins = [r.rounds_played for r in rs if r.success]
        rows.append({
            "condition": c, "groups": n, "wins": k, "success_rate": k / n, "ci95": [lo, hi],
            "mean_rounds_to_win": float(np.mean(wins)) if wins else None,
            "mean_final_abs_error": float(np.mean([abs(r.sums[-1] - r.target) for r in rs])),
            "answers": answers,
            "retried": sum(r.retried for r in rs), "clamped": sum(r.clamped for r in rs),
            "invalid": sum(r.invalid for r in rs),
            "seconds_per_group": float(np.mean([r.seconds for r in rs])),
        })
    return rows


def report_game(
    out: str | os.PathLike,
    *,
    shuffles: int = DEFAULT_SHUFFLES,
    bins: int = DEFAULT_BINS,
    measure: str = "imin",
    estimator: str = "plugin",
    lag: int = 1,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, Path]:
    """Write report.md, metrics.json and the analysis plots of the run folder `out`."""
    run = run_folder(out)
    run.check_kind(must_exist=True)
    out = run.path
    records = read_records(out)
    if not records:
        raise EmergenceInputError(f"{out} holds no finished groups (no {out / 'groups.jsonl'}); play some first.")
    cfg = run.config()
    game = cfg["game"]
    table = success_table(records, game["n_agents"])
    analysable: dict[str, list[Path]] = {}
    short: dict[str, int] = {}
    for r in records:
        if r.rounds_played >= lag + 2:
            analysable.setdefault(r.condition, []).append(group_csv_path(out, r.condition, r.group))
        else:
            short[r.condition] = short.get(r.condition, 0) + 1
    report: Report | None = None
    if analysable:
        report = analyze_groups(analysable, bins=bins, shuffles=shuffles, seed=seed, measure=measure,
                                estimator=estimator, lag=lag, alpha=alpha)
    paths: dict[str, Path] = {}
    if report is not None:
        from .plots import plot_measures, plot_nulls  # matplotlib only when writing plots

        paths["capacity_nulls"] = plot_nulls(report, out / "capacity_nulls.png")
        paths["measures"] = plot_measures(report, out / "measures.png")
    metrics = {"game": {"success": table, "short_groups": short},
               "analysis": report.to_dict() if report is not None else None}
    paths["metrics"] = write_text(out / "metrics.json", json.dumps(jsonable(metrics), indent=2))
    paths["report"] = write_text(out / "report.md", _markdown(cfg, table, short, report, lag))
    return paths


def _markdown(cfg: dict, table: list[dict], short: dict[str, int], report: Report | None, lag: int) -> str:
    g = cfg["game"]
    lines = [
        "# Group guessing game",
        "",
        f"LLM `{cfg['llm']}` ({cfg.get('prompt_style', '?')} prompts), {g['n_agents']} agents, at most "
        f"{g['rounds']} rounds, target {g['target_range'][0]}..{g['target_range'][1]}, guesses "
        f"{g['guess_range'][0]}..{g['guess_range'][1]}, temperature {g['temperature']}, top_p {g['top_p']}, "
        f"invalid-answer policy `{g['constrain']}`, reasoning tokens {g['reasoning_tokens']}, seed {cfg['seed']}. "
        "Group g has the same target in every condition.",
        "",
        "## Success per condition",
        "",
    ]
    lines += markdown_table(
        ["condition", "groups", "wins", "success rate (95 % CI)", "rounds to win", "final abs. error", "answers",
         "retried", "clamped", "invalid", "wall s / group"],
        [[t["condition"], t["groups"], t["wins"], f"{t['success_rate']:.0%} ({t['ci95'][0]:.0%}-{t['ci95'][1]:.0%})",
          f"{t['mean_rounds_to_win']:.1f}" if t["mean_rounds_to_win"] is not None else "-",
          f"{t['mean_final_abs_error']:.1f}", t["answers"], t["retried"], t["clamped"], t["invalid"],
          f"{t['seconds_per_group']:.1f}"] for t in table])
    lines += [
        "",
        "`answers`: guesses asked for. Of those whose first reply had no number in range and were asked once "
        "more (constrained when the policy is `retry`): `retried` = the retry gave a valid number; `clamped` = "
        "still out of range, moved into range; `invalid` = still no number, the agent's previous guess (25 in "
        "round 1) was used.",
        "",
    ]
    if report is None:
        lines += ["No group lasted long enough for the time-delayed measures "
                  f"(they need at least {lag + 2} rounds).", ""]
        return "\n".join(lines)
    if short:
        lines += [f"Left out of the measures (won in fewer than {lag + 2} rounds): "
                  + ", ".join(f"{c} {n}" for c, n in short.items()) + ".", ""]
    lines += ["## Key measures per condition", ""]
    lines += markdown_table(["condition", "groups", *MEASURE_KEYS],
                            [[c, s.n_groups, *(f"{s.mean[m]:.3f}" for m in MEASURE_KEYS)]
                             for c, s in report.conditions.items()])
    lines += ["", "Means over groups (bits). Details, nulls and per-group values below.", ""]
    # the analysis report, one heading level down
    lines += [("#" + ln if ln.startswith("#") else ln) for ln in report.markdown().splitlines()]
    return "\n".join(lines) + "\n"
