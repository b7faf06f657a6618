"""What an agent run records: episode details (typed) and the tools a trajectory could call.

Every episode is one ADP trajectory whose `details` (str -> str, so the release form of ADP
holds it too) are written from an `EpisodeDetails` and read back into one; nothing else
writes or parses those strings. Records written before a key existed still read (the key
takes its default).

    >>> from experio.envs import Task
    >>> d = EpisodeDetails(Task("miniwob", "click-test", 0), "react", success=True, reward=1.0, steps=1,
    ...                    rewards=[1.0], prompt_tokens=[220], llm="scripted")
    >>> d.to_details()["success"], d.to_details()["rewards"]
    ('true', '[1.0]')
    >>> EpisodeDetails.from_details(d.to_details()) == d
    True

`available_apis` turns an environment's tools into the trajectory's `available_apis` (ADP
schema 1.2.0): one text block per tool, the signature and its documented arguments, as the
ADP tool registries write them, so `experio adp validate` knows every api_action's tool.

    >>> from experio.envs import ToolSpec
    >>> print(available_apis([ToolSpec("click", "Click the element [ref].", {"type": "object",
    ...     "properties": {"ref": {"type": "integer", "description": "its [number]"}}, "required": ["ref"]})])[0])
    click(ref: int)
        Click the element [ref].
    <BLANKLINE>
        Args:
            ref (int): its [number]
    <BLANKLINE>
    <BLANKLINE>
"""

from __future__ import annotations

import json
from pathlib import Path
from dataclasses import dataclass, field, fields
from typing import Any, Sequence

from experio.envs import Task, ToolSpec
from experio.runs import RunFolder

from .errors import EpisodeRecordError, NotAnAgentRunError

KIND = "agent"  # the run folder kind of `experio agent run`
EXPERT_KIND = "agent expert"  # of `experio agent expert`: its own kind, so no model run resumes into it
KINDS = (KIND, EXPERT_KIND)


@dataclass
class EpisodeDetails:
    """One episode's record: what ran, how it went, what it cost."""

    task: Task
    context: str
    success: bool = False
    reward: float = 0.0
    steps: int = 0
    rewards: list[float] = field(default_factory=list)  # per turn
    prompt_tokens: list[int] = field(default_factory=list)  # per turn, first attempt
    invalid_actions: int = 0
    invalid_directives: int = 0
    directive_repairs: int = 0
    unreadable_responses: int = 0  # newer than the first records: default 0
    retries: int = 0
    seconds: float = 0.0
    fold_directives: list[Any] = field(default_factory=list)  # the context's directive per turn
    llm: str = ""
    goal: str = ""  # newer than the first records: default ""
    # Newer still (what `training_examples` re-renders each turn's prompt from; older records
    # lack them and are rendered as a plain chat instead):
    policy: str = "model"  # who chose the actions: "model", or "expert-walkthrough" (a rule)
    max_steps: int = 0  # the step budget (each prompt says "Turn t of max_steps")
    answers: bool = False  # the environment takes a final answer on the last turn
    tools: str = ""  # the tools text of the prompt
    advice: str = ""  # guidance put in every prompt (memory items), "" when none
    responses: list[Any] = field(default_factory=list)  # per turn: the raw response text used (None: unreadable)
    admissible: list[Any] = field(default_factory=list)  # per turn: the actions the prompt listed (None: none)
    problems: list[Any] = field(default_factory=list)  # per turn: earlier attempt's problems the prompt showed

    @property
    def env(self) -> str:
        return self.task.env

    @property
    def task_id(self) -> str:
        return self.task.id

    def to_details(self) -> dict[str, str]:
        """The trajectory's `details`: every value a string (JSON for lists and the task)."""
        out = {"env": self.env, "task_id": self.task_id}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                out[f.name] = str(value).lower()
            elif isinstance(value, Task):
                out[f.name] = json.dumps(value.to_dict())
            elif isinstance(value, list):
                out[f.name] = json.dumps(value)
            else:
                out[f.name] = str(value)
        return out

    @classmethod
    def from_details(cls, details: dict[str, Any]) -> "EpisodeDetails":
        """Read `details` back; EpisodeRecordError names a missing or unreadable key."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in details:
                if f.name in _REQUIRED:
                    raise EpisodeRecordError(f"the details have no {f.name!r}: not an agent episode record")
                continue
            values[f.name] = _parse(f.name, details[f.name])
        return cls(**values)


_REQUIRED = ("task", "context", "success", "reward", "steps", "prompt_tokens")
_INTS = {"steps", "invalid_actions", "invalid_directives", "directive_repairs", "unreadable_responses", "retries",
         "max_steps"}
_BOOLS = {"success", "answers"}
_LISTS = {"rewards", "prompt_tokens", "fold_directives", "responses", "admissible", "problems"}


def _parse(name: str, text: Any) -> Any:
    try:
        if name == "task":
            return Task.from_dict(json.loads(text))
        if name in _BOOLS:
            return text == "true"
        if name in _INTS:
            return int(text)
        if name in ("reward", "seconds"):
            return float(text)
        if name in _LISTS:
            value = json.loads(text)
            if not isinstance(value, list):
                raise EpisodeRecordError(f"details key {name!r} cannot be read (expected a JSON list, got {text!r})")
            return value
        return str(text)
    except (ValueError, TypeError) as e:  # json.JSONDecodeError and TaskError are ValueErrors
        raise EpisodeRecordError(f"details key {name!r} cannot be read ({e})") from None


def agent_folder(path: str | Path) -> RunFolder:
    """The run folder at `path` as `experio agent run` or `experio agent expert` made it.

    Its recorded kind decides (a new folder, or one of another command, is taken as "agent",
    so `check_kind` names the owner).
    """
    owner = RunFolder(path, KIND).owner() if Path(path).is_dir() else None
    return RunFolder(path, owner if owner in KINDS else KIND)


def read_episodes(run: RunFolder) -> list[EpisodeDetails]:
    """The episodes recorded in an agent run folder, checked before anything is written there.

    A folder of another command raises RunFolderError (its "kind"); one made before folders
    named their kind but holding memory-run records (their details have "method") raises
    NotAnAgentRunError; a line without episode details raises EpisodeRecordError naming it.
    """
    run.check_kind()
    episodes = []
    for n, record in enumerate(run.records(), 1):
        details = record.get("details") if isinstance(record, dict) else None
        if not isinstance(details, dict):
            raise EpisodeRecordError(f"{run.records_path}:{n} has no details: not an agent episode record")
        if "method" in details:
            raise NotAnAgentRunError(f"{run.path} holds memory-run records ({run.records_path}:{n}); use "
                                     f"`experio memory report {run.path}`, or another --out")
        try:
            episodes.append(EpisodeDetails.from_details(details))
        except EpisodeRecordError as e:
            raise EpisodeRecordError(f"{run.records_path}:{n}: {e}") from None
    return episodes


# ------------------------------------------------------------------------- available_apis

_PY_TYPES = {"integer": "int", "string": "str", "number": "float", "boolean": "bool", "array": "list", "object": "dict"}


def available_apis(tools: Sequence[ToolSpec]) -> list[str]:
    """The ADP `available_apis` of an environment: one `name(params)` + docstring block per tool."""
    return [_api_text(t) for t in tools]


def _api_text(tool: ToolSpec) -> str:
    params, args = [], []
    for name, schema in tool.properties.items():
        typ = _PY_TYPES.get(schema.get("type"), "str") if "type" in schema else "Any"  # no type: any JSON value
        params.append(f"{name}: {typ}" + ("" if name in tool.required else " = None"))
        desc = schema.get("description", "")
        if "enum" in schema:
            desc = (desc + "; " if desc else "") + "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
        args.append(f"        {name} ({typ}): {desc or name}")
    text = f"{tool.name}({', '.join(params)})\n    {tool.description}\n"
    if args:
        text += "\n    Args:\n" + "\n".join(args) + "\n"
    return text + "\n"
