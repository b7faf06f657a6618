"""AgentInstruct ``alfworld`` split (THUDM/AgentInstruct) -> ADP.

The system prompt keeps the task description and the reminders, drops the
action list (the tools are described by the ``agenttuning_alfworld`` tool
registry instead) and ends with "Ok? Understood?". ``THOUGHT: ... ACTION: ...``
turns become api actions (``go``, ``take``, ``put``, ``open``, ... with
quoted string arguments); acknowledgements ("OK. I'll follow ...") become
message actions; agent turns with no action become agent observations. A
trajectory ending in an action gets a closing user turn and a ``<finish>``.

Deliberate differences from the official ``sample_std.json``:

* the closing user turn and finish thought are chosen with a generator seeded
  by the trajectory id, not an unseeded ``random.choice``; they are drawn from
  the same five official texts, so only which one is chosen can differ.
"""

from __future__ import annotations

import re

from experio.adp.converters._base import (
    api,
    closing_turns,
    is_non_action,
    msg,
    obs,
    register_converter,
    trajectory,
)
from experio.adp.errors import ConversionError


# (pattern, function, argument names); first match wins, as in the official parser
_ACTIONS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = tuple(
    (re.compile(p), fn, args)
    for p, fn, args in (
        (r"go to (.+)", "go", ("location",)),
        (r"take (.+) from (.+)", "take", ("item", "source")),
        (r"put (.+) in/on (.+)", "put", ("item", "target")),
        (r"put (.+) on (.+)", "put", ("item", "target")),
        (r"open (.+)", "open", ("obj",)),
        (r"close (.+)", "close", ("obj",)),
        (r"heat (.+) with (.+)", "heat", ("item", "appliance")),
        (r"examine (.+)", "examine", ("obj",)),
        (r"cool (.+) with (.+)", "cool", ("item", "appliance")),
        (r"use (.+)", "use", ("obj",)),
        (r"clean (.+) with (.+)", "clean", ("item", "appliance")),
        (r"report problem with (.+)", "report_problem", ("obj",)),
        (r"inventory$", "inventory", ()),
        (r"look$", "look", ()),
        (r"look at (.+) under (.+)", "look_at_under", ("item", "reference")),
    )
)


def parse_action(action: str) -> tuple[str, dict]:
    """``"take mug 1 from desk 2"`` -> ``("take", {"item": '"mug 1"', "source": '"desk 2"'})``."""
    action = action.strip().lower()
    for pattern, fn, names in _ACTIONS:
        if m := pattern.match(action):
            return fn, {n: f'"{v}"' for n, v in zip(names, m.groups())}
    raise ConversionError(f"unrecognised ALFWorld action: {action!r}")


def _thought_action(text: str) -> tuple[str, str]:
    if m := re.search(r"THOUGHT:\s*(.*?)\s*ACTION:\s*(.*)", text, re.S):
        thought, action = m.group(1).strip(), m.group(2).strip()
    elif m := re.search(r"ACTION:\s*(.*)", text, re.I):
        thought, action = "", m.group(1).strip()
    else:
        return "", ""
    if is_non_action(action):
        action = ""
    return thought, action


def _system(text: str) -> dict:
    head = text.split("You should choose from two actions:")[0].strip() + "\n"
    tail = text.split('Your output must strictly follow this format:"ACTION: your next action\n". ')[-1]
    return obs(head + tail.strip() + "\n\nOk? Understood?", "user")


def _step(step: dict) -> dict:
    text = step["content"]
    if text.startswith("Interact with a household to solve a task"):
        return _system(text)
    low = text.strip().lower()
    if low == "ok" or "ok. i'll follow" in low:
        return msg(text)
    if step["role"] == "assistant":
        thought, action = _thought_action(text)
        if action:
            fn, kwargs = parse_action(action)
            return api(fn, kwargs, thought)
        return obs(thought or text, "agent")
    return obs(text.replace("ACTION: ", ""), "user" if step["role"] != "system" else "environment")


@register_converter("agenttuning_alfworld", source="THUDM/AgentInstruct (alfworld)")
def convert(raw: dict) -> dict:
    content = [_step(s) for s in raw["conversations"]]
    last = content[-1]
    if (last["class_"] == "text_observation" and last["source"] == "agent") or last[
        "class_"
    ] == "api_action":
        content += closing_turns(raw["id"], message_in_content=False)
    return trajectory(raw["id"], content)
