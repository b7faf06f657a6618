"""AgentInstruct ``os`` split (THUDM/AgentInstruct) -> ADP.

Raw rows are ``{id, conversations: [{role, content}]}``. The long system
prompt in the first user turn is replaced by the task plus a short answer
format instruction; ``Think:/Act: bash`` turns become bash code actions,
``Act: answer(X)`` a ``<solution> X </solution>`` message, ``Act: finish`` a
``<finish></finish>`` message; ``The output of the OS:`` turns become
environment observations. A final solution message is wrapped in
``<finish> ... </finish>``.

Deliberate differences from the official ``sample_std.json``: none.
"""

from __future__ import annotations

import re

from experio.adp.converters._base import code, msg, obs, register_converter, trajectory
from experio.adp.errors import ConversionError

_FIRST = re.compile(r"(You are an assistant.*\n\nNow, my problem is:)\n(.*)", re.S)
_ACT = re.compile(r"Think: (.*)\n\nAct: (.*)", re.S)
_OBS = re.compile(r"The output of the OS:\n(.*)", re.S)
_BASH = re.compile(r"bash\s*\n\s*\n```bash\n(.*)\n```", re.S)
_ANSWER = re.compile(r"answer\((.*)\)", re.S)
_SOLUTION_HINT = (
    "If you think you have got the answer to the question, you should print like this:"
    "\n\n<solution> Your solution here </solution>"
)


def _step(step: dict) -> dict:
    text = step["content"]
    if m := _FIRST.match(text):
        task = m.group(2).strip().replace("?bash:`", "?")
        return obs(task + "\n\n" + _SOLUTION_HINT, "user")
    if m := _ACT.match(text):
        thought, act = m.group(1), m.group(2)
        if b := _BASH.match(act):
            return code("bash", b.group(1), thought)
        if a := _ANSWER.match(act):
            return msg(f"<solution> {a.group(1)} </solution>", thought)
        if act.startswith("finish"):
            return msg("<finish></finish>", thought)
        raise ConversionError(f"cannot parse the action of an assistant turn: {act[:200]!r}")
    if m := _OBS.match(text):
        return obs(m.group(1), "environment")
    return obs(
        text.replace("Thought:", "THOUGHT:").replace("Action:", "ACTION:").replace(
            "Observation:", "OBSERVATION:"
        ),
        "user",
    )


@register_converter("agenttuning_os", source="THUDM/AgentInstruct (os)")
def convert(raw: dict) -> dict:
    content = [_step(s) for s in raw["conversations"]]
    last = content[-1]
    if last["class_"] == "message_action" and "<solution>" in last["content"]:
        last["content"] = f"<finish> {last['content']} </finish>"
    return trajectory(raw["id"], content)
