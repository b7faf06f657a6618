"""The main job: an agent plays a TextWorld game with the embedded model, folding its context.

A small game is generated locally from a seed; the agent (AgentFold context, JSON-constrained
responses, actions restricted to the game's admissible commands) plays it turn by turn, and
the run is recorded like every experio run: ADP trajectories, metrics, report and plot.

    >>> run_demo(load_llm(), Path("runs/demo"))        # doctest: +SKIP
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from experio.agent import AgentConfig, run_agent
from experio.envs import task_stream
from experio.llm import LLM

DEMO_GAME = {"world_size": 3, "nb_objects": 6, "quest_length": 3}


def run_demo(llm: LLM, out: Path, console: Console | None = None, *, max_steps: int = 12,
             seed: int = 1, context: str = "fold") -> dict[str, Any]:
    console = console or Console()
    # A fresh folder per demo run: nothing from an earlier run is overwritten.
    out = Path(out) / time.strftime("%Y%m%d-%H%M%S")
    task = task_stream("textworld", 1, seed=seed, **DEMO_GAME)[0]

    def show(turn, action, observation, result):
        obs = " ".join(observation.split())[:110]
        console.print(f"[bold]turn {turn:2d}[/bold] [dim]{result.prompt_tokens[-1]:4d} prompt tokens[/dim]  "
                      f"[cyan]{action}[/cyan] -> {obs}", highlight=False)

    console.print(f"[bold]TextWorld game[/bold] {task.id}: {context} context, at most {max_steps} turns, "
                  f"model {getattr(llm, 'name', '?')}")
    metrics = run_agent(llm, "textworld", [task], context, out, config=AgentConfig(max_steps=max_steps),
                        progress=False, on_turn=show)
    m = metrics[context]
    outcome = "[green]solved[/green]" if m["success_rate"] == 1 else "[yellow]not solved[/yellow]"
    console.print(f"{outcome} in {m['mean_steps']:.0f} turns; reward {m['mean_reward']:.0f}; "
                  f"invalid actions {m['invalid_action_rate']:.0%}; prompt tokens turn 1 -> last: "
                  f"{m['prompt_tokens_turn1']:.0f} -> {m['prompt_tokens_last_turn']:.0f}")
    console.print(f"Run record: {out}/ (config.json, trajectories.jsonl, metrics.json, report.md, prompt_tokens.png)")
    return metrics
