"""``experio adp``: convert, export, validate, inspect and mix ADP data (and ATIF).

Each command is a thin layer over a function of :mod:`experio.adp`
(``convert_file``, ``export_file``, ``validate_path``, ``stats``, ``mix``)
that adds a progress bar (rows/s) and a closing summary. Errors (an unknown
name, a missing input) reach the user as one line through ``ExperioGroup``.

    experio adp convert --dataset agenttuning_os raw.json -o std.jsonl
    experio adp export --to openhands std.jsonl -o sft.jsonl
    experio adp convert --dataset agenttuning_os raw.json --to openhands -o sft.jsonl --adp-output std.jsonl
    experio adp export --to atif std.jsonl -o std.atif.jsonl
    experio adp convert std.atif.jsonl -o back.jsonl          # ATIF input, recognised by its rows
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
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from experio import adp
from experio.errors import UsageError

from .common import console as out_console
from .common import err_console as console
from .common import fail, make_app, table

app = make_app(
    help="Agent Data Protocol: convert datasets (and ATIF) to ADP, export ADP to training formats "
    "and ATIF, validate, inspect and mix.",
    no_args_is_help=True,
)
WORKERS_HELP = (
    "Worker processes: a number, or 'auto' (the default: every CPU for inputs of 5,000 rows or "
    "more, else 1). The output is the same for any number."
)
STRICT_HELP = "Exit 1 when any row was rejected (the default exits 0 and prints the balance)."
FROM_HELP = "What the input rows are: 'adp', 'atif', or 'auto' (each row by its shape)."


def _handle_sigterm() -> None:
    if threading.current_thread() is threading.main_thread():  # signal() works only there
        signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: object) -> None:
    """``kill``: unwind like Ctrl-C, so workers are stopped and no partial output is kept."""
    raise SystemExit(128 + signum)


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


def _finish(summary: adp.RunSummary, strict: bool = False) -> None:
    """Print the balance; with ``strict``, exit 1 when any row was rejected."""
    for line in summary.lines():
        console.print(line, markup=False, highlight=False)
    if not summary.balanced:  # pragma: no cover - an internal invariant
        fail("internal error: rows in != rows ok + rows rejected", 3)
    if strict and summary.rejected:
        fail(f"{summary.rejected} row(s) rejected (--strict); see {summary.rejects_path}", 1)


#: with ``--workers auto``, inputs of at least this many rows use every CPU
AUTO_WORKERS_MIN_ROWS = 5000


def _workers(value: str, input: Path) -> int:
    """``--workers``: a positive number, or ``auto`` (every usable CPU for inputs of at least
    AUTO_WORKERS_MIN_ROWS rows; below that, starting workers costs more than it saves)."""
    if value == "auto":
        try:
            big = adp.has_at_least_rows(input, AUTO_WORKERS_MIN_ROWS)
        except (OSError, adp.InputFormatError):
            big = False  # the run itself reports the unreadable input
        return adp.usable_cpus() if big else 1
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise UsageError(f"--workers must be a positive number or 'auto', got {value!r}")
    return n


def _dataset_of(input: Path, dataset: Optional[str]) -> str:
    """``--dataset``, or the converter recognised from the rows (ATIF); else a usage error."""
    if dataset is not None:
        adp.get_converter(dataset)  # an unknown name lists the known ones
        return dataset
    found = adp.detect_dataset(input)
    if found is None:
        raise UsageError(f"{input}: pass --dataset NAME (only ATIF rows are recognised by their shape); "
                         f"choose one of: {', '.join(adp.converter_names())}")
    return found


@app.command()
def convert(
    input: Path = typer.Argument(..., help="Raw rows: .jsonl[.gz], .parquet or a .json array (or one object)."),
    dataset: Optional[str] = typer.Option(
        None, "--dataset", "-d", help="Converter name (see experio adp list); 'atif' for ATIF trajectories, "
        "which are also recognised without it."),
    output: Path = typer.Option(..., "--output", "-o", help="Output: .jsonl, .jsonl.gz or .parquet (ADP, or --to's format)."),
    version: str = typer.Option("release", help="Wire form: 'release' or '1.2.0'."),
    to: Optional[str] = typer.Option(
        None, "--to", "-t", help="One pass raw -> ADP -> this format (openhands, sweagent, agentlab, "
        "openai, trl, atif): OUTPUT holds the exported rows; faster than convert then export."
    ),
    adp_output: Optional[Path] = typer.Option(
        None, "--adp-output", help="With --to: also write the ADP trajectories of the same rows here."
    ),
    workers: str = typer.Option("auto", "--workers", "-j", help=WORKERS_HELP),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
) -> None:
    """Convert raw dataset rows (or ATIF) to ADP trajectories (or, with --to, straight to a training format)."""
    name = _dataset_of(input, dataset)
    if to is not None:
        adp.get_exporter(to)
    if adp_output is not None and to is None:
        fail("--adp-output needs --to (without it OUTPUT is the ADP file already)")
    n = _workers(workers, input)
    _handle_sigterm()
    label = f"convert {name}" + (f" -> {to}" if to else "")
    with _progress(label) as tick:
        summary = adp.convert_file(name, input, output, version=version, progress=tick, workers=n,
                                   to=to, adp_output=adp_output)
    _finish(summary, strict)


@app.command()
def export(
    input: Path = typer.Argument(..., help="ADP (or ATIF) trajectories: .jsonl[.gz], .parquet or .json."),
    to: str = typer.Option(..., "--to", "-t", help="Format: openhands, sweagent, agentlab, openai, trl, atif."),
    output: Path = typer.Option(..., "--output", "-o", help="Output: .jsonl, .jsonl.gz or .parquet."),
    dataset: Optional[str] = typer.Option(
        None, "--dataset", "-d", help="Dataset whose tool registry to use (default: from the path)."
    ),
    input_format: str = typer.Option("auto", "--from", help=FROM_HELP),
    workers: str = typer.Option("auto", "--workers", "-j", help=WORKERS_HELP),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
) -> None:
    """Export ADP trajectories to a training format or to ATIF."""
    adp.get_exporter(to)  # an unknown name lists the known ones
    n = _workers(workers, input)
    _handle_sigterm()
    with _progress(f"export {to}") as tick:
        summary = adp.export_file(to, input, output, dataset=dataset, progress=tick, workers=n,
                                  input_format=input_format)
    _finish(summary, strict)


@app.command()
def validate(
    path: Path = typer.Argument(..., help="An ADP (or ATIF) file, a dataset folder, or a folder of them."),
    dataset: Optional[str] = typer.Option(
        None, "--dataset", "-d", help="Tool registry to check against (unknown tools are then errors)."),
    strict: bool = typer.Option(False, "--strict", help="Unknown tools are errors even without a tool registry."),
    input_format: str = typer.Option("auto", "--from", help=FROM_HELP),
) -> None:
    """Validate schema, ids, tool names and turn counts; exit 1 on any error (warnings exit 0)."""
    report = adp.validate_path(path, dataset, strict=strict, input_format=input_format)
    t = table("dataset", "trajectories", "exports", "errors", "warnings", title="ADP validation")
    for d in report.datasets:
        t.add_row(d.dataset, str(d.rows), ", ".join(d.exports) or "-",
                  "[green]0[/green]" if d.ok else f"[red]{d.errors}[/red]",
                  f"[yellow]{d.warnings}[/yellow]" if d.warnings else "0")
    console.print(t)
    for d in report.datasets:
        if not d.ok or d.warnings:
            for line in d.lines():
                console.print(line, markup=False, highlight=False)
    if not report.ok:
        fail(f"{report.errors} error(s)", 1)
    warned = f" ({report.warnings} warning(s))" if report.warnings else ""
    console.print(f"[green]all checks passed[/green]{warned}")


@app.command()
def stats(
    path: Path = typer.Argument(..., help="An ADP file or a folder of them."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Statistics per dataset: trajectories, turns, actions, tools, languages."""
    result = adp.stats(path)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    t = table("dataset", "traj", "mean items", "max", "actions", "obs", "finished", "top functions", "languages",
              title="ADP statistics")
    for name, s in result.items():
        t.add_row(
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
    out_console.print(t)


@app.command()
def mix(
    inputs: List[str] = typer.Argument(..., help="Inputs as NAME=PATH (or PATH, named by its folder)."),
    weights: str = typer.Option("", "--weights", "-w", help="Sampling weights, e.g. a=2,b=0.01."),
    output: Path = typer.Option(..., "--output", "-o", help="Output: .jsonl, .jsonl.gz or .parquet."),
    seed: int = typer.Option(0, help="Random seed for fractional weights."),
    tag: bool = typer.Option(False, "--tag", help="Record the input name in details['mix_source']."),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
) -> None:
    """Mix ADP datasets with sampling weights (2 doubles, 0.01 keeps 1 in 100); repeated ids get #2, #3, ..."""
    named = adp.name_inputs(inputs)
    w = adp.parse_weights(weights)
    with _progress("mix") as tick:
        summary = adp.mix(named, w, output, seed=seed, tag_source=tag, progress=tick)
    _finish(summary, strict)


@app.command("list")
def list_() -> None:
    """List converters, exporters and tool registries."""
    typer.echo("converters: " + ", ".join(adp.converter_names()))
    typer.echo("exporters:  " + ", ".join(adp.exporter_names()))
    typer.echo("tools:      " + ", ".join(adp.toolset_names()))
