"""AgentInstruct ``db`` split (THUDM/AgentInstruct) -> ADP.

The system prompt's SQL fence becomes an ``<execute_mysql>`` example and the
``Final Answer: [...]`` pattern a ``<solution> [...] </solution>`` example
(the official text, including its ``</excute_mysql>`` typo, is kept so the
output equals the release). ``Action: Operation`` turns become ``mysql``
code actions, ``Action: Answer`` turns a ``<solution>`` message; the last
message is wrapped in ``<finish> ... </finish>``.

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

_SYSTEM = re.compile(r"(I will ask you a question,.*)\n(.*)", re.S)
_OPERATION = re.compile(r"(.*)Action: Operation\n```sql\n(.*)\n```", re.S)
_ANSWER = re.compile(r"(.*)Action: Answer\nFinal Answer: (.*)", re.S)


def _system(text: str) -> dict:
    if 'Final Answer: ["ANSWER1", "ANSWER2", ...]' not in text:
        raise ConversionError("db system prompt without the Final Answer pattern")
    text = text.replace(
        'Final Answer: ["ANSWER1", "ANSWER2", ...]',
        '<solution> [\\"ANSWER1\\", \\"ANSWER2\\", ...] </solution>',
    )
    sql = re.match(r"(.*)\n```sql\n(.*)\n```\n", text, re.S)
    if sql:
        text = re.sub(
            r"```sql\n(.*)\n```",
            lambda _m: f"<execute_mysql>\n{sql.group(2)}\n</excute_mysql>",
            text,
            flags=re.S,
        )
    text = text.replace("Action: Operation", "").replace("Action: Answer", "")
    return obs(text + "\n\nOk? Understood?", "user")


def _step(step: dict) -> dict:
    text = step["content"]
    if m := _SYSTEM.match(text):
        return _system(m.group(1))
    if m := _OPERATION.match(text):
        return code("mysql", m.group(2), m.group(1))
    if m := _ANSWER.match(text):
        return msg(f"<solution> {m.group(2)} </solution>", m.group(1))
    low = text.strip().lower()
    if low == "ok." or "ok. i'll follow" in low:
        return msg(text)
    if step["role"] == "assistant" and "Final Answer:" in text:
        answer = re.search(r"Final Answer:\s*(.*)", text, re.S).group(1)  # type: ignore[union-attr]
        text = re.sub(
            r"Final Answer:\s*(.*)", lambda _m: f"ACTION: <solution> {answer} </solution>", text
        )
    text = (
        text.replace("Thought:", "THOUGHT:")
        .replace("Action:", "ACTION:")
        .replace("Observation:", "OBSERVATION:")
    )
    return obs(text, "user" if step["role"] != "system" else "environment")


@register_converter("agenttuning_db", source="THUDM/AgentInstruct (db)")
def convert(raw: dict) -> dict:
    content = [_step(s) for s in raw["conversations"]]
    wrap_finish(content)
    return trajectory(raw["id"], content)
