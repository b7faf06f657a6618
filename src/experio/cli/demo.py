"""The main job: a self-improving agent. ReasoningBank over a stream of TextWorld games.

Small games are generated locally from seeds; the agent (AgentFold context, JSON-constrained
responses, actions restricted to each game's admissible commands) plays them in order with a
ReasoningBank memory (issue 5): before each game it retrieves the most similar past
experience and sees its memory items, after it the model judges its own trajectory and
distils new items into the bank. For each game the demo prints what was retrieved, which
items the agent said it used, how the game went, the verdict and what was learned; at the end
the cumulative success curve. The run is recorded like every experio run: ADP trajectories,
the bank, metrics, report and plot.

    >>> run_demo(load_llm(), Path("runs/demo"))        # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from typing import Optional

import typer
from rich.console import Console

from experio.agent import AgentConfig
from experio.envs import format_call, task_stream
from experio.errors import positive, unknown_name
from experio.llm import LLM
from experio.memory import MemoryBank, TaskDone, bank_path, clip, run_memory

from .common import ApiKeyOption, BaseUrlOption, LLMOption, AgentModelOption, console as cli_console, open_llm

#: small games (a few rooms, short quests) so the embedded 270M model has a chance and the
#: demo stays short on 2 cores
DEMO_GAME = {"world_size": 2, "nb_objects": 4, "quest_length": 2}


def check_options(context: str, judge: str, tasks: int, max_steps: int) -> None:
    """A UsageError for an option value the demo cannot run with (checked before a model loads)."""
    if context not in ("fold", "react"):
        raise unknown_name("--context", context, ("fold", "react"))
    if judge not in ("llm", "env"):
        raise unknown_name("--judge", judge, ("llm", "env"))
    positive("--tasks", tasks)
    positive("--max-steps", max_steps)


def run_demo(llm: LLM, out: Path, console: Console | None = None, *, tasks: int = 3, max_steps: int = 10,
             seed: int = 1, context: str = "fold", judge: str = "llm") -> dict[str, Any]:
    """Play `tasks` seeded TextWorld games in order with ReasoningBank; print and record; return the metrics."""
    console = console or Console()
    check_options(context, judge, tasks, max_steps)
    # A fresh folder per demo run: nothing from an earlier run is overwritten.
    out = Path(out) / time.strftime("%Y%m%d-%H%M%S")
    stream = task_stream("textworld", tasks, seed=seed, **DEMO_GAME)
    solved: list[bool] = []
    method: list[str] = []  # the run's method name (it names the judge when not the default)

    def show(done: TaskDone) -> None:
        method[:1] = [done.method]
        o = done.outcome
        console.rule(f"[bold]game {done.index + 1}/{len(stream)}[/bold] {done.task.id}", align="left")
        console.print(f"[dim]goal:[/dim] {clip(o.query, 160)}", highlight=False)
        if not o.retrieved:
            console.print("[dim]memory:[/dim] nothing to retrieve yet (the bank is empty)")
        for hit in o.retrieved:
            titles = "; ".join(f"{n}. {i.title}" for n, i in enumerate(hit.items, start=1))
            console.print(f"[dim]memory:[/dim] retrieved {hit.experience.task_id} ({hit.experience.status}, "
                          f"similarity {hit.similarity:.2f}): {titles}", highlight=False)
        if o.injected:
            used = o.rollouts[o.chosen].used
            said = ", ".join(f"item {n}" for n in used) if used else "none of the items"
            console.print(f"[dim]used:[/dim] the agent said it used {said}")
        r = o.result
        actions = [format_call(a.function, a.kwargs) for a in (r.trajectory.content if r.trajectory else [])
                   if a.class_ == "api_action"]
        console.print(f"[dim]acted:[/dim] {clip(' > '.join(actions), 200) or '(no actions)'}", highlight=False)
        outcome = "[green]solved[/green]" if r.success else "[yellow]not solved[/yellow]"
        agree = "agrees" if o.verdict.success == r.success else "disagrees"
        console.print(f"[dim]result:[/dim] {outcome} in {r.steps} steps; judge says {o.verdict.status} "
                      f"({agree} with the game's reward)")
        if o.items:
            console.print(f"[dim]learned:[/dim] {len(o.items)} item(s) from a {o.extraction_kind}: "
                          + "; ".join(i.title for i in o.items), highlight=False)
        else:
            why = o.extraction.error if o.extraction and o.extraction.error else "no items extracted"
            console.print(f"[dim]learned:[/dim] nothing stored ({clip(why, 160)})", highlight=False)
        solved.append(r.success)

    console.print(f"[bold]Self-improving agent[/bold]: {len(stream)} TextWorld games with ReasoningBank, "
                  f"{context} context, at most {max_steps} steps a game, model {getattr(llm, 'name', '?')}")
    # The demo prints every skipped extraction itself ("learned: nothing stored (why)").
    memory_log = logging.getLogger("experio.memory")
    level = memory_log.level
    memory_log.setLevel(logging.ERROR)
    try:
        metrics = run_memory(llm, "textworld", stream, "reasoningbank", out, judge=judge, context=context,
                             config=AgentConfig(max_steps=max_steps, seed=0), progress=False, on_task=show)
    finally:
        memory_log.setLevel(level)
    name = method[0] if method else "reasoningbank"
    m = metrics[name]
    curve = [sum(solved[: n + 1]) for n in range(len(solved))]
    with MemoryBank(bank_path(out, name)) as bank:
        experiences, items = len(bank), bank.num_items
    console.rule("[bold]success curve[/bold]", align="left")
    console.print("solved so far: " + " -> ".join(str(c) for c in curve)
                  + f"  ({m['success_rate']:.0%} of {len(solved)} games; mean steps {m['mean_steps']:.1f})")
    console.print(f"memory bank: {experiences} experience(s), {items} item(s)")
    console.print(f"Run record: {out}/ (trajectories.jsonl, {bank_path(out, name).name}, metrics.json, report.md, "
                  "success_curve.png)")
    return metrics


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Parent folder; each demo run gets a timestamped folder in it."),
    tasks: int = typer.Option(3, "--tasks", min=1, help="Games in the stream."),
    max_steps: int = typer.Option(10, "--max-steps", min=1, help="Step budget per game."),
    seed: int = typer.Option(1, help="Seed of the first game."),
    context: str = typer.Option("fold", help="fold (AgentFold) or react (full history)."),
    judge: str = typer.Option("llm", help="llm (the model judges itself) or env (the game's reward)."),
    llm: Optional[str] = LLMOption,
    model: Optional[str] = AgentModelOption,
    base_url: Optional[str] = BaseUrlOption,
    api_key: Optional[str] = ApiKeyOption,
) -> None:
    """The main job: a self-improving agent (ReasoningBank) plays a stream of TextWorld games, recorded as a run."""
    check_options(context, judge, tasks, max_steps)
    run_demo(open_llm(llm, model, base_url, api_key, agent=True), out, console=cli_console, tasks=tasks, max_steps=max_steps,
             seed=seed, context=context, judge=judge)
