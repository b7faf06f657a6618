"""The environment protocol: tasks, steps, tools, and the text form of tool calls.

    >>> from experio.envs import Task, ToolSpec, format_call, parse_call
    >>> Task("miniwob", "click-test-2", seed=3).id
    'miniwob/click-test-2/seed3'
    >>> parse_call('type(ref=3, text="hello")')
    ('type', [], {'ref': 3, 'text': 'hello'})
    >>> format_call("select", {"ref": 4, "option": "Red"})
    'select(ref=4, option="Red")'

An agent acts with text. Every environment accepts tool calls written like Python calls
(`click(ref=12)`, `go(direction="north")`); an environment may also accept its native
syntax (TextWorld takes plain commands such as `go north`). `parse_action` turns either
form into `(function, kwargs)` for ADP `api_action` records, and `format_action` turns
`(function, kwargs)` (e.g. an OpenAI tool call) back into an action `step` accepts.
"""

from __future__ import annotations

import ast
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from .errors import InvalidActionError, TaskError


@dataclass(frozen=True)
class Task:
    """One episode to run: which environment, which task or game, which seed.

    JSON-serialisable; one line of a task file (see `load_tasks`). `settings` holds the
    environment's knobs (TextWorld: world_size, nb_objects, quest_length, ...; MiniWoB++: {}).
    """

    env: str
    name: str
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Stable identifier, e.g. `textworld/ws5-no10-ql5/seed3` or `miniwob/click-test/seed0`."""
        return f"{self.env}/{self.name}/seed{self.seed}"

    def __hash__(self) -> int:  # settings is a dict: hash the canonical JSON instead
        return hash(self.to_json())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Task":
        """Build a task from a dict; settings may be nested under "settings" or given at top level."""
        if not isinstance(data, dict):
            raise TaskError(f"a task is a JSON object, got {type(data).__name__}")
        data = dict(data)
        env = data.pop("env", None)
        if not isinstance(env, str) or not env:
            raise TaskError('a task needs "env", the environment name (e.g. "textworld" or "miniwob")')
        name = data.pop("name", "")
        if not isinstance(name, str):
            raise TaskError(f'"name" must be a string, got {name!r}')
        seed = data.pop("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TaskError(f'"seed" must be an integer, got {seed!r}')
        settings = data.pop("settings", {})
        if not isinstance(settings, dict):
            raise TaskError(f'"settings" must be an object, got {settings!r}')
        return cls(env=env, name=name, seed=seed, settings={**settings, **data})


@dataclass
class Step:
    """What `reset` and `step` return.

    observation  compact text for the model
    reward       reward of this step (TextWorld: score gained; MiniWoB++: the task reward at the end)
    done         the episode is over; call `reset` for the next one
    success      the task was solved (TextWorld: won; MiniWoB++: reward > 0)
    admissible   full action strings valid now, where the environment knows them, else None
    info         environment details (scores, raw rewards, ...) for records, not for the prompt;
                 `reset` puts the task's instruction under "goal"
    """

    observation: str
    reward: float = 0.0
    done: bool = False
    success: bool = False
    admissible: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolSpec:
    """An action the agent can take: name, description, JSON-schema parameters.

        >>> ToolSpec("click", "Click an element.", {"type": "object",
        ...     "properties": {"ref": {"type": "integer"}}, "required": ["ref"]}).signature()
        'click(ref: int)'
    """

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    @property
    def properties(self) -> dict[str, dict[str, Any]]:
        return self.parameters.get("properties", {})

    @property
    def required(self) -> list[str]:
        return list(self.parameters.get("required", []))

    def signature(self) -> str:
        """Python-like signature for prompts, e.g. `take(obj: str, source: str = None)`."""
        names = {"integer": "int", "string": "str", "number": "float", "boolean": "bool", None: "any"}
        parts = []
        for pname, schema in self.properties.items():
            typ = names.get(schema.get("type"), "str") if isinstance(schema.get("type"), (str, type(None))) else "any"
            parts.append(f"{pname}: {typ}" + ("" if pname in self.required else " = None"))
        return f"{self.name}({', '.join(parts)})"

    def json_schema(self) -> dict[str, Any]:
        """OpenAI `tools` entry: `{"type": "function", "function": {...}}`."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@runtime_checkable
class Environment(Protocol):
    """What an agent loop asks of an environment.

    `tools` declares every action as plain data (`ToolSpec`); an agent shows them to the model
    and records them with its trajectories. `answers` says how an episode ends: False for
    environments solved by acting (TextWorld, MiniWoB++: `submit_answer` raises
    EpisodeStateError), True for ones that end with a final answer (a question, a puzzle):
    on its last turn the agent gives that answer to `submit_answer`, which scores it and
    returns the episode's last Step.
    """

    name: str
    tools: list[ToolSpec]
    answers: bool

    def reset(self, task: Task) -> Step: ...

    def step(self, action: str) -> Step: ...

    def submit_answer(self, answer: str) -> Step: ...

    def parse_action(self, action: str) -> tuple[str, dict[str, Any]]: ...

    def format_action(self, function: str, kwargs: dict[str, Any]) -> str: ...

    def close(self) -> None: ...


# -- tool calls as text ----------------------------------------------------------------


def parse_call(text: str) -> tuple[str, list[Any], dict[str, Any]]:
    """Parse `name(arg, key=value, ...)` with literal arguments; raise InvalidActionError otherwise."""
    source = text.strip()
    try:
        node = ast.parse(source, mode="eval").body
    except SyntaxError as e:
        raise InvalidActionError(
            f"cannot parse action {source!r} as a tool call ({e.msg}); "
            'write it like click(ref=12) or type(ref=3, text="hello")'
        ) from None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise InvalidActionError(
            f"action {source!r} is not a tool call; write it like click(ref=12) or scroll(direction=\"down\")"
        )
    try:
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
    except ValueError:
        raise InvalidActionError(
            f"arguments of {source!r} must be literals (numbers or quoted strings), "
            'e.g. type(ref=3, text="hello")'
        ) from None
    if any(kw.arg is None for kw in node.keywords):
        raise InvalidActionError(f"**kwargs are not allowed in an action: {source!r}")
    return node.func.id, args, kwargs


def format_call(function: str, kwargs: dict[str, Any]) -> str:
    """The text form of a tool call; `parse_call` reads it back unchanged."""
    parts = [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in kwargs.items() if v is not None]
    return f"{function}({', '.join(parts)})"


def bind_call(tools: list[ToolSpec], function: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Check a call against its ToolSpec and return its keyword arguments (positional ones named).

    Raises InvalidActionError naming the tool's signature on an unknown tool, a missing,
    unknown or duplicated argument, or a value of the wrong type or outside its enum.
    """
    by_name = {t.name: t for t in tools}
    tool = by_name.get(function)
    if tool is None:
        known = ", ".join(t.signature() for t in tools)
        raise InvalidActionError(f"unknown action {function!r}; the actions are: {known}")
    names = list(tool.properties)
    if len(args) > len(names):
        raise InvalidActionError(f"{function}() takes at most {len(names)} arguments; use {tool.signature()}")
    bound = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in tool.properties:
            raise InvalidActionError(f"{function}() has no argument {key!r}; use {tool.signature()}")
        if key in bound:
            raise InvalidActionError(f"{function}() got {key!r} twice; use {tool.signature()}")
        bound[key] = value
    for key in tool.required:
        if bound.get(key) is None:
            raise InvalidActionError(f"{function}() needs {key!r}; use {tool.signature()}")
    for key, value in list(bound.items()):
        if value is None:
            del bound[key]
            continue
        bound[key] = _check_value(tool, key, value)
    return bound


def _check_value(tool: ToolSpec, key: str, value: Any) -> Any:
    schema = tool.properties[key]
    typ = schema.get("type")  # none: any JSON value (e.g. a filter value: a number, a date, a list)
    if typ == "integer":
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)  # "12" from a model that quotes everything
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidActionError(f"{tool.name}(): {key} must be an integer, got {value!r}; use {tool.signature()}")
    elif typ == "string":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise InvalidActionError(f"{tool.name}(): {key} must be a string, got {value!r}; use {tool.signature()}")
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(json.dumps(c) for c in schema["enum"])
        raise InvalidActionError(f"{tool.name}(): {key} must be one of {choices}, got {value!r}")
    return value
