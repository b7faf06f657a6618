"""ATIF, the Agent Trajectory Interchange Format (Harbor, Terminal-Bench, the official ADP project).

An ATIF trajectory is ``{"schema_version": "ATIF-v1.2", "session_id", "agent": {name,
version, model_name}, "steps": [...], "extra"}``; each step has ``step_id`` (1, 2, ...),
``source`` ("user", "agent" or "system"), ``message``, and for agent steps optionally
``reasoning_content``, ``tool_calls`` ``[{tool_call_id, function_name, arguments}]`` and
``observation`` ``{"results": [{source_call_id, content}]}``.

ADP -> ATIF (`to_atif`):

* a user ``text_observation`` is a user step;
* an ``api_action`` is an agent step with one tool call (``description`` is the step's
  ``message``); a ``code_action`` too, calling ``execute_bash`` (``command``),
  ``execute_ipython_cell`` (``code``) or ``execute_code`` (``language``, ``code``), the
  OpenHands names; a ``message_action`` is an agent step with that message;
* an observation right after an agent step is a result of that step (the first one after
  a tool call points at it with ``source_call_id``), unless it comes from the user after a
  plain message: then it is a user step; an environment observation with no agent step
  before it is a system step's result.

What ATIF has no field for (the ADP ``class_`` of a code action, a ``description`` that is
not the message, observation names, sources other than the default, rewards, web and image
observations, ``details``, ``available_apis``, the ADP schema version) goes into the
``extra`` objects under the key ``"adp"``, so ADP -> ATIF -> ADP gives back the same
trajectory. ATIF from elsewhere (no ``extra.adp``) reads as: user and system messages ->
user text observations (a system prompt named "system"), tool calls -> ``api_action``
(the step's message is the first call's description), other agent messages ->
``message_action``, results -> environment text observations, in ADP 1.2.0 (which
carries reasoning content), with the agent's name, version and model as ``details``. A
result whose ``source_call_id`` is not a tool call of its step is an `ATIFError`.

>>> from experio.adp.schema import Trajectory
>>> t = Trajectory.model_validate({"id": "t1", "details": {}, "content": [
...     {"class_": "text_observation", "content": "list files", "name": None, "source": "user"},
...     {"class_": "code_action", "language": "bash", "content": "ls", "description": "Look."},
...     {"class_": "text_observation", "content": "a.txt", "name": None, "source": "environment"}]})
>>> a = to_atif(t)
>>> [s["source"] for s in a["steps"]], a["steps"][1]["tool_calls"][0]["function_name"]
(['user', 'agent'], 'execute_bash')
>>> a["steps"][1]["observation"]["results"]
[{'source_call_id': 'call_2', 'content': 'a.txt'}]
>>> from_atif(a) == to_wire(t)
True
"""

from __future__ import annotations

from typing import Any

from experio.adp.errors import ATIFError
from experio.adp.schema import (
    ACTION_CLASSES,
    RELEASE,
    SCHEMA_VERSION,
    Trajectory,
    item_to_wire,
    to_wire,
)

ATIF_VERSION = "ATIF-v1.2"  # root `extra` (v1.1) and system steps with observations (v1.2)
#: the key of ADP-only information in ATIF `extra` objects
ADP_KEY = "adp"
#: code languages written as OpenHands tool calls: language -> (function, argument)
CODE_TOOLS = {"bash": ("execute_bash", "command"), "python": ("execute_ipython_cell", "code")}
GENERIC_CODE_TOOL = "execute_code"


def is_atif(value: Any) -> bool:
    """Whether a parsed row has the shape of an ATIF trajectory (not of an ADP one)."""
    if not isinstance(value, dict) or "content" in value or not isinstance(value.get("steps"), list):
        return False
    version = value.get("schema_version")
    return (isinstance(version, str) and version.startswith("ATIF")) or "session_id" in value or "trajectory_id" in value


# ---------------------------------------------------------------------------- ADP -> ATIF

def to_atif(traj: Trajectory) -> dict:
    """One ADP trajectory as an ATIF trajectory (a JSON-ready dict)."""
    steps: list[dict] = []
    for item in traj.content:
        if item.class_ in ACTION_CLASSES:
            steps.append(_action_step(item, len(steps) + 1))
        elif _attaches(item, steps):
            _add_result(steps[-1], item)
        elif getattr(item, "source", None) == "user":
            steps.append(_user_step(item, len(steps) + 1))
        else:
            steps.append({"step_id": len(steps) + 1, "source": "system", "message": ""})
            _add_result(steps[-1], item)
    agent: dict[str, Any] = {"name": "experio-adp", "version": SCHEMA_VERSION}
    model = traj.details.get("model")
    if isinstance(model, str):
        agent["model_name"] = model
    adp: dict[str, Any] = {"schema_version": traj.schema_version, "details": traj.details}
    if traj.available_apis is not None:
        adp["available_apis"] = traj.available_apis
    return {"schema_version": ATIF_VERSION, "session_id": traj.id, "agent": agent, "steps": steps,
            "extra": {ADP_KEY: adp}}


def _action_step(item: Any, step_id: int) -> dict:
    step: dict[str, Any] = {"step_id": step_id, "source": "agent"}
    adp: dict[str, Any] = {}
    if item.class_ == "message_action":
        step["message"] = item.content
        if item.description is not None:
            adp["description"] = item.description
    else:
        step["message"] = item.description or ""
        if item.description == "":
            adp["description"] = ""
        if item.class_ == "api_action":
            function, arguments = item.function, item.kwargs
        else:
            adp["class_"] = "code_action"
            function, arguments = _code_call(item.language, item.content)
        step["tool_calls"] = [{"tool_call_id": f"call_{step_id}", "function_name": function, "arguments": arguments}]
    if item.reasoning_content is not None:
        step["reasoning_content"] = item.reasoning_content
    if item.reward is not None:
        adp["reward"] = item.reward
    if adp:
        step["extra"] = {ADP_KEY: adp}
    return step


def _code_call(language: str, code: str) -> tuple[str, dict]:
    if language in CODE_TOOLS:
        function, argument = CODE_TOOLS[language]
        return function, {argument: code}
    return GENERIC_CODE_TOOL, {"language": language, "code": code}


def _attaches(item: Any, steps: list[dict]) -> bool:
    """Whether an observation is a result of the step before it (see the module docstring)."""
    if not steps or steps[-1]["source"] == "user":
        return False
    return getattr(item, "source", "environment") != "user" or bool(steps[-1].get("tool_calls"))


def _user_step(item: Any, step_id: int) -> dict:
    step: dict[str, Any] = {"step_id": step_id, "source": "user", "message": item.content}
    adp = _observation_extra(item, default_source="user")
    if adp:
        step["extra"] = {ADP_KEY: adp}
    return step


def _add_result(step: dict, item: Any) -> None:
    results = step.setdefault("observation", {"results": []})["results"]
    result: dict[str, Any] = {}
    calls = step.get("tool_calls") or []
    if calls and not results:
        result["source_call_id"] = calls[0]["tool_call_id"]
    result["content"] = _observation_text(item)
    results.append(result)
    extra = _observation_extra(item, default_source="environment")
    adp = step.setdefault("extra", {}).setdefault(ADP_KEY, {})
    observations = adp.setdefault("observations", [])
    observations += [{}] * (len(results) - 1 - len(observations)) + [extra]
    if not any(observations):
        del adp["observations"]
    if not adp:
        del step["extra"][ADP_KEY]
    if not step["extra"]:
        del step["extra"]


def _observation_text(item: Any) -> str:
    if item.class_ == "web_observation":
        return next((v for v in (item.axtree, item.html, item.url) if v is not None), "")
    return item.content


def _observation_extra(item: Any, default_source: str) -> dict:
    """What ATIF cannot carry of an observation: all of a web or image one, else the
    name, reward and a source other than the step's default."""
    if item.class_ != "text_observation":
        return {"item": item_to_wire(item, SCHEMA_VERSION)}
    out: dict[str, Any] = {}
    if item.source != default_source:
        out["source"] = item.source
    if item.name is not None:
        out["name"] = item.name
    if item.reward is not None:
        out["reward"] = item.reward
    return out


# ---------------------------------------------------------------------------- ATIF -> ADP

def from_atif(data: dict) -> dict:
    """An ATIF trajectory as an ADP wire dict (validated; in the ADP version it was written
    from, 1.2.0 for ATIF from elsewhere).

    Raises `ATIFError` for what is not ATIF (no id, no steps, a step source outside
    user/agent/system, a result pointing at an unknown tool call id) and
    ``pydantic.ValidationError`` for what does not make a valid ADP trajectory.
    """
    tid = data.get("session_id", data.get("trajectory_id"))
    if not isinstance(tid, (str, int)) or tid == "":
        raise ATIFError("ATIF trajectory has no session_id (or trajectory_id)")
    steps = data.get("steps")
    if not isinstance(steps, list):
        raise ATIFError(f"ATIF trajectory {tid!r} has no steps list")
    content: list[dict] = []
    for index, step in enumerate(steps, 1):
        if not isinstance(step, dict):
            raise ATIFError(f"ATIF trajectory {tid!r} step {index} is not an object")
        content += _step_items(step, step.get("step_id", index))
    adp = (data.get("extra") or {}).get(ADP_KEY) if isinstance(data.get("extra"), dict) else None
    out: dict[str, Any] = {"id": str(tid), "content": content}
    if isinstance(adp, dict):
        if adp.get("schema_version") is not None:
            out["schema_version"] = adp["schema_version"]
        if adp.get("available_apis") is not None:
            out["available_apis"] = adp["available_apis"]
        out["details"] = adp.get("details") or {}
    else:  # ATIF from elsewhere: 1.2.0, which carries reasoning content
        out["schema_version"] = SCHEMA_VERSION
        out["details"] = _foreign_details(data)
    traj = Trajectory.model_validate(out)
    return to_wire(traj, RELEASE if traj.schema_version is None else SCHEMA_VERSION)


def _foreign_details(data: dict) -> dict[str, str]:
    """Who made an ATIF trajectory from elsewhere, as string details."""
    agent = data.get("agent") if isinstance(data.get("agent"), dict) else {}
    pairs = (("atif_schema_version", data.get("schema_version")), ("agent", agent.get("name")),
             ("agent_version", agent.get("version")), ("model_name", agent.get("model_name")))
    return {k: str(v) for k, v in pairs if v is not None}


def _step_items(step: dict, step_id: Any) -> list[dict]:
    source = step.get("source")
    extra = step.get("extra") if isinstance(step.get("extra"), dict) else {}
    adp = extra.get(ADP_KEY) if isinstance(extra.get(ADP_KEY), dict) else {}
    message = _text(step.get("message"))
    calls = step.get("tool_calls") or []
    if source == "user":
        items = [_observation(message, "user", adp)]
    elif source == "system":
        items = [_observation(message, "user", {"name": "system"})] if message else []
    elif source == "agent":
        items = _agent_items(step, message, calls, adp)
    else:
        raise ATIFError(f"step {step_id}: source {source!r} is none of user, agent, system")
    ids = {c.get("tool_call_id") for c in calls if isinstance(c, dict)}
    observation = step.get("observation") if isinstance(step.get("observation"), dict) else {}
    notes = adp.get("observations") or []
    for k, result in enumerate(observation.get("results") or []):
        call = result.get("source_call_id")
        if call is not None and call not in ids:
            raise ATIFError(f"step {step_id}: observation result {k + 1} points at tool call id {call!r}, "
                            "which no tool call of this step has")
        note = notes[k] if k < len(notes) and isinstance(notes[k], dict) else {}
        items.append(_observation(_result_text(result), "environment", note))
    return items


def _agent_items(step: dict, message: str, calls: list, adp: dict) -> list[dict]:
    first: dict[str, Any] = {"reasoning_content": step.get("reasoning_content"), "reward": adp.get("reward")}
    if not calls:
        return [{"class_": "message_action", "content": message, "description": adp.get("description"), **first}]
    description = adp["description"] if "description" in adp else (message or None)
    items = []
    for j, call in enumerate(calls):
        function, arguments = _call_parts(call, step.get("step_id"))
        item: dict[str, Any] = first if j == 0 else {}
        if j == 0 and adp.get("class_") == "code_action":
            language, code = _code_parts(function, arguments, step.get("step_id"))
            item.update({"class_": "code_action", "language": language, "content": code})
        else:
            item.update({"class_": "api_action", "function": function, "kwargs": arguments})
        item["description"] = description if j == 0 else None
        items.append(item)
    return items


def _call_parts(call: Any, step_id: Any) -> tuple[str, dict]:
    import json

    if not isinstance(call, dict) or not isinstance(call.get("function_name"), str):
        raise ATIFError(f"step {step_id}: a tool call has no function_name")
    arguments = call.get("arguments", {})
    if isinstance(arguments, str):  # some producers keep the model's JSON text
        try:
            arguments = json.loads(arguments or "{}")
        except json.JSONDecodeError as e:
            raise ATIFError(f"step {step_id}: arguments of {call['function_name']!r} are not JSON ({e})") from None
    if not isinstance(arguments, dict):
        raise ATIFError(f"step {step_id}: arguments of {call['function_name']!r} are not an object")
    return call["function_name"], arguments


def _code_parts(function: str, arguments: dict, step_id: Any) -> tuple[str, str]:
    for language, (name, argument) in CODE_TOOLS.items():
        if function == name and isinstance(arguments.get(argument), str):
            return language, arguments[argument]
    if isinstance(arguments.get("language"), str) and isinstance(arguments.get("code"), str):
        return arguments["language"], arguments["code"]
    raise ATIFError(f"step {step_id}: code action call {function!r} has no code argument")


def _observation(text: str, source: str, note: dict) -> dict:
    if isinstance(note.get("item"), dict):
        return note["item"]
    return {"class_": "text_observation", "content": text, "name": note.get("name"),
            "source": note.get("source", source), "reward": note.get("reward")}


def _result_text(result: Any) -> str:
    if not isinstance(result, dict):
        return _text(result)
    if result.get("content") is not None:
        return _text(result["content"])
    refs = result.get("subagent_trajectory_ref") or []
    ids = [str(r.get("session_id")) for r in refs if isinstance(r, dict)]
    return f"subagent trajectories: {', '.join(ids)}" if ids else ""


def _text(value: Any) -> str:
    """A message or result as text (content parts joined; None is empty)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in value)
    return str(value)
