"""ADP -> AgentLab SFT rows: one example per agent step.

Each row is ``{"id": "<trajectory id>-<step>", "conversations": [user,
assistant], "system"}`` with ``role``/``content`` messages. The user message is
the goal (the first turn of the trajectory), the current accessibility tree
(when the step follows a web observation), the BrowserGym action space, the
history of past actions and the closing instruction; the assistant answers
``{"thought": ..., "action": ...}`` in JSON. Api actions become BrowserGym
calls ``fn(k=v)``, the finishing message ``send_msg_to_user(text="...")``;
other messages and agent text turns (acknowledgements such as "Ok.") are
not steps, but keep their number, as in the official files. Code actions
have no AgentLab form: such a trajectory is rejected with the reason.

Deliberate differences from the official ``sample_sft_agentlab.json``:

* ``thought`` holds the step's thought; the official exporter's regex puts the
  markup ``<function=browser>\\n<parameter=code>\\n`` there instead;
* the tree section is ``# Current page Accessibility Tree\\n<tree>\\n\\n``; the
  official one also carries the newline after the BEGIN marker and a stray
  ``============== `` from the END marker;
* every step is exported (the official sample file keeps one step per
  trajectory; ids follow the same ``<id>-<step>`` numbering).
"""

from __future__ import annotations

import json

from experio.adp.exporters._base import (
    ExportContext,
    ExportError,
    Exporter,
    call_text,
    finish_text,
    register_exporter,
)
from experio.adp.exporters._prompts import AGENTLAB_SUFFIX, AGENTLAB_SYSTEM
from experio.adp.tool_specs import AGENTLAB_ACTION_SPACE
from experio.adp.schema import Trajectory

HISTORY_HEADER = "\n\n\n\n\n# History of past actions\n"


def user_prompt(goal: str, axtree: str | None, past_actions: list[str]) -> str:
    tree = f"# Current page Accessibility Tree\n{axtree}\n\n" if axtree else ""
    history = HISTORY_HEADER + "\n".join(past_actions) + "\n\n"
    return f"# Goal\n{goal}\n\n{tree}{AGENTLAB_ACTION_SPACE}{history}{AGENTLAB_SUFFIX}"


@register_exporter("agentlab")
class AgentLabExporter(Exporter):
    __doc__ = __doc__

    def export(self, traj: Trajectory, ctx: ExportContext) -> list[dict]:
        first = traj.content[0] if traj.content else None
        if first is None or first.class_ != "text_observation":
            raise ExportError("AgentLab needs a goal: the first item must be a text observation")
        goal = first.content
        rows: list[dict] = []
        past: list[str] = []
        axtree: str | None = None
        step = -1
        for ev in traj.content[1:]:
            c = ev.class_
            if c == "web_observation":
                axtree = ev.axtree
                continue
            if c in ("text_observation", "image_observation"):
                axtree = None
                if c == "text_observation" and ev.source == "agent":
                    step += 1  # an agent turn: numbered like a step, but no action
                continue
            if c == "code_action":
                raise ExportError(f"{ev.language} code action has no AgentLab (browser) form")
            step += 1
            if c == "api_action":
                thought, action = ev.description or "", call_text(ev.function, ev.kwargs)
            else:  # message_action
                fin = finish_text(ev.content)
                if fin is None:
                    continue
                thought, action = ev.description or "", f'send_msg_to_user(text="{fin}")'
            answer = json.dumps({"thought": thought, "action": action})
            rows.append(
                {
                    "id": f"{traj.id}-{step}",
                    "conversations": [
                        {"role": "user", "content": user_prompt(goal, axtree, past)},
                        {"role": "assistant", "content": answer},
                    ],
                    "system": AGENTLAB_SYSTEM,
                }
            )
            past.append(answer)
        if not rows:
            raise ExportError("trajectory has no agent step")
        return rows
