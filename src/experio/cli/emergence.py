"""`experio emergence analyze CSV... --out runs/NAME`: a thin layer over analyze_groups."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from experio.emergence import MEASURES, EmergenceError, analyze_groups

app = typer.Typer(help="Information-theoretic emergence measures (Psi, PID synergy, I3) for multi-agent logs.")
console = Console(stderr=True)


@app.callback()
def _group() -> None:
    """Information-theoretic emergence measures for multi-agent logs (`analyze`; `game` comes with the LLM layer)."""


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
    try:
        with Progress(TextColumn("[bold]emergence"), BarColumn(), TextColumn("{task.completed}/{task.total} surrogate groups"),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=console) as bar:
            task = bar.add_task("analyze", total=None)
            report = analyze_groups(inputs, bins=bins, shuffles=shuffles, seed=seed, measure=measure, estimator=estimator,
                                    lag=lag, alpha=alpha, progress=lambda d, t: bar.update(task, completed=d, total=t))
        paths = report.write(out)
    except EmergenceError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(code=2) from None
    for w in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    for c, s in report.conditions.items():
        console.print(f"{c}: {s.n_groups} groups, capacity {s.mean['capacity']:.3f} bits, psi {s.mean['psi']:.3f}, "
                      f"beat row/shift null {s.share_significant['capacity']['row']:.0%}/{s.share_significant['capacity']['shift']:.0%}")
    console.print(f"wrote {paths['report']}")
