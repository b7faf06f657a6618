"""Orca AgentInstruct (microsoft/orca-agentinstruct-1M-v1) -> ADP.

Raw rows are ``{id, conversations: [{role, content}]}`` with roles system,
user and assistant. The system turn becomes an environment observation, user
turns user observations; an assistant turn with a language-tagged fenced code
block becomes a code action, otherwise a message. An empty system turn (all
of the release samples have one) is dropped. A trajectory ending in code
gets a closing user turn and ``<finish>``; a final message is wrapped in
``<finish> ... </finish>``.

Deliberate differences from the official ``sample_std.json``:

* the closing user turn and finish message are chosen with a generator seeded
  by the trajectory id instead of an unseeded ``random.choice`` (same five
  official texts).
"""

from __future__ import annotations

from experio.adp.converters._base import (
    closing_turns,
    msg,
    obs,
    register_converter,
    trajectory,
    wrap_finish,
)
from experio.adp.converters.code_feedback import split_code
from experio.adp.errors import ConversionError


def _step(step: dict) -> dict:
    role, text = step["role"], step["content"]
    if role == "system":
        return obs(text, "environment")
    if role == "user":
        return obs(text, "user")
    if role == "assistant":
        return split_code(text) or msg(text, None)
    raise ConversionError(f"unexpected role {role!r}; expected system, user or assistant")


@register_converter("orca_agentinstruct", source="microsoft/orca-agentinstruct-1M-v1")
def convert(raw: dict) -> dict:
    turns = [s for s in raw["conversations"] if s["role"] != "system" or s["content"].strip()]
    content = [_step(s) for s in turns]
    if content[-1]["class_"] == "code_action":
        content += closing_turns(str(raw["id"]), message_in_content=True)
    wrap_finish(content)
    return trajectory(str(raw["id"]), content)
