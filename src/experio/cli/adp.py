"""``experio adp``: convert, export, validate, inspect and mix ADP data.

Each command is a thin layer over a function of :mod:`experio.adp`
(``convert_file``, ``export_file``, ``validate_path``, ``stats``, ``mix``)
that adds a progress bar (rows/s) and a closing summary.

    experio adp convert --dataset agenttuning_os raw.json -o std.jsonl
    experio adp export --to openhands std.jsonl -o sft.jsonl
    experio adp convert --dataset agenttuning_os raw.json --to openhands -o sft.jsonl --adp-output std.jsonl
    experio adp validate data/adp
    experio adp stats std.jsonl
    experio adp mix --weights a=2,b=0.01 a=a.jsonl b=b.jsonl -o mix.jsonl
"""

from __future__ import annotations

import json
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from .common import make_app
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from experio import adp
from experio.adp.parallel import usable_cpus

app = make_app(
    help="Agent Data Protocol: convert datasets to ADP, export ADP to training formats, "
    "validate, inspect and mix.",
    no_args_is_help=True,
)
console = Console(stderr=True)
WORKERS_HELP = (
    "Worker processes: a number, or 'auto' (the default: every CPU for inputs of 5,000 rows or "
    "more, else 1). The output is the same for any number. Measured on 2 idle cores, 200k rows "
    "raw -> ADP -> OpenHands in one pass: 2 workers 5,273 traj/s, 1 worker 3,782."
)


def _handle_sigterm() -> None:
    if threading.current_thread() is threading.main_thread():  # signal() works only there
        signal.signal(signal.SIGTERM, _on_sigterm)


@contextmanager
def _progress(label: str) -> Iterator:
    """A rich progress bar showing rows and rows/s; yields the per-row callback."""
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(bar_width=None),
        TextColumn("{task.completed:,} rows"),
        TextColumn("{task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None, rate=0.0)
        state = {"n": 0}

        def tick(n: int) -> None:
            state["n"] += n
            if state["n"] // 500 != (state["n"] - n) // 500:  # crossed a multiple of 500
                elapsed = bar.tasks[0].elapsed or 1e-9
                bar.update(task, completed=state["n"], rate=state["n"] / elapsed)

        yield tick
        elapsed = bar.tasks[0].elapsed or 1e-9
        bar.update(task, completed=state["n"], rate=state["n"] / elapsed)


def _finish(summary: adp.RunSummary) -> None:
    for line in summary.lines():
        console.print(line, markup=False, highlight=False)
    if not summary.balanced:  # pragma: no cover - an internal invariant
        console.print("[red]internal error: rows in != rows ok + rows rejected[/red]")
        raise typer.Exit(3)


#: with ``--workers auto``, inputs of at least this many rows use every CPU
AUTO_WORKERS_MIN_ROWS = 5000


def _workers(value: str, input: Path) -> int:
    """``--workers``: a positive number, or ``auto`` (every usable CPU for inputs of
    at least AUTO_WORKERS_MIN_ROWS rows; below that, starting workers costs more
    than it saves)."""
    if value == "auto":
        try:
            big = adp.has_at_least_rows(input, AUTO_WORKERS_MIN_ROWS)
        except (OSError, adp.InputFormatError):
            big = False  # the run itself reports the unreadable input
        return usable_cpus() if big else 1
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        _fail(f"--workers must be a positive number or 'auto', got {value!r}")
    return n


def _on_sigterm(signum: int, frame: object) -> None:
    """``kill``: unwind like Ctrl-C, so workers are stopped and no partial output is kept."""
    raise SystemExit(128 + signum)


def _fail(msg: str, code: int = 2) -> None:
    console.print(f"[red]error:[/red] {msg}", highlight=False)
    raise typer.Exit(code)


@app.command()
def convert(
    input: Path = typer.Argument(..., help="Raw rows: .jsonl[.gz], .parquet or a .json array."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Converter name (see experio adp list)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output: .jsonl, .jsonl.gz or .parquet (ADP, or --to's format)."),
    version: str = typer.Option("release", help="Wire form: 'release' or '1.2.0'."),
    to: Optional[str] = typer.Option(
        None, "--to", "-t", help="One pass raw -> ADP -> this training format (openhands, sweagent, agentlab, "
        "openai, trl): OUTPUT holds the exported rows; faster than convert then export."
    ),
    adp_output: Optional[Path] = typer.Option(
        None, "--adp-output", help="With --to: also write the ADP trajectories of the same rows here."
    ),
    workers: str = typer.Option("auto", "--workers", "-j", help=WORKERS_HELP),
) -> None:
    """Convert raw dataset rows to ADP trajectories (or, with --to, straight to a training format)."""
    if dataset not in adp.converter_names():
        _fail(f"no converter named {dataset!r}; known: {', '.join(adp.converter_names())}")
    if to is not None and to not in adp.exporter_names():
        _fail(f"no exporter named {to!r}; known: {', '.join(adp.exporter_names())}")
    if adp_output is not None and to is None:
        _fail("--adp-output needs --to (without it OUTPUT is the ADP file already)")
    n = _workers(workers, input)
    _handle_sigterm()
    label = f"convert {dataset}" + (f" -> {to}" if to else "")
    try:
        with _progress(label) as tick:
            summary = adp.convert_file(dataset, input, output, version=version, progress=tick, workers=n,
                                       to=to, adp_output=adp_output)
    except (FileNotFoundError, adp.InputFormatError, ValueError) as e:
        _fail(str(e))
    _finish(summary)


@app.command()
def export(
    input: Path = typer.Argument(..., help="ADP trajectories: .jsonl[.gz], .parquet or .json array."),
    to: str = typer.Option(..., "--to", "-t", help="Format: openhands, sweagent, agentlab, openai, trl."),
    output: Path = typer.Option(..., "--output", "-o", help="Output: .jsonl, .jsonl.gz or .parquet."),
    dataset: Optional[str] = typer.Option(
        None, "--dataset", "-d", help="Dataset whose tool registry to use (default: from the path)."
    ),
    workers: str = typer.Option("auto", "--workers", "-j", help=WORKERS_HELP),
) -> None:
    """Export ADP trajectories to a training format."""
    if to not in adp.exporter_names():
        _fail(f"no exporter named {to!r}; known: {', '.join(adp.exporter_names())}")
    n = _workers(workers, input)
    _handle_sigterm()
    try:
        with _progress(f"export {to}") as tick:
            summary = adp.export_file(to, input, output, dataset=dataset, progress=tick, workers=n)
    except (FileNotFoundError, adp.InputFormatError, ValueError) as e:
        _fail(str(e))
    _finish(summary)


@app.command()
def validate(
    path: Path = typer.Argument(..., help="An ADP file, a dataset folder, or a folder of them."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Tool registry to check against."),
) -> None:
    """Validate schema, tool names, ids and turn counts; exit 1 on any error."""
    try:
        report = adp.validate_path(path, dataset)
    except FileNotFoundError as e:
        _fail(str(e))
    table = Table(title="ADP validation")
    for col in ("dataset", "trajectories", "exports", "errors"):
        table.add_column(col)
    for d in report.datasets:
        table.add_row(
            d.dataset,
            str(d.rows),
            ", ".join(d.exports) or "-",
            "[green]0[/green]" if d.ok else f"[red]{d.errors}[/red]",
        )
    console.print(table)
    for d in report.datasets:
        if not d.ok:
            for line in d.lines():
                console.print(line, markup=False, highlight=False)
    if not report.ok:
        console.print(f"[red]{report.errors} error(s)[/red]")
        raise typer.Exit(1)
    console.print("[green]all checks passed[/green]")


@app.command()
def stats(
    path: Path = typer.Argument(..., help="An ADP file or a folder of them."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Statistics per dataset: trajectories, turns, actions, tools, languages."""
    try:
        result = adp.stats(path)
    except FileNotFoundError as e:
        _fail(str(e))
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table(title="ADP statistics")
    for col in ("dataset", "traj", "mean items", "max", "actions", "obs", "finished", "top functions", "languages"):
        table.add_column(col)
    for name, s in result.items():
        table.add_row(
            name,
            f"{s['trajectories']:,}",
            f"{s['mean_items']:.1f}",
            str(s["max_items"]),
            f"{s['actions']:,}",
            f"{s['observations']:,}",
            f"{s['finished']:,}",
            ", ".join(f"{k}:{v}" for k, v in list(s["functions"].items())[:4]),
            ", ".join(f"{k}:{v}" for k, v in s["languages"].items()),
        )
    Console().print(table)


@app.command()
def mix(
    inputs: List[str] = typer.Argument(..., help="Inputs as NAME=PATH (or PATH, named by its folder)."),
    weights: str = typer.Option("", "--weights", "-w", help="Sampling weights, e.g. a=2,b=0.01."),
    output: Path = typer.Option(..., "--output", "-o", help="Output: .jsonl, .jsonl.gz or .parquet."),
    seed: int = typer.Option(0, help="Random seed for fractional weights."),
    tag: bool = typer.Option(False, "--tag", help="Record the input name in details['mix_source']."),
) -> None:
    """Mix ADP datasets with sampling weights (2 doubles, 0.01 keeps 1 in 100)."""
    try:
        named = adp.name_inputs(inputs)
        w = adp.parse_weights(weights)
        with _progress("mix") as tick:
            summary = adp.mix(named, w, output, seed=seed, tag_source=tag, progress=tick)
    except (FileNotFoundError, adp.InputFormatError, ValueError) as e:
        _fail(str(e))
    _finish(summary)


@app.command("list")
def list_() -> None:
    """List converters, exporters and tool registries."""
    typer.echo("converters: " + ", ".join(adp.converter_names()))
    typer.echo("exporters:  " + ", ".join(adp.exporter_names()))
    typer.echo("tools:      " + ", ".join(adp.toolset_names()))
