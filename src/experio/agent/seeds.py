"""Train and evaluation seeds never overlap: the check `agent run` and `agent expert` make.

    >>> from experio.agent import check_disjoint
    >>> from experio.envs import task_stream
    >>> check_disjoint(task_stream("textworld", 30, seed=0), ["runs/expert"], what="--train-data")  # doctest: +SKIP
    Traceback (most recent call last):
    ...
    experio.agent.errors.SeedOverlapError: 3 task(s) use textworld seeds that runs/expert already holds ...

Two tasks overlap when they have the same environment and the same seed, whatever their
settings (a stricter rule than "the same game", and one a reader checks at a glance). A
run folder's seeds are those of its config.json (every entry's "tasks": what it ran or
was asked to run) and of its records (each trajectory's details "task"); an ADP file's are
those of its trajectories' details. A folder whose config.json names its "data" (files or
folders, e.g. a training run) is followed to that data.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

from experio.adp import read_trajectories
from experio.envs import Task
from experio.errors import InputFileError, input_file
from experio.runs import read_json, read_records

from .errors import EpisodeRecordError, SeedOverlapError


def recorded_seeds(path: str | Path, _depth: int = 0) -> dict[str, set[int]]:
    """environment -> the seeds of every task a run folder or an ADP file holds."""
    path = Path(path)
    seeds: dict[str, set[int]] = defaultdict(set)
    if path.is_dir():
        config = read_json(path / "config.json")
        for entry in config.values():
            for t in (entry.get("tasks") or []) if isinstance(entry, dict) else []:
                if isinstance(t, dict) and "env" in t:
                    seeds[t["env"]].add(int(t.get("seed", 0)))
        _add(seeds, (r.get("details") for r in read_records(path / "trajectories.jsonl") if isinstance(r, dict)))
        data = config.get("data")
        for item in (data if isinstance(data, list) else [data] if isinstance(data, str) else []):
            if _depth < 2 and isinstance(item, str) and Path(item).exists():
                for env, s in recorded_seeds(item, _depth + 1).items():
                    seeds[env] |= s
    else:
        _add(seeds, (t.details for t in read_trajectories(input_file(path, "train/evaluation data"))))
    return dict(seeds)


def _add(seeds: dict[str, set[int]], details: Iterable) -> None:
    for d in details:
        if isinstance(d, dict) and "task" in d:
            try:
                task = Task.from_dict(json.loads(d["task"]) if isinstance(d["task"], str) else d["task"])
            except (ValueError, TypeError):
                continue
            seeds[task.env].add(task.seed)


def check_disjoint(tasks: Sequence[Task], paths: Sequence[str | Path], what: str = "--train-data") -> None:
    """SeedOverlapError when a task's (environment, seed) is in one of `paths` (run folders or ADP files)."""
    for path in paths:
        if not Path(path).exists():
            raise InputFileError(f"{what} {path} does not exist; pass a run folder or an ADP file")
        held = recorded_seeds(path)
        if not held:
            raise EpisodeRecordError(f"{what} {path} holds no tasks: not a run folder of experio agent run / "
                                     "expert, nor ADP trajectories with a task in their details")
        clash = sorted({(t.env, t.seed) for t in tasks if t.seed in held.get(t.env, ())})
        if clash:
            env = clash[0][0]
            shown = ", ".join(str(s) for _, s in clash[:8]) + (" ..." if len(clash) > 8 else "")
            raise SeedOverlapError(f"{len(clash)} task(s) use {env} seeds that {path} already holds ({shown}; it "
                                   f"holds seeds {min(held[env])}..{max(held[env])}); train and evaluation seeds "
                                   f"must not overlap: choose another --seed, e.g. {max(held[env]) + 1}")
