"""Runs of many episodes into a run folder, resumable, with a report.

    runs/NAME/
      config.json         settings of each context manager run into this folder
      trajectories.jsonl  one ADP trajectory per finished episode (append-only; the record)
      metrics.json        per context manager: success rate, steps, invalid rates, tokens
      report.md           the same as tables, and
      prompt_tokens.png   mean prompt tokens per turn, one line per context manager

trajectories.jsonl is the only source of truth: every figure is recomputed from the
`details` of its trajectories, so a killed run loses at most the episode in flight and
`resume=True` skips every (context, task) already there.

    >>> summary = run_agent(llm, "textworld", tasks, "fold", Path("runs/tw"))   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from experio.adp import TrajectoryWriter, read_trajectories
from experio.envs import Environment, Task, make_env
from experio.llm import LLM
from experio.runs import update_json

from .context import make_context
from .loop import AgentConfig, EpisodeResult, run_episode
from .report import write_report


class RunFolderError(RuntimeError):
    """A run folder holds results that a new run would mix with (pass resume) or is unreadable."""


def finished_episodes(out: Path) -> list[dict[str, Any]]:
    """The `details` of every episode recorded in `out/trajectories.jsonl`."""
    path = Path(out) / "trajectories.jsonl"
    if not path.exists():
        return []
    return [t.details for t in read_trajectories(path, tolerate_truncated_tail=True)]


def run_agent(
    llm: LLM,
    env: str | Environment,
    tasks: Sequence[Task],
    context: str,
    out: Path,
    *,
    config: AgentConfig | None = None,
    resume: bool = False,
    env_options: dict[str, Any] | None = None,
    progress: bool = True,
    on_episode=None,
    on_turn=None,
) -> dict[str, Any]:
    """Run every task with one context manager; return the folder's metrics.

    `env` is an environment name (made here, closed at the end) or an instance (left open).
    """
    config = config or AgentConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    make_context(context)  # fail fast on an unknown name
    done = {(d.get("context"), d.get("task_id")) for d in finished_episodes(out)}
    mine = [k for k in done if k[0] == context]
    if mine and not resume:
        raise RunFolderError(
            f"{out} already has {len(mine)} finished episode(s) with context {context!r}; "
            "pass --resume to continue that run, or choose another --out"
        )
    update_json(out / "config.json", [context], {
        "env": env if isinstance(env, str) else env.name, "context": context, "llm": getattr(llm, "name", type(llm).__name__),
        "model": str(getattr(llm, "model_path", getattr(llm, "model", ""))),
        "tasks": [t.to_dict() for t in tasks], **asdict(config),
    })
    todo = [t for t in tasks if (context, t.id) not in done]
    owned = isinstance(env, str)
    if owned:
        env = make_env(env, **(env_options or {}))
    try:
        with TrajectoryWriter(out / "trajectories.jsonl") as writer, _progress(progress, len(tasks), len(tasks) - len(todo)) as bar:
            for task in todo:
                result = run_episode(llm, env, task, make_context(context), config, on_turn=on_turn)
                writer.write(result.trajectory)
                bar(result)
                if on_episode:
                    on_episode(result)
    finally:
        if owned:
            env.close()
    return write_report(out)


class _progress:
    """A rich progress bar over episodes showing the success count, or nothing."""

    def __init__(self, enabled: bool, total: int, completed: int):
        self.enabled, self.total, self.completed, self.wins = enabled, total, completed, 0

    def __enter__(self):
        if not self.enabled:
            return lambda result: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("episodes"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[wins]} solved"), TimeElapsedColumn())
        self.task = self.bar.add_task("episodes", total=self.total, completed=self.completed, wins=0)
        self.bar.start()

        def advance(result: EpisodeResult) -> None:
            self.wins += result.success
            self.bar.update(self.task, advance=1, wins=self.wins)

        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()
