"""AgentInstruct ``mind2web`` split (THUDM/AgentInstruct) -> ADP.

Each row is one multiple-choice step: the user turn (HTML, task, previous
actions, choices) stays as is and the ``Thought: ... Answer: ...`` reply
becomes ``<finish> ANSWER </finish>`` with the thought as description. Rows
whose chosen option letter does not occur in the question are rejected
(the official converter drops them).

Deliberate differences from the official ``sample_std.json``: none.
"""

from __future__ import annotations

import re

from experio.adp.converters._base import SkipRow, msg, obs, register_converter, trajectory
from experio.adp.errors import ConversionError


@register_converter("agenttuning_mind2web", source="THUDM/AgentInstruct (mind2web)")
def convert(raw: dict) -> dict:
    turns = raw["conversations"]
    if len(turns) != 2:
        raise ConversionError(f"expected a user and an assistant turn, got {len(turns)} turns")
    user, reply = turns
    if user["role"] != "user" or reply["role"] != "assistant":
        raise ConversionError(f"expected roles user, assistant; got {user['role']}, {reply['role']}")
    m = re.search(r"Thought:\s*(.*?)\s*Answer:\s*(.*)", reply["content"], re.S)
    if not m:
        raise ConversionError("assistant turn has no 'Thought: ... Answer: ...'")
    thought, answer = m.group(1).strip(), m.group(2).strip()
    finish = f"<finish> {answer} </finish>"
    key = re.search(r"\b([A-Z])\.", finish)
    if not key:
        raise ConversionError(f"no option letter in the answer {answer!r}")
    if f"{key.group(1)}." not in user["content"]:
        raise SkipRow(f"option {key.group(1)} is not among the choices")
    return trajectory(raw["id"], [obs(user["content"], "user"), msg(finish, thought)])
