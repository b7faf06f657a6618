"""Options and helpers shared by CLI commands."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console

from experio.llm import LLM, LLMError, load_llm

console = Console()
err_console = Console(stderr=True)

LLMOption = typer.Option(
    None, "--llm", help="Backend: llamacpp (default), openai, hf. Env: EXPERIO_LLM.", show_default=False
)
ModelOption = typer.Option(
    None, "--model", help="GGUF path / model folder (llamacpp, hf) or served model name (openai). Env: EXPERIO_MODEL.",
    show_default=False,
)
BaseUrlOption = typer.Option(
    None, "--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1. Env: EXPERIO_BASE_URL.",
    show_default=False,
)


def open_llm(llm: Optional[str], model: Optional[str], base_url: Optional[str]) -> LLM:
    """Load a backend, turning a setup error into a one-line message and exit code 2."""
    options = {"base_url": base_url} if base_url else {}
    try:
        with err_console.status("Loading the language model..."):
            return load_llm(llm, model, **options)
    except LLMError as e:
        fail(str(e))


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/bold red] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)
