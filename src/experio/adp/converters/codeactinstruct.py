"""CodeActInstruct (xingyaoww/code-act) -> ADP.

Raw rows are ``{id, conversations: [{role, content}]}``. The system turn is
dropped (each exporter writes its own); ``Task:`` and ``Observation:`` turns
become user observations; ``<execute>...</execute>`` becomes a Python code
action and ``<solution>...</solution>`` a ``<solution> X </solution>``
message (without the thought when
the thought itself contains ``<execute>``, which would confuse training).
The task turn ends with the interaction budget, "You have N chances to
interact with the environment or propose a solution. You can only propose a
solution P times.", taken from the row's system prompt when it states it, else
from the ``maxN_pP`` part of the row id (as in the release samples). The last
solution message is wrapped in ``<finish> ... </finish>``.

Deliberate differences from the official ``sample_std.json``: none.
"""

from __future__ import annotations

import re

from experio.adp.converters._base import (
    code,
    msg,
    obs,
    register_converter,
    trajectory,
    wrap_finish,
)
from experio.adp.errors import ConversionError

_TASK = re.compile(r"Task:\n(.*)", re.S)
_SOLUTION = re.compile(r"(.*)<solution>(.*)</solution>", re.S)
_EXECUTE = re.compile(r"(.*)<execute>(.*)</execute>", re.S)
_OBS = re.compile(r"Observation:\n(.*)", re.S)
_BUDGET_TEXT = re.compile(r"You have \d+ chances to interact with the environment.*?times\.", re.S)
_BUDGET_ID = re.compile(r"max(\d+)_p(\d+)")


def budget_note(raw: dict) -> str | None:
    """The interaction-budget sentence for this row, or None when unknown."""
    for turn in raw["conversations"]:
        if turn["role"] == "system" and (m := _BUDGET_TEXT.search(turn["content"])):
            return m.group(0)
    if m := _BUDGET_ID.search(str(raw.get("id", ""))):
        return (
            f"You have {m.group(1)} chances to interact with the environment or propose a "
            f"solution. You can only propose a solution {m.group(2)} times."
        )
    return None


def _step(step: dict) -> dict:
    role, text = step["role"], step["content"]
    if role not in ("user", "assistant"):
        raise ConversionError(f"unexpected role {role!r}")
    if m := _SOLUTION.match(text):
        thought, solution = m.group(1).strip(), m.group(2).strip()
        return msg(f"<solution> {solution} </solution>", None if "<execute>" in thought else thought)
    if m := _EXECUTE.match(text):
        thought, program = m.group(1).strip(), m.group(2).strip()
        if not program:
            raise ConversionError("empty <execute> block")
        return code("python", program, thought or None)
    source = "user" if role == "user" else "agent"
    if m := _OBS.match(text):
        return obs(m.group(1), source)
    if m := _TASK.match(text):
        return obs(m.group(1), source)
    raise ConversionError(f"cannot classify turn: {text[:200]!r}")


@register_converter("codeactinstruct", source="xingyaoww/code-act")
def convert(raw: dict) -> dict:
    content = [_step(s) for s in raw["conversations"] if s["role"] != "system"]
    note = budget_note(raw)
    if note and content[0]["class_"] == "text_observation":
        content[0]["content"] += "\n\n" + note
    wrap_finish(content)
    return trajectory(raw["id"], content)
