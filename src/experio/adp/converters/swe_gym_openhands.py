"""SWE-Gym OpenHands sampled trajectories -> ADP.

Raw rows are ``{instance_id, run_id, resolved, messages, tools, test_result}``
with OpenAI-style messages. The system message is dropped; user and tool
messages become observations (user / environment; the ``OBSERVATION:``
header is removed); an assistant tool call ``execute_bash`` becomes a bash
code action, ``finish`` a ``<finish> MESSAGE </finish>`` message, any other
call an api action with the decoded JSON arguments. Observations of parallel
tool calls are placed after their calls. Unresolved runs are rejected as
skipped, as the official converter drops them.

Deliberate differences from the official ``sample_std.json``:

* the closing user turn and finish message (added when a run does not end
  with ``finish``) are chosen with a generator seeded by the trajectory id
  instead of an unseeded ``random.choice`` (same five official texts).
"""

from __future__ import annotations

import json

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
from experio.adp.errors import ConversionError

_PRIOR = (
    "2. Create a script to reproduce the error and execute it with "
    "`python <filename.py>` using the BashTool"
)
_NEW = "2. Create a script to reproduce the error and execute it"


def _text(content: object) -> str:
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


@register_converter("swe-gym_openhands_sampled_trajectories", source="SWE-Gym/OpenHands-Sampled-Trajectories")
def convert(raw: dict) -> dict:
    if not raw.get("resolved"):
        raise SkipRow("resolved is false (the run did not resolve the issue)")
    content: list[dict] = []
    pending = 0  # tool calls still waiting for their observation
    for idx, m in enumerate(raw["messages"]):
        role = m["role"]
        if role == "system":
            continue
        if role in ("user", "tool"):
            text = _text(m.get("content"))
            if idx == 1:
                text = text.replace(_PRIOR, _NEW)
            if "OBSERVATION:\n" in text:
                text = "\n".join(text.split("OBSERVATION:\n")[1:])
            item = obs(text, "user" if role == "user" else "environment")
            if pending:
                pending -= 1
            if pending == 0:
                content.append(item)
            else:  # parallel calls: keep each observation right after its call
                content[-pending:-pending] = [item]
        elif role == "assistant":
            text = _text(m.get("content"))
            thought = None if m.get("content") is None else text
            calls = m.get("tool_calls") or []
            if not calls:
                content.append(msg(text))
            for call in calls:
                if call.get("type", "function") != "function":
                    continue
                fn = call["function"]["name"]
                kwargs = json.loads(call["function"]["arguments"])
                if fn == "finish":
                    content.append(msg(f"<finish> {kwargs.get('message', 'Task completed.')} </finish>", thought))
                elif fn == "execute_bash":
                    pending += 1
                    content.append(code("bash", kwargs["command"], thought))
                else:
                    pending += 1
                    content.append(api(fn, kwargs, thought))
        else:
            raise ConversionError(f"unexpected role {role!r}")
    last = content[-1]
    if last["class_"] != "message_action" or "<finish>" not in last["content"]:
        content += closing_turns(raw["instance_id"], message_in_content=True)
    details = {
        "run_id": str(raw.get("run_id")),
        "resolved": str(raw.get("resolved")),
        "tools": json.dumps(raw.get("tools"), indent=2),
        "test_result": json.dumps(raw.get("test_result"), indent=2),
    }
    return trajectory(raw["instance_id"], content, details)
