"""`experio info | generate | score | check`."""

from __future__ import annotations

import json
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from experio.llm import BACKENDS, LLMError, embedded_model_path, experio_home

from .common import BaseUrlOption, LLMOption, ModelOption, console, fail, open_llm


def info() -> None:
    """Show backends, the model file, package versions and threads."""
    table = Table(title="experio", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("experio", _version("experio"))
    table.add_row("python", platform.python_version())
    table.add_row("backends", ", ".join(BACKENDS))
    table.add_row("EXPERIO_LLM", os.environ.get("EXPERIO_LLM", "(unset: llamacpp)"))
    for var in ("EXPERIO_MODEL", "EXPERIO_BASE_URL", "EXPERIO_HOME"):
        table.add_row(var, os.environ.get(var, "(unset)"))
    try:
        path = embedded_model_path()
        table.add_row("embedded model", f"{path} ({path.stat().st_size / 2**20:.1f} MiB, sha256 verified)")
    except LLMError as e:
        table.add_row("embedded model", f"[red]{e}[/red]")
    table.add_row("cache", str(experio_home()))
    for pkg in ("llama-cpp-python", "torch", "transformers", "sentence-transformers", "openai", "pydantic"):
        table.add_row(pkg, _version(pkg))
    threads = os.cpu_count()
    try:
        import torch

        threads = f"{os.cpu_count()} cores; torch uses {torch.get_num_threads()}; llama.cpp uses {os.cpu_count()}"
    except ImportError:
        pass
    table.add_row("threads", str(threads))
    console.print(table)


def generate(
    prompt: str = typer.Argument(..., help="Text to continue (or the user turn with --chat)."),
    max_tokens: int = typer.Option(128, "--max-tokens", "-n"),
    temperature: float = typer.Option(0.8),
    top_p: float = typer.Option(0.95, "--top-p"),
    seed: Optional[int] = typer.Option(None),
    stop: list[str] = typer.Option([], "--stop", help="Stop sequence (repeatable)."),
    chat: bool = typer.Option(False, help="Treat PROMPT as a user message (chat template or transcript)."),
    json_schema: Optional[Path] = typer.Option(None, "--json-schema", help="JSON schema file: constrain the output."),
    llm: Optional[str] = LLMOption,
    model: Optional[str] = ModelOption,
    base_url: Optional[str] = BaseUrlOption,
) -> None:
    """Generate a continuation, streaming tokens as they come."""
    backend = open_llm(llm, model, base_url)
    text = [{"role": "user", "content": prompt}] if chat else prompt
    params = dict(max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed, stop=stop or None)
    try:
        if json_schema is not None:
            schema = _read_json(json_schema)
            out = backend.generate(text, json_schema=schema, **params)[0]
            console.print_json(json.dumps(out.parsed))
            return
        for piece in backend.stream(text, **params):
            console.print(piece, end="", highlight=False, markup=False, soft_wrap=True)
        console.print()
    except LLMError as e:
        fail(str(e))


def score(
    prompt: str = typer.Argument(..., help="The conditioning text."),
    continuation: str = typer.Argument(..., help="The text whose log-probability is reported."),
    llm: Optional[str] = LLMOption,
    model: Optional[str] = ModelOption,
    base_url: Optional[str] = BaseUrlOption,
) -> None:
    """Per-token log-probabilities of CONTINUATION given PROMPT, and their sum."""
    backend = open_llm(llm, model, base_url)
    try:
        result = backend.score(prompt, continuation)
    except LLMError as e:
        fail(str(e))
    table = Table("token", "log p")
    for tok, lp in zip(result.tokens, result.logprobs):
        table.add_row(repr(tok), f"{lp:.4f}")
    table.add_row("[bold]sum[/bold]", f"[bold]{result.total:.4f}[/bold]")
    console.print(table)


def check(
    out: Path = typer.Option(Path("runs/check"), "--out", help="Run folder for config, metrics and report."),
    llm: Optional[str] = LLMOption,
    model: Optional[str] = ModelOption,
    base_url: Optional[str] = BaseUrlOption,
) -> None:
    """Check a model: generation, constrained output, scoring and retrieval against known answers."""
    from .check import run_check

    backend = open_llm(llm, model, base_url)
    try:
        run_check(backend, out, console=console)
    except LLMError as e:
        fail(str(e))


def register(app: typer.Typer) -> None:
    for command in (info, generate, score, check):
        app.command()(command)


def _version(pkg: str) -> str:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return "not installed"


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        fail(f"schema file not found: {path}")
    except json.JSONDecodeError as e:
        fail(f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}")
