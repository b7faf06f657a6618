"""AgentInstruct ``webshop`` split (THUDM/AgentInstruct) -> ADP.

The system prompt is cut before its action instructions (the
``agenttuning_webshop`` tool registry describes ``search`` and ``click``);
``Thought:/Action: search[...]`` and ``click[...]`` turns become api actions
with a double-quoted argument. A closing user turn and a ``<finish>`` are
appended unless the trajectory already finishes.

Deliberate differences from the official ``sample_std.json``:

* the closing user turn and finish thought are chosen with a generator seeded
  by the trajectory id instead of an unseeded ``random.choice`` (same five
  official texts).
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

_ARG_NAME = {"search": "keywords", "click": "element"}


def _thought_action(text: str) -> tuple[str, str]:
    if m := re.search(r"Thought:\n\s*(.*?)\s*Action:\n\s*(.*)", text, re.S):
        thought, action = m.group(1).strip(), m.group(2).strip()
    elif m := re.search(r"Action:\n\s*(.*)", text, re.I):
        thought, action = "", m.group(1).strip()
    else:
        return "", ""
    if is_non_action(action):
        action = ""
    return thought, action


def parse_action(action: str) -> tuple[str, dict]:
    """``"click[Buy Now]"`` -> ``("click", {"element": '"Buy Now"'})``."""
    m = re.match(r"(\w+)\[(.*)\]", action)
    if not m:
        raise ConversionError(f"not a WebShop action: {action!r}")
    fn, arg = m.group(1), m.group(2)
    if fn not in _ARG_NAME:
        raise ConversionError(f"unknown WebShop action {fn!r}; expected search or click")
    return fn, ({_ARG_NAME[fn]: f'"{arg}"'} if arg else {})


def _step(step: dict) -> dict:
    text = step["content"]
    if m := re.match(r"(You are web shopping.*)\n(.*)", text, re.S):
        return obs(m.group(1).split("You can use search action if search is available.")[0], "user")
    low = text.strip().lower()
    if low == "ok." or "ok. i'll follow" in low:
        return msg(text)
    if step["role"] == "assistant":
        thought, action = _thought_action(text)
        fn, kwargs = parse_action(action)
        return api(fn, kwargs, thought)
    return obs(text, step["role"] if step["role"] in ("user", "agent", "environment") else "user")


@register_converter("agenttuning_webshop", source="THUDM/AgentInstruct (webshop)")
def convert(raw: dict) -> dict:
    content = [_step(s) for s in raw["conversations"]]
    last = content[-1]
    if last["class_"] != "message_action" or "<finish>" not in last["content"]:
        content += closing_turns(raw["id"], message_in_content=False)
    return trajectory(raw["id"], content)
