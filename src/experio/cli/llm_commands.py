"""`experio info | generate | score | check`."""

from __future__ import annotations

import json
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from experio.errors import InputFileError, input_file
from experio.llm import BACKENDS, LLMError, embedded_model_path, experio_home

from .common import ApiKeyOption, BaseUrlOption, LLMOption, ModelOption, console, open_llm, table


def info() -> None:
    """Show backends, the model file, package versions and threads."""
    rows = table("what", "value", title="experio")
    rows.add_row("experio", _version("experio"))
    rows.add_row("python", platform.python_version())
    rows.add_row("backends", ", ".join(BACKENDS))
    rows.add_row("EXPERIO_LLM", os.environ.get("EXPERIO_LLM", "(unset: llamacpp)"))
    for var in ("EXPERIO_MODEL", "EXPERIO_BASE_URL", "EXPERIO_HOME"):
        rows.add_row(var, os.environ.get(var, "(unset)"))
    rows.add_row("EXPERIO_API_KEY", "(set)" if os.environ.get("EXPERIO_API_KEY") else "(unset)")
    try:
        path = embedded_model_path()
        rows.add_row("embedded model", f"{path} ({path.stat().st_size / 2**20:.1f} MiB, sha256 verified)")
    except LLMError as e:  # info reports a broken model file instead of stopping
        rows.add_row("embedded model", f"[red]{escape(str(e))}[/red]")
    rows.add_row("cache", str(experio_home()))
    for pkg in ("llama-cpp-python", "torch", "transformers", "sentence-transformers", "openai", "pydantic"):
        rows.add_row(pkg, _version(pkg))
    rows.add_row("threads", _threads())
    console.print(rows)


def _threads() -> str:
    try:
        import torch
    except ImportError:
        return str(os.cpu_count())
    return f"{os.cpu_count()} cores; torch uses {torch.get_num_threads()}; llama.cpp uses {os.cpu_count()}"


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
    api_key: Optional[str] = ApiKeyOption,
) -> None:
    """Generate a continuation, streaming tokens as they come."""
    schema = _read_schema(json_schema) if json_schema is not None else None
    backend = open_llm(llm, model, base_url, api_key)
    text = [{"role": "user", "content": prompt}] if chat else prompt
    params = dict(max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed, stop=stop or None)
    if schema is not None:
        out = backend.generate(text, json_schema=schema, **params)[0]
        console.print_json(json.dumps(out.parsed))
        return
    for piece in backend.stream(text, **params):
        console.print(piece, end="", highlight=False, markup=False, soft_wrap=True)
    console.print()


def score(
    prompt: str = typer.Argument(..., help="The conditioning text."),
    continuation: str = typer.Argument(..., help="The text whose log-probability is reported."),
    llm: Optional[str] = LLMOption,
    model: Optional[str] = ModelOption,
    base_url: Optional[str] = BaseUrlOption,
    api_key: Optional[str] = ApiKeyOption,
) -> None:
    """Per-token log-probabilities of CONTINUATION given PROMPT, and their sum."""
    result = open_llm(llm, model, base_url, api_key).score(prompt, continuation)
    rows = table("token", "log p")
    for tok, lp in zip(result.tokens, result.logprobs):
        rows.add_row(escape(repr(tok)), f"{lp:.4f}")
    rows.add_row("[bold]sum[/bold]", f"[bold]{result.total:.4f}[/bold]")
    console.print(rows)


def check(
    out: Path = typer.Option(Path("runs/check"), "--out", help="Run folder for config, metrics and report."),
    llm: Optional[str] = LLMOption,
    model: Optional[str] = ModelOption,
    base_url: Optional[str] = BaseUrlOption,
    api_key: Optional[str] = ApiKeyOption,
) -> None:
    """Check a model: generation, constrained output, scoring and retrieval against known answers."""
    from .check import run_check

    run_check(open_llm(llm, model, base_url, api_key), out, console=console)


def register(app: typer.Typer) -> None:
    for command in (info, generate, score, check):
        app.command()(command)


def _version(pkg: str) -> str:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return "not installed"


def _read_schema(path: Path) -> dict:
    """The JSON schema in `path`, or one clear error (missing file, a directory, not JSON)."""
    if not path.exists():
        raise InputFileError(f"schema file not found: {path}")
    try:
        schema = json.loads(input_file(path, "schema file").read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputFileError(f"schema file {path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except UnicodeDecodeError:
        raise InputFileError(f"schema file {path} is not UTF-8 text") from None
    if not isinstance(schema, dict):
        raise InputFileError(f"schema file {path} holds a JSON {type(schema).__name__}, not a JSON schema object")
    return schema
