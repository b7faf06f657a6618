"""`experio memory run | show | report | judge`: ReasoningBank, its baselines and MaTTS over a task stream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from .agent import parse_settings, resolve_tasks
from .common import (AgentModelOption, ApiKeyOption, BaseUrlOption, LLMOption, ModelOption, console, make_app,
                     open_llm, table)

app = make_app(help="Agent memory that learns from success and failure (ReasoningBank, MaTTS, baselines).",
               no_args_is_help=True)


@app.command()
def run(
    env: str = typer.Option(..., "--env", help="textworld or miniwob."),
    tasks: str = typer.Option("5", "--tasks", help="A number of seeded tasks, or a JSONL task file (run in order)."),
    memory: str = typer.Option("reasoningbank", "--memory", help="none, synapse, awm or reasoningbank."),
    matts: Optional[str] = typer.Option(None, "--matts", help="MaTTS: parallel:K or sequential:K (K >= 2)."),
    judge: str = typer.Option("llm", "--judge", help="llm (LLM-as-judge) or env (the environment's reward; ablation)."),
    k: int = typer.Option(1, "--k", min=1, help="Past experiences retrieved per task (paper: 1)."),
    context: str = typer.Option("react", "--context", help="react (full history) or fold (AgentFold)."),
    max_steps: int = typer.Option(30, "--max-steps", min=1, help="Step budget per episode (paper: 30)."),
    seed: int = typer.Option(0, help="First task seed."),
    sample_seed: Optional[int] = typer.Option(None, "--sample-seed", help="Seed the agent's sampling too."),
    temperature: float = typer.Option(0.7, help="Acting temperature (paper: 0.7)."),
    setting: list[str] = typer.Option([], "--setting", help="Task setting key=value, e.g. quest_length=2 (repeatable)."),
    out: Path = typer.Option(..., "--out", help="Run folder, e.g. runs/rb; methods run into one folder are compared."),
    resume: bool = typer.Option(False, "--resume", help="Skip tasks of this method already in the run folder."),
    llm: Optional[str] = LLMOption,
    model: Optional[str] = AgentModelOption,
    memory_model: Optional[str] = typer.Option(
        None, "--memory-model", show_default=False, help="The model that judges, extracts and selects (same backend; "
        "a path, `embedded` or `embedded-agent`). Unset: the acting model, as in the paper."),
    base_url: Optional[str] = BaseUrlOption,
    api_key: Optional[str] = ApiKeyOption,
) -> None:
    """Run a task stream with one memory method; record ADP trajectories, the bank and a report."""
    from experio.agent import AgentConfig
    from experio.envs import get_env_spec
    from experio.memory import MemorySettings, RunSummary, parse_matts, run_memory

    get_env_spec(env)  # an unknown --env lists the known ones, before anything else
    mode, matts_k = parse_matts(matts)
    config = AgentConfig(max_steps=max_steps, temperature=temperature, seed=sample_seed)
    settings = MemorySettings(memory, mode, matts_k, judge, k, context, config)  # checks before the model loads
    task_list = resolve_tasks(env, tasks, seed, parse_settings(env, setting))
    backend = open_llm(llm, model, base_url, api_key, agent=True)
    memory_backend = open_llm(llm, memory_model, base_url, api_key) if memory_model else None
    summary = RunSummary(settings.name)
    metrics = run_memory(backend, env, task_list, memory, out, matts=matts, judge=judge, k=k, context=context,
                         config=config, resume=resume, summary=summary, memory_llm=memory_backend)
    if summary.restored:
        console.print(f"Stored {len(summary.restored)} experience(s) from their records into the bank "
                      f"(the earlier run stopped between writing and storing): {', '.join(summary.restored)}")
    if summary.stale_rollouts:
        console.print(f"{summary.stale_rollouts} rollout line(s) of an interrupted task are left out of the report; "
                      "that task ran again.")
    show_metrics(metrics)
    bank = "" if memory == "none" else f", {settings.name}.bank.sqlite"
    console.print(f"Run record: {out}/ (config.json, trajectories.jsonl{bank}, metrics.json, report.md, success_curve.png)")


@app.command()
def show(
    bank: Path = typer.Argument(..., help="A memory bank file, e.g. runs/rb/reasoningbank.bank.sqlite."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (experiences with their items) instead of a table."),
) -> None:
    """List the experiences (judged status and rationale) and memory items of a bank."""
    from experio.errors import InputFileError, input_file
    from experio.memory import MemoryBank

    if not bank.exists():  # opening a missing bank would create one
        raise InputFileError(f"memory bank {bank} does not exist; a run folder keeps its banks as "
                             "<method>.bank.sqlite")
    input_file(bank, "memory bank")
    with MemoryBank(bank) as b:
        experiences = [(e, b.items(e.id)) for e in b.iter_experiences()]
    if as_json:
        rows = [{"id": e.id, "task_id": e.task_id, "query": e.query, "status": e.status, "rationale": e.rationale,
                 "source": e.source, "trajectory_id": e.trajectory_id, "created": e.created,
                 "items": [i.to_dict() for i in items]} for e, items in experiences]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    t = table("exp", "task", "status", "rationale", "item", "title", "description",
              title=f"{bank} ({len(experiences)} experiences)")
    for e, items in experiences:
        for n, item in enumerate(items or [None]):
            first = n == 0
            t.add_row(str(e.id) if first else "", e.task_id if first else "", e.status if first else "",
                      e.rationale if first else "", str(item.id) if item else "-",
                      item.title if item else "(no items)", item.description if item else "")
    console.print(t)


@app.command()
def report(out: Path = typer.Argument(..., help="A run folder of `experio memory run`.")) -> None:
    """Recompute metrics.json, report.md and success_curve.png of a run folder from its records."""
    from experio.memory import write_report

    show_metrics(write_report(out))


@app.command()
def judge(
    data: list[Path] = typer.Argument(..., help="ADP files of experio agent or memory runs (their games say who won)."),
    out: Path = typer.Option(..., "--out", help="Run folder, e.g. runs/judge-base."),
    resume: bool = typer.Option(False, "--resume", help="Skip the trajectories already judged in --out."),
    llm: Optional[str] = LLMOption,
    model: Optional[str] = ModelOption,
    base_url: Optional[str] = BaseUrlOption,
    api_key: Optional[str] = ApiKeyOption,
) -> None:
    """Run ReasoningBank's judge on recorded trajectories and measure its agreement with the game."""
    from experio.memory import run_judge_eval
    from experio.runs import pct

    m = run_judge_eval(open_llm(llm, model, base_url, api_key), [str(p) for p in data], str(out), resume=resume)
    t = table("measure", "value", title=f"judge vs game ({m['n']} trajectories)")
    for name, value in (("agreement", pct(m["agreement"])), ("game success", pct(m["game_success_rate"])),
                        ("judged success", pct(m["judged_success_rate"])), ("unreadable", str(m["unreadable"]))):
        t.add_row(name, value)
    console.print(t)
    console.print(f"Run record: {out}/ (config.json, judged.jsonl, metrics.json, report.md)")


def show_metrics(metrics: dict) -> None:
    from experio.runs import pct

    t = table("method", "tasks", "success", "mean steps", "judge agreement", "stored (items)", "skipped", "used memory")
    for m, x in metrics.items():
        t.add_row(m, str(x["tasks"]), pct(x["success_rate"]), f"{x['mean_steps']:.1f}", pct(x["judge_agreement"]),
                  f"{x['experiences_stored']} ({x['items_stored']})", str(x["extractions_skipped"]),
                  f"{x['tasks_using_memory']}/{x['tasks_with_memory']}")
    console.print(t)
