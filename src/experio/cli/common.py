"""Options, the one error path, and the console helpers shared by every CLI command.

Every `experio` app is made with `make_app`, whose command group turns errors into exit codes
in one place:

- an `ExperioError` becomes one red line: exit 2 for a usage error (a bad option value, a
  missing input file: `UsageError`, `InputFileError`, as click does), exit 1 otherwise;
- Ctrl-C becomes one line saying that finished work is kept and `--resume` continues, exit 130;
- anything else is a real bug and keeps its traceback.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Optional

import click
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from experio.errors import ExperioError, InputFileError, UsageError


def _width() -> int | None:
    """The terminal's width; off a terminal (pipes, CI) wide enough that tables are not cut."""
    if os.environ.get("COLUMNS"):
        return None  # rich reads it
    size = shutil.get_terminal_size(fallback=(0, 0))
    return None if size.columns else 160


console = Console(width=_width())
err_console = Console(stderr=True, width=_width())


def error_exit_code(error: ExperioError) -> int:
    """2 for a usage error (bad option value, missing input), 1 for every other ExperioError."""
    return 2 if isinstance(error, (UsageError, InputFileError)) else 1


def print_error(message: str) -> None:
    err_console.print(f"[bold red]error:[/bold red] {message}", soft_wrap=True, highlight=False, markup=True)


class ExperioGroup(TyperGroup):
    """A typer group that turns ExperioError and Ctrl-C into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ExperioError as e:
            print_error(_escape(str(e)))
            raise typer.Exit(error_exit_code(e)) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/yellow]: what finished is kept; a run command continues "
                              "where it stopped when rerun with --resume", highlight=False)
            raise typer.Exit(130) from None


def make_app(help: str, **options: Any) -> typer.Typer:
    """A typer app with experio's error handling (`ExperioGroup`)."""
    options.setdefault("no_args_is_help", True)
    return typer.Typer(cls=ExperioGroup, help=help, pretty_exceptions_show_locals=False, **options)


def fail(message: str, code: int = 2) -> None:
    """Stop a command with one red line (exit 2: the user's input was wrong)."""
    print_error(_escape(message))
    raise typer.Exit(code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def table(*headers: str, title: str | None = None) -> Table:
    """A rich table whose cells fold instead of being cut with an ellipsis."""
    t = Table(title=title)
    for h in headers:
        t.add_column(h, overflow="fold")
    return t


LLMOption = typer.Option(
    None, "--llm", help="Backend: llamacpp (default), openai, hf. Env: EXPERIO_LLM.", show_default=False
)
ModelOption = typer.Option(
    None, "--model", help="GGUF path / model folder (llamacpp, hf) or served model name (openai). Unset or "
    "`embedded`: the embedded Gemma 3 270M; `embedded-agent`: experio's tuned agent. Env: EXPERIO_MODEL.",
    show_default=False,
)
BaseUrlOption = typer.Option(
    None, "--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1. Env: EXPERIO_BASE_URL.",
    show_default=False,
)
ApiKeyOption = typer.Option(
    None, "--api-key", help="API key of the server (openai backend). Env: EXPERIO_API_KEY.", show_default=False
)

PrecisionOption = typer.Option(
    "auto", "--precision", help="Training precision: bf16 (the frozen base in bfloat16 under fp32 LoRA adapters), "
    "fp32, or auto (bf16 where the CPU or GPU has native bfloat16, else fp32).",
)


AgentModelOption = typer.Option(
    None, "--model", help="GGUF path / model folder (llamacpp, hf) or served model name (openai). Unset: the embedded "
    "agent (Gemma 3 270M + experio's tuned adapter); `embedded`: the base model. Env: EXPERIO_MODEL.",
    show_default=False,
)
EMBEDDED, EMBEDDED_AGENT = "embedded", "embedded-agent"  # model names every local backend command accepts


def open_llm(llm: Optional[str], model: Optional[str], base_url: Optional[str], api_key: Optional[str] = None,
             *, agent: bool = False):
    """Load a backend (errors reach the user through ExperioGroup as one line).

    `--model embedded` is the base model, `--model embedded-agent` the tuned agent (base + the
    shipped adapter, built on first use); with `agent=True` an unset model means the agent.
    """
    from experio.llm import load_llm

    backend = (llm or os.environ.get("EXPERIO_LLM") or "llamacpp").lower()
    model = model or os.environ.get("EXPERIO_MODEL") or None
    if backend in ("llamacpp", "hf") and (model == EMBEDDED_AGENT or (agent and model is None)):
        from experio.train import agent_model_path

        with err_console.status("Preparing the embedded agent (built from base + adapter on first use)..."):
            model = str(agent_model_path())
    elif backend in ("llamacpp", "hf") and model == EMBEDDED:
        model = None
    options = {k: v for k, v in (("base_url", base_url), ("api_key", api_key)) if v}
    with err_console.status("Loading the language model..."):
        return load_llm(llm, model, **options)
