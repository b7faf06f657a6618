"""AgentInstruct ``kg`` split (THUDM/AgentInstruct) -> ADP.

The system prompt keeps its first and last paragraph (the tool list lives in
the ``agenttuning_kg`` tool registry) with ``Final Answer: #id`` rewritten as
``<solution> #id </solution>``. ``Thought/Action: f(a, b)`` turns become api
actions whose positional arguments are named from the registry signatures
and single-quoted; ``Final Answer: X`` becomes ``<solution> X </solution>``.
A closing user turn and a ``<finish>`` message are appended. Rows whose
actions do not parse, or that do not end in a solution, are rejected (the
official converter drops them silently).

Deliberate differences from the official ``sample_std.json``:

* the closing user turn and finish message are chosen with a generator seeded
  by the trajectory id instead of an unseeded ``random.choice`` (same five
  official texts).
"""

from __future__ import annotations

import re

from experio.adp.converters._base import (
    api,
    closing_turns,
    msg,
    obs,
    register_converter,
    trajectory,
)
from experio.adp.tools import get_toolset
from experio.adp.errors import ConversionError

_SYSTEM = re.compile(r"(You are an agent that answers questions.*)\n(.*)", re.S)
_CALL = re.compile(r"(\w+)\((.*)\)")
_SIGS = {t.name: t.param_names() for t in get_toolset("agenttuning_kg").tools}


def parse_call(text: str) -> tuple[str, dict]:
    """``"get_neighbors(#2, a.b)"`` -> ``("get_neighbors", {"variable": "'#2'", "relation": "'a.b'"})``."""
    m = _CALL.match(text)
    if not m:
        raise ConversionError(f"not a function call: {text!r}")
    fn, args_text = m.group(1), m.group(2)
    if fn not in _SIGS:
        raise ConversionError(f"unknown kg function {fn!r}; known: {sorted(_SIGS)}")
    if not args_text:
        return fn, {}
    args = [a.strip() for a in args_text.split(",")]
    if len(args) != len(_SIGS[fn]):
        raise ConversionError(f"{fn} takes {len(_SIGS[fn])} arguments, got {len(args)}: {text!r}")
    return fn, {name: f"'{a}'" for name, a in zip(_SIGS[fn], args)}


def _system(m: re.Match[str]) -> dict:
    if "Final Answer: #3" not in m.group(1):
        raise ConversionError("kg system prompt without the 'Final Answer: #3' example")
    text = (
        m.group(1)
        .replace("Final Answer: #3", "<solution> #3 </solution>")
        .replace("Final Answer: #id", "<solution> #id </solution>")
    ) + m.group(2)
    paras = text.split("\n\n")
    return obs(paras[0] + "\n\n" + paras[-1] + "\n\nOk? Understood?", "user")


def _step(step: dict) -> dict:
    text = step["content"]
    if m := _SYSTEM.match(text):
        return _system(m)
    if step["role"] == "assistant" and "Final Answer:" in text:
        a = re.search(r"(.*)Final Answer:\s*(.*)", text, re.S)
        return msg(f"<solution> {a.group(2)} </solution>", a.group(1).strip().replace("Thought: ", ""))  # type: ignore[union-attr]
    if step["role"] == "assistant":
        if m := re.search(r"Thought:\s*(.*?)\nAction:\s*(.*)", text, re.S):
            fn, kwargs = parse_call(m.group(2).strip())
            return api(fn, kwargs, m.group(1).strip())
        return obs(text, "agent")
    return obs(text.replace("Observation:", ""), "user" if step["role"] != "system" else "environment")


@register_converter("agenttuning_kg", source="THUDM/AgentInstruct (kg)")
def convert(raw: dict) -> dict:
    content = [_step(s) for s in raw["conversations"]]
    last = content[-1]
    if last["class_"] != "message_action" or "<solution>" not in last["content"]:
        raise ConversionError("trajectory does not end with a final answer")
    content += closing_turns(raw["id"], message_in_content=True)
    return trajectory(raw["id"], content)
