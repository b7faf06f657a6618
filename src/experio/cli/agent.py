"""`experio agent run | expert | report`: episodes of an LLM agent (or of the walkthrough expert) in a real environment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer

from .common import (ApiKeyOption, BaseUrlOption, LLMOption, AgentModelOption, console, fail, make_app, open_llm,
                     table)

app = make_app(help="Run LLM agents in TextWorld or MiniWoB++ with ReAct or AgentFold context.", no_args_is_help=True)


def parse_settings(env: str, pairs: list[str]) -> dict:
    """`key=value` pairs into settings for `env`: ints where they are, comma-separated values as lists.

    An unknown key is a TaskError (a usage error) listing the keys `env` takes.
    """
    from experio.envs import check_settings

    settings: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--setting expects key=value, got {pair!r}")
        value = value.strip()
        if "," in value:
            settings[key.strip()] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            settings[key.strip()] = int(value) if re.fullmatch(r"-?\d+", value) else value
    check_settings(env, settings)
    return settings


def resolve_tasks(env: str, spec: str, seed: int, settings: dict):
    """SPEC is a number of seeded tasks (at least 1) or a JSONL task file."""
    from experio.envs import load_tasks, task_stream
    from experio.errors import positive

    if re.fullmatch(r"-?\d+", spec.strip()):
        return task_stream(env, positive("--tasks", int(spec)), seed=seed, **settings)
    path = Path(spec)
    if not path.is_file():
        fail(f"--tasks {spec!r} is neither a number of tasks nor an existing task file")
    tasks = load_tasks(path)
    wrong = [t.id for t in tasks if t.env != env]
    if wrong:
        fail(f"{spec} has tasks for another environment than {env!r}: {', '.join(wrong[:3])}"
             f"{' ...' if len(wrong) > 3 else ''}; keep one environment per task file")
    return tasks


@app.command()
def run(
    env: str = typer.Option(..., "--env", help="textworld or miniwob."),
    tasks: str = typer.Option("5", "--tasks", help="A number of seeded tasks, or a JSONL task file."),
    context: str = typer.Option("fold", "--context", help="react (full history) or fold (AgentFold)."),
    max_steps: int = typer.Option(40, "--max-steps", min=1),
    seed: int = typer.Option(0, help="First task seed."),
    sample_seed: Optional[int] = typer.Option(
        None, "--sample-seed", help="Seed sampling too: reproducible text, but llama.cpp then re-reads the whole prompt each turn (slower)."),
    temperature: float = typer.Option(0.7),
    setting: list[str] = typer.Option([], "--setting", help="Task setting key=value, e.g. quest_length=10 (repeatable)."),
    constrain_fold: bool = typer.Option(
        True, "--constrain-fold/--free-fold",
        help="Let the schema admit only valid fold ranges (default), or any [int, int] left to validation and repair."),
    out: Path = typer.Option(..., "--out", help="Run folder, e.g. runs/tw-fold."),
    resume: bool = typer.Option(False, "--resume", help="Skip episodes already in the run folder."),
    train_data: list[Path] = typer.Option(
        [], "--train-data", help="A run folder or ADP file the model was trained on: refuse tasks with its seeds (repeatable)."),
    llm: Optional[str] = LLMOption,
    model: Optional[str] = AgentModelOption,
    base_url: Optional[str] = BaseUrlOption,
    api_key: Optional[str] = ApiKeyOption,
) -> None:
    """Run one context manager on a task set; record ADP trajectories and a report."""
    from experio.agent import AgentConfig, check_disjoint, make_context, run_agent
    from experio.envs import get_env_spec

    get_env_spec(env)  # an unknown --env lists the known ones, before anything else
    make_context(context)
    task_list = resolve_tasks(env, tasks, seed, parse_settings(env, setting))
    check_disjoint(task_list, train_data, what="--train-data")
    backend = open_llm(llm, model, base_url, api_key, agent=True)
    config = AgentConfig(max_steps=max_steps, temperature=temperature, seed=sample_seed, constrain_fold=constrain_fold)
    metrics = run_agent(backend, env, task_list, context, out, config=config, resume=resume)
    show_metrics(metrics)
    console.print(f"Run record: {out}/ (config.json, trajectories.jsonl, metrics.json, report.md, prompt_tokens.png)")


@app.command()
def expert(
    env: str = typer.Option(..., "--env", help="An environment whose games have a walkthrough: textworld."),
    tasks: str = typer.Option("5", "--tasks", help="A number of seeded tasks, or a JSONL task file."),
    context: str = typer.Option("fold", "--context", help="react (full history) or fold (AgentFold)."),
    max_steps: int = typer.Option(40, "--max-steps", min=1, help="The step budget the prompts show: use the agent's."),
    seed: int = typer.Option(0, help="First task seed (keep training seeds apart from evaluation seeds)."),
    setting: list[str] = typer.Option([], "--setting", help="Task setting key=value, e.g. quest_length=2 (repeatable)."),
    out: Path = typer.Option(..., "--out", help="Run folder, e.g. runs/expert-ql2."),
    resume: bool = typer.Option(False, "--resume", help="Skip episodes already in the run folder."),
    eval_data: list[Path] = typer.Option(
        [], "--eval-data", help="An evaluation run folder or ADP file: refuse tasks with its seeds (repeatable)."),
) -> None:
    """Replay each game's walkthrough through the agent loop; record ADP trajectories for training.

    The actions are the walkthrough's, the thoughts and fold directives are written by stated
    rules (no model runs); every episode wins its game.
    """
    from experio.agent import check_disjoint, check_expert_env, make_context, run_expert
    from experio.envs import get_env_spec

    get_env_spec(env)
    check_expert_env(env)
    make_context(context)
    task_list = resolve_tasks(env, tasks, seed, parse_settings(env, setting))
    check_disjoint(task_list, eval_data, what="--eval-data")
    metrics = run_expert(env, task_list, context, out, max_steps=max_steps, resume=resume)
    show_metrics(metrics)
    console.print(f"Expert record: {out}/trajectories.jsonl (ADP; policy expert-walkthrough, rule-written thoughts)")


@app.command()
def report(out: Path = typer.Argument(..., help="A run folder of `experio agent run`.")) -> None:
    """Recompute metrics.json, report.md and the plot of a run folder from its trajectories."""
    from experio.agent import write_report

    show_metrics(write_report(out))


def show_metrics(metrics: dict) -> None:
    from experio.runs import pct

    t = table("context", "n", "success", "mean steps", "invalid actions", "repairs", "tokens turn 1", "tokens last")
    for ctx, m in metrics.items():
        t.add_row(ctx, str(m["episodes"]), pct(m["success_rate"]), f"{m['mean_steps']:.1f}",
                  pct(m["invalid_action_rate"]), pct(m["directive_repair_rate"]),
                  f"{m['prompt_tokens_turn1']:.0f}", f"{m['prompt_tokens_last_turn']:.0f}")
    console.print(t)
