"""Nebius SWE-agent trajectories (nebius/SWE-agent-trajectories) -> ADP.

Raw rows are ``{instance_id, model_name, target, trajectory: [{role, text}],
exit_status, generated_patch, eval_logs}``. The system turn is dropped; user
turns are observations; an ``ai`` turn is "thought + fenced command". A
command of the SWE-agent interface (``open``, ``edit``, ``find_file``,
``search_file``, ``goto``, ``create``, ``submit``, ... : the
``nebius_SWE-agent-trajectories`` tool registry) becomes an api action whose
arguments follow the registry signature (strings double-quoted, ``edit``
line numbers as ints, ``edit`` text up to ``end_of_edit``); anything else is a
bash code action. A trajectory ending in an action gets a closing user turn
and ``<finish>``. Rows with ``target`` false (unsuccessful runs) are rejected
as skipped, as the official converter drops them.

Deliberate differences from the official ``sample_std.json``:

* ``edit`` keeps the indentation of the first replacement line (the official
  parser drops it, which corrupts Python edits such as ``        if x:``);
* the closing user turn and finish message are chosen with a generator seeded
  by the trajectory id instead of an unseeded ``random.choice`` (same five
  official texts).
"""

from __future__ import annotations

import re
import shlex

from experio.adp.converters._base import (
    SkipRow,
    api,
    closing_turns,
    code,
    msg,
    obs,
    register_converter,
    trajectory,
)
from experio.adp.tools import get_toolset
from experio.adp.errors import ConversionError

_TOOLS = {t.name: t for t in get_toolset("nebius_SWE-agent-trajectories").tools}


def _thought_and_command(text: str) -> tuple[str, str]:
    thought, command, rest = text.rsplit("```", 2)
    thought, rest = thought.strip(), rest.strip()
    thought = thought.removeprefix("DISCUSSION").strip()
    thought = thought.removesuffix("COMMAND").strip()
    if rest:
        thought = f"{thought} {rest}"
    lines = command.splitlines()
    if lines and re.fullmatch(r"\w+\s*", lines[0]):  # a language tag after the fence
        command = "\n".join(lines[1:])
    return thought, command.strip()


def _edit(command: str) -> dict:
    head, _, body = command.partition("\n")
    m = re.fullmatch(r"edit\s+(\d+):(\d+)\s*", head)
    if not m:
        raise ConversionError(f"malformed edit command: {head!r}")
    if body.endswith("end_of_edit"):
        body = body[: -len("end_of_edit")]
    return {"start_line": int(m.group(1)), "end_line": int(m.group(2)), "replacement_text": f'"{body}"'}


def parse_command(command: str) -> tuple[str, dict] | None:
    """``(function, kwargs)`` for an interface command, None for plain bash."""
    name = command.split()[0] if command.split() else ""
    tool = _TOOLS.get(name)
    if tool is None:
        return None
    if name == "edit":
        return name, _edit(command)
    args = shlex.split(command)[1:]
    if len(args) > len(tool.params):
        raise ConversionError(f"{name} takes at most {len(tool.params)} arguments: {command!r}")
    kwargs = {}
    for p, a in zip(tool.params, args):
        kwargs[p.name] = a if p.type == "int" else f'"{a}"'
    missing = [p.name for p in tool.params[len(args):] if p.required]
    if missing:
        raise ConversionError(f"{name} misses required arguments {missing}: {command!r}")
    return name, kwargs


def _ai_turn(text: str) -> dict:
    if "```" not in text:
        return msg(text)
    try:
        thought, command = _thought_and_command(text)
        parsed = parse_command(command)
    except ValueError:
        return msg(text)
    if parsed is None:
        return code("bash", command, thought)
    return api(parsed[0], parsed[1], thought)


@register_converter("nebius_SWE-agent-trajectories", source="nebius/SWE-agent-trajectories")
def convert(raw: dict) -> dict:
    if not raw.get("target"):
        raise SkipRow("target is false (the run did not resolve the issue)")
    content = []
    for turn in raw["trajectory"]:
        role = turn["role"]
        if role == "system":
            continue
        if role == "user":
            content.append(obs(turn["text"], "user"))
        elif role == "ai":
            content.append(_ai_turn(turn["text"]))
        else:
            raise ConversionError(f"unexpected role {role!r}")
    if content and content[-1]["class_"] in ("api_action", "code_action"):
        content += closing_turns(raw["instance_id"], message_in_content=True)
    details = {
        k: raw.get(k) or "" for k in ("model_name", "exit_status", "generated_patch", "eval_logs")
    }
    return trajectory(raw["instance_id"], content, details)
