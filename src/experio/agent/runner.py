"""Runs of many episodes into a run folder, resumable, with a report.

    runs/NAME/
      config.json         {"kind": "agent", <context>: settings of each context manager run here}
      trajectories.jsonl  one ADP trajectory per finished episode (append-only; the record)
      metrics.json        per context manager: success rate, steps, invalid rates, tokens
      report.md           the same as tables, and
      prompt_tokens.png   mean prompt tokens per turn, one line per context manager

trajectories.jsonl is the only source of truth: every figure is recomputed from the
`details` of its trajectories (`EpisodeDetails`), so a killed run loses at most the episode
in flight and `resume=True` skips every (context, task) already there. Trajectories are ADP
1.2.0 and carry the environment's tools as `available_apis`, so `experio adp validate
runs/NAME/trajectories.jsonl` checks every action against them.

    >>> summary = run_agent(llm, "textworld", tasks, "fold", Path("runs/tw"))   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from experio.adp import SCHEMA_VERSION, Trajectory, to_wire
from experio.envs import Environment, Task, make_env
from experio.llm import LLM, describe_llm
from experio.runs import RunFolder, progress as progress_bar

from .context import make_context
from .loop import AgentConfig, run_episode
from .records import KIND, EpisodeDetails, read_episodes
from .report import write_report


def finished_episodes(out: Path) -> list[EpisodeDetails]:
    """Every episode recorded in `out/trajectories.jsonl` (a cut-off last line is dropped)."""
    return read_episodes(RunFolder(out, KIND))


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

    `env` is an environment name (made here, closed at the end, also on errors and Ctrl-C) or
    an instance (left open). A folder with finished episodes of this context manager raises
    ResumeRequired unless `resume`; one of another command raises RunFolderError.
    """
    config = config or AgentConfig()
    make_context(context)  # fail fast on an unknown name
    settings = describe_llm(llm)
    return run_episodes(out, KIND, env, tasks, context, config, settings,
                        lambda e, task: run_episode(llm, e, task, make_context(context), config, on_turn=on_turn),
                        resume=resume, env_options=env_options, progress=progress, on_episode=on_episode)


def run_episodes(out: Path, kind: str, env: str | Environment, tasks: Sequence[Task], context: str,
                 config: AgentConfig, settings: dict[str, Any], episode, *, resume: bool = False,
                 env_options: dict[str, Any] | None = None, progress: bool = True, on_episode=None) -> dict[str, Any]:
    """The run-folder loop shared by `run_agent` and `run_expert`: `episode(env, task) -> EpisodeResult`.

    Claims `out` for `kind`, records the settings under the context's entry of config.json,
    skips finished (context, task) pairs when resuming, appends one trajectory per episode,
    and writes the report.
    """
    run = RunFolder(out, kind)
    done = {(e.context, e.task_id) for e in read_episodes(run)}
    run.open(resume=resume, finished=sum(1 for c, _ in done if c == context),
             what=f"episode(s) with context {context!r}")
    run.set_config([context], {
        "env": env if isinstance(env, str) else env.name, "context": context, **settings,
        "tasks": [t.to_dict() for t in tasks], **asdict(config),
    })
    todo = [t for t in tasks if (context, t.id) not in done]
    owned = isinstance(env, str)
    if owned:
        env = make_env(env, **(env_options or {}))
    try:
        with run.appender(encode=_wire) as records, \
                progress_bar("episodes", len(tasks), len(tasks) - len(todo), enabled=progress) as advance:
            for task in todo:
                result = episode(env, task)
                records.write(result.trajectory)
                advance(result.success)
                if on_episode:
                    on_episode(result)
    finally:
        if owned:
            env.close()
    return write_report(out)


def _wire(trajectory: Trajectory) -> dict:
    """ADP 1.2.0: the form that carries `available_apis`."""
    return to_wire(trajectory, SCHEMA_VERSION)
