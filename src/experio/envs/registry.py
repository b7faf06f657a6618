"""Environments by name: build one, check a task for it, make a stream of seeded tasks.

    >>> from experio.envs import env_names, task_stream
    >>> env_names()
    ['miniwob', 'textworld']
    >>> [t.id for t in task_stream("miniwob", 3, tasks=["click-test", "click-link"])]
    ['miniwob/click-test/seed0', 'miniwob/click-link/seed0', 'miniwob/click-test/seed1']

To add an environment, write a class that follows `Environment` and register it:

    register_env(EnvSpec("myenv", factory=MyEnv, make_tasks=my_stream, check_task=my_check))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from experio.errors import unknown_name

from .base import Environment, Task
from .errors import TaskError
from .textworld_env import DEFAULT_SETTINGS as TEXTWORLD_SETTINGS


@dataclass(frozen=True)
class EnvSpec:
    """How to build an environment and its tasks.

    factory(**options) -> Environment
    make_tasks(n, seed, **settings) -> list[Task]      n seeded tasks
    check_task(task) -> Task                           validated, defaults filled (raises TaskError)
    settings                                           the setting keys make_tasks takes
    """

    name: str
    factory: Callable[..., Environment]
    make_tasks: Callable[..., list[Task]]
    check_task: Callable[[Task], Task]
    settings: tuple[str, ...] = ()


_REGISTRY: dict[str, EnvSpec] = {}


def register_env(spec: EnvSpec) -> EnvSpec:
    _REGISTRY[spec.name] = spec
    return spec


def env_names() -> list[str]:
    return sorted(_REGISTRY)


def get_env_spec(name: str) -> EnvSpec:
    spec = _REGISTRY.get(name)
    if spec is None:
        raise TaskError(f"unknown environment {name!r}; choose one of {', '.join(env_names())}")
    return spec


def check_settings(env: str, settings: Mapping[str, Any]) -> None:
    """Raise TaskError naming the valid keys when `settings` has a key `task_stream(env)` does not take.

        >>> check_settings("textworld", {"quest_lenght": 3})
        Traceback (most recent call last):
        ...
        experio.envs.errors.TaskError: unknown textworld setting 'quest_lenght'; choose one of: game_file, nb_objects, quest_breadth, quest_length, theme, world_size
    """
    valid = get_env_spec(env).settings
    for key in settings:
        if key not in valid:
            raise TaskError(str(unknown_name(f"{env} setting", key, valid)))


def make_env(name: str, **options: Any) -> Environment:
    """Build an environment by name, e.g. `make_env("miniwob", time_limit="task")`."""
    return get_env_spec(name).factory(**options)


def task_stream(env: str, n: int, seed: int = 0, **settings: Any) -> list[Task]:
    """`n` seeded tasks for `env`.

    textworld: n games with seeds seed, seed+1, ...; settings are the game knobs
               (world_size, nb_objects, quest_length, quest_breadth, theme).
    miniwob:   cycles over `tasks` (default DEFAULT_TASKS, 12 tasks); round r uses seed + r,
               so n = 3 * len(tasks) gives every task with 3 seeds.
    """
    if n < 0:
        raise TaskError(f"n must be >= 0, got {n}")
    return get_env_spec(env).make_tasks(n, seed, **settings)


def check_task(task: Task) -> Task:
    """The task validated by its environment, with defaults filled in."""
    return get_env_spec(task.env).check_task(task)


# -- built-in environments ---------------------------------------------------------------


def _textworld_factory(**options: Any) -> Environment:
    from .textworld_env import TextWorldEnv

    return TextWorldEnv(**options)


def _textworld_tasks(n: int, seed: int, **settings: Any) -> list[Task]:
    from .textworld_env import make_task

    return [make_task(seed + i, **settings) for i in range(n)]


def _textworld_check(task: Task) -> Task:
    from .textworld_env import normalize_settings, settings_label

    settings = normalize_settings(task.settings)
    return Task("textworld", task.name or settings_label(settings), task.seed, settings)


def _miniwob_factory(**options: Any) -> Environment:
    from .miniwob_env import MiniWoBEnv

    return MiniWoBEnv(**options)


def _miniwob_tasks(n: int, seed: int, tasks: list[str] | None = None, **settings: Any) -> list[Task]:
    from .miniwob_env import DEFAULT_TASKS, task_page

    if settings:
        raise TaskError(f"MiniWoB++ tasks take no settings besides tasks=[...], got {sorted(settings)}")
    if isinstance(tasks, str):  # one task name, e.g. from `--setting tasks=click-test`
        tasks = [tasks]
    names = list(tasks) if tasks is not None else list(DEFAULT_TASKS)
    if not names:
        raise TaskError("tasks=[] names no MiniWoB++ task")
    for name in names:
        task_page(name)
    return [Task("miniwob", names[i % len(names)], seed + i // len(names)) for i in range(n)]


def _miniwob_check(task: Task) -> Task:
    from .miniwob_env import task_page

    if task.settings:
        raise TaskError(f"MiniWoB++ tasks take no settings, got {sorted(task.settings)}")
    task_page(task.name)
    return task


register_env(EnvSpec("textworld", _textworld_factory, _textworld_tasks, _textworld_check,
                     settings=(*TEXTWORLD_SETTINGS, "game_file")))
register_env(EnvSpec("miniwob", _miniwob_factory, _miniwob_tasks, _miniwob_check, settings=("tasks",)))
