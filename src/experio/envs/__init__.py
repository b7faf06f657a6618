"""`experio.envs`: one small environment protocol, real environments behind it.

    >>> from experio.envs import make_env, task_stream
    >>> env = make_env("textworld")
    >>> task = task_stream("textworld", 1, seed=0, world_size=5, quest_length=10)[0]
    >>> step = env.reset(task)                 # Step(observation, reward, done, success, admissible, info)
    >>> for turn in range(40):                 # the agent's turn budget
    ...     step = env.step(step.admissible[0])   # an agent picks here; any text command works
    ...     if step.done:
    ...         break
    >>> env.close()

The protocol (`Environment`):

    name: str                                   "textworld", "miniwob"
    tools: list[ToolSpec]                       the actions: name, description, JSON-schema parameters
    answers: bool                               True when an episode ends with a final answer
    reset(task: Task) -> Step                   start an episode
    step(action: str) -> Step                   act with text: a tool call `click(ref=12)`, or the
                                                environment's own syntax (TextWorld: `go north`)
    submit_answer(answer: str) -> Step          score the final answer, end the episode (answers only)
    parse_action(action) -> (function, kwargs)  for ADP api_action records
    format_action(function, kwargs) -> str      the inverse, e.g. for OpenAI tool calls
    close() -> None                             also usable as a context manager

`Task(env, name, seed, settings)` is one JSON line of a task file, with a stable `.id`.
`Step(observation, reward, done, success, admissible, info)`: `admissible` holds full action
strings valid now where the environment knows them (TextWorld's admissible commands; on
MiniWoB++ a click for every element ref and a select for every dropdown option), else None.

Errors: an action that does not parse or names something absent raises InvalidActionError
before anything changes (show its message to the model and go on); `step` before `reset` or
after `done` raises EpisodeStateError; bad tasks raise TaskError (TaskFileError names file:line);
a missing package, browser or compiler raises EnvSetupError saying what to install.

Environments:
  textworld  games generated from a seed (world_size, nb_objects, quest_length, ...), cached
             under $EXPERIO_HOME/textworld/; reward = score gained, success = won
  miniwob    MiniWoB++ pages in headless Chromium; observation = the task + page text with
             [ref]s; actions click / type / select / scroll / press; reward = the task's reward

Helpers: `make_env(name, **options)`, `task_stream(env, n, seed=0, **settings)`,
`check_settings(env, settings)` (an unknown key is a TaskError listing the valid ones),
`load_tasks(path)` / `save_tasks(tasks, path)` (JSONL), `register_env(EnvSpec(...))`.
"""

from .base import Environment, Step, Task, ToolSpec, bind_call, format_call, parse_call
from .errors import (
    EnvError,
    EnvSetupError,
    EpisodeStateError,
    InvalidActionError,
    TaskError,
    TaskFileError,
)
from .miniwob_env import DEFAULT_TASKS as MINIWOB_TASKS
from .miniwob_env import EXTRA_TASKS as MINIWOB_EXTRA_TASKS
from .miniwob_env import MiniWoBEnv
from .registry import EnvSpec, check_settings, check_task, env_names, get_env_spec, make_env, register_env, task_stream
from .tasks import load_tasks, save_tasks
from .textworld_env import TextWorldEnv

__all__ = [
    "Environment", "Step", "Task", "ToolSpec", "EnvSpec",
    "TextWorldEnv", "MiniWoBEnv", "MINIWOB_TASKS", "MINIWOB_EXTRA_TASKS",
    "make_env", "register_env", "env_names", "get_env_spec", "check_settings", "check_task", "task_stream",
    "load_tasks", "save_tasks", "parse_call", "format_call", "bind_call",
    "EnvError", "EnvSetupError", "TaskError", "TaskFileError", "InvalidActionError", "EpisodeStateError",
]
