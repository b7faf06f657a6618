"""`experio emergence analyze` and `experio emergence game`: thin layers over the library.

    experio emergence analyze runs/game/plain runs/game/tom --out runs/emergence-1
    experio emergence game --agents 10 --groups 10 --condition plain --condition tom --out runs/game
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from experio.emergence import (CONDITIONS, MEASURES, GameConfig, analyze_groups, check_conditions, check_report_folder, play_groups,
                               report_game, success_table)

from .common import ApiKeyOption, BaseUrlOption, LLMOption, ModelOption, make_app, open_llm

app = make_app(help="Information-theoretic emergence measures (Psi, PID synergy, I3) for multi-agent logs.")
console = Console(stderr=True)


@app.callback()
def _group() -> None:
    """Information-theoretic emergence measures for multi-agent logs (`analyze`) and the group guessing game (`game`)."""


def _expand(item: str) -> list[Path]:
    p = Path(item)
    if p.is_dir():
        return sorted(p.glob("*.csv"))
    hits = sorted(Path(h) for h in glob.glob(item))
    return hits or [p]  # a missing file is reported by the reader, with its name


@app.command()
def analyze(
    csv: list[str] = typer.Argument(None, help="Group CSVs (round,agent_1,...,agent_N), folders or globs; condition = parent folder."),
    out: Path = typer.Option(..., "--out", help="Run folder for report.md, metrics.json, config.json, PNGs."),
    condition: list[str] = typer.Option([], "--condition", "-c", help="NAME=GLOB (repeatable): files of one condition."),
    bins: int = typer.Option(2, help="Quantile bins per agent (and for the group sum)."),
    shuffles: int = typer.Option(200, help="Surrogates per null (row shuffle, time shift)."),
    seed: int = typer.Option(0, help="Random seed of the nulls."),
    measure: str = typer.Option("imin", help=f"PID redundancy measure: {', '.join(MEASURES)}."),
    estimator: str = typer.Option("plugin", help="Entropy estimator: plugin, miller_madow, jeffreys."),
    lag: int = typer.Option(1, help="Time lag in rounds."),
    alpha: float = typer.Option(0.05, help="Significance level for the shares and the COPY-trap flag."),
) -> None:
    """Analyse group logs: every measure per condition, nulls, plots, COPY-trap warnings."""
    inputs: dict[str, list[Path]] = {}
    for spec in condition:
        if "=" not in spec:
            raise typer.BadParameter(f"--condition {spec!r}: expected NAME=GLOB, e.g. plain='runs/game/plain/*.csv'.")
        name, pattern = spec.split("=", 1)
        files = _expand(pattern)
        inputs.setdefault(name, []).extend(files)
    for item in csv or []:
        for f in _expand(item):
            inputs.setdefault(f.parent.name or "all", []).append(f)
    if not inputs:
        raise typer.BadParameter("give at least one CSV (argument) or --condition NAME=GLOB.")
    check_report_folder(out)  # before the work: nothing of another command's folder is overwritten
    with Progress(TextColumn("[bold]emergence"), BarColumn(), TextColumn("{task.completed}/{task.total} surrogate groups"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("analyze", total=None)
        report = analyze_groups(inputs, bins=bins, shuffles=shuffles, seed=seed, measure=measure, estimator=estimator,
                                lag=lag, alpha=alpha, progress=lambda d, t: bar.update(task, completed=d, total=t))
    paths = report.write(out)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    for c, s in report.conditions.items():
        console.print(f"{c}: {s.n_groups} groups, capacity {s.mean['capacity']:.3f} bits, psi {s.mean['psi']:.3f}, "
                      f"beat row/shift null {s.share_significant['capacity']['row']:.0%}/{s.share_significant['capacity']['shift']:.0%}")
    console.print(f"wrote {paths['report']}")


@app.command()
def game(
    out: Path = typer.Option(..., "--out", help="Run folder: <condition>/group_XXX.csv, trajectories.jsonl, groups.jsonl, report.md."),
    agents: int = typer.Option(10, "--agents", help="Agents per group (paper: 10)."),
    groups: int = typer.Option(10, "--groups", help="Groups per condition (paper: 200)."),
    condition: list[str] = typer.Option([], "--condition", "-c", help="plain, persona or tom (repeatable; default: all three)."),
    rounds: int = typer.Option(20, "--rounds", help="At most this many rounds (paper: 20)."),
    temperature: float = typer.Option(1.0, help="Sampling temperature (paper: 1.0)."),
    seed: int = typer.Option(0, help="Seed of targets and personas (and of every call with --seed-calls)."),
    resume: bool = typer.Option(False, "--resume", help="Continue a run folder: finished groups are skipped."),
    workers: int = typer.Option(4, help="Groups played in parallel threads (llamacpp queues calls; servers gain)."),
    prompt_style: str = typer.Option("auto", help="auto, completion (base models) or chat (FINAL GUESS parsed)."),
    constrain: str = typer.Option("retry", help="retry: invalid answers are asked again constrained; always; never."),
    reasoning_tokens: int = typer.Option(0, help="Completion style: a short 'Thinking:' line of at most this many tokens first."),
    seed_calls: bool = typer.Option(False, "--seed-calls", help="Seed every model call (reproducible text; slower on llamacpp)."),
    shuffles: int = typer.Option(200, help="Surrogates per null in the analysis."),
    measure: str = typer.Option("imin", help=f"PID redundancy measure of the analysis: {', '.join(MEASURES)}."),
    llm: Optional[str] = LLMOption,
    model: Optional[str] = ModelOption,
    base_url: Optional[str] = BaseUrlOption,
    api_key: Optional[str] = ApiKeyOption,
) -> None:
    """Play the group guessing game (Riedl 2025) with any LLM, then analyse it: success per condition and every measure."""
    config = GameConfig(n_agents=agents, rounds=rounds, temperature=temperature, prompt_style=prompt_style,
                        constrain=constrain, reasoning_tokens=reasoning_tokens, seed_calls=seed_calls)
    conditions = check_conditions(condition or CONDITIONS)  # before the model loads
    lm = open_llm(llm, model, base_url, api_key)
    run = play_groups(lm, out, groups=groups, conditions=conditions, config=config, seed=seed,
                      workers=workers, resume=resume, progress=True)
    console.print(f"played {run.played_now} group(s); {len(run.records)} finished in {out}")
    with console.status("Analysing..."):
        paths = report_game(out, shuffles=shuffles, measure=measure, seed=seed)
    for t in success_table(run.records, agents):
        console.print(f"{t['condition']}: {t['wins']}/{t['groups']} groups won ({t['success_rate']:.0%}), "
                      f"{t['retried']} retried / {t['clamped']} clamped / {t['invalid']} invalid answers of {t['answers']}")
    console.print(f"wrote {paths['report']}")
