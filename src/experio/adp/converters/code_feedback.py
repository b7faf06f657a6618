"""Code-Feedback (m-a-p/Code-Feedback) -> ADP.

Raw rows are ``{id, messages: [{role, content}]}``. A user turn starting with
``Execution result: \\n`` is an environment observation; an assistant turn
with a fenced, language-tagged code block becomes a code action (the text
before the fence is the description, the language lower-cased), any other
assistant turn a message. A trajectory ending in code gets a closing user turn
and ``<finish>``; a final message is wrapped in ``<finish> ... </finish>``.

Deliberate differences from the official ``sample_std.json``:

* the closing user turn and finish message are chosen with a generator seeded
  by the trajectory id instead of an unseeded ``random.choice`` (same five
  official texts).
"""

from __future__ import annotations

import re

from experio.adp.converters._base import (
    closing_turns,
    code,
    msg,
    obs,
    register_converter,
    trajectory,
    wrap_finish,
)
from experio.adp.errors import ConversionError

_RESULT = re.compile(r"Execution result: \n(.*)", re.S)
_FENCE = re.compile(r"(.*?)?```(\w+)?\n(.*?)\n```", re.S)


def split_code(text: str) -> dict | None:
    """The first language-tagged fenced block of ``text`` as a code action, else None."""
    m = _FENCE.match(text)
    if m and m.group(2):
        return code(m.group(2).lower(), m.group(3), m.group(1))
    return None


def _step(step: dict) -> dict:
    role, text = step["role"], step["content"]
    if role == "user":
        if m := _RESULT.match(text):
            return obs(m.group(1), "environment")
        return obs(text, "user")
    if role == "assistant":
        return split_code(text) or msg(text, None)
    raise ConversionError(f"unexpected role {role!r}; expected user or assistant")


@register_converter("code_feedback", source="m-a-p/Code-Feedback")
def convert(raw: dict) -> dict:
    content = [_step(s) for s in raw["messages"]]
    if content[-1]["class_"] == "code_action":
        content += closing_turns(str(raw["id"]), message_in_content=True)
    wrap_finish(content)
    return trajectory(str(raw["id"]), content)
