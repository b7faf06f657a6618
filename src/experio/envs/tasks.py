"""Task files: JSONL, one task per line.

    {"env": "miniwob", "name": "click-test-2", "seed": 0}
    {"env": "textworld", "seed": 3, "world_size": 5, "quest_length": 10}
    {"env": "textworld", "seed": 0, "settings": {"game_file": "games/tw-house.z8"}}

    >>> from experio.envs import load_tasks, save_tasks, task_stream
    >>> save_tasks(task_stream("textworld", 5, quest_length=10), "tasks.jsonl")
    >>> [t.id for t in load_tasks("tasks.jsonl")][:1]
    ['textworld/ws5-no10-ql10/seed0']

Settings may sit under "settings" or at the top level; "seed" defaults to 0; blank lines are
skipped. Settings whose name ends in `_file` or `_path` are paths relative to the task file's
folder and must stay inside it (no absolute paths, no `..` or symlinks leading out); they are
stored resolved. Every error names the file and line.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Iterable

from .base import Task
from .errors import TaskError, TaskFileError
from .registry import check_task


def confined_path(base: Path, relative: str) -> Path:
    """`base/relative`, resolved, or TaskError if it leaves `base`."""
    if not isinstance(relative, str) or not relative:
        raise TaskError(f"expected a relative path, got {relative!r}")
    if os.path.isabs(relative):
        raise TaskError(f"path {relative!r} must be relative to {base}")
    root = base.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise TaskError(f"path {relative!r} leads outside {root}")
    return path


def load_tasks(path: str | Path) -> list[Task]:
    """Read a JSONL task file; every task is checked by its environment (defaults filled in)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaskFileError(f"task file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TaskFileError(f"cannot read task file {path}: {e}") from None
    tasks = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            raise TaskFileError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
        try:
            task = Task.from_dict(data)
            settings = dict(task.settings)
            for key, value in settings.items():
                if key.endswith(("_file", "_path")):
                    settings[key] = str(confined_path(path.parent, value))
            tasks.append(check_task(Task(task.env, task.name, task.seed, settings)))
        except TaskError as e:
            raise TaskFileError(f"{where}: {e}") from None
    if not tasks:
        raise TaskFileError(f"task file {path} holds no tasks")
    return tasks


def save_tasks(tasks: Iterable[Task], path: str | Path) -> Path:
    """Write tasks as JSONL, atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for task in tasks:
                f.write(task.to_json() + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
