"""ADP -> SWE-agent SFT rows (ShareGPT style), as the official exporter writes them.

Each row is ``{"id", "conversations": [{"from": "human"|"gpt", "value"}],
"system"}``. Thoughts are wrapped in ``<think>...</think>``; bash code calls
``bash``, Python code runs as ``python -c $'...'`` through ``bash``; SWE-agent
tools (``bash``, ``submit``, ``str_replace_editor``) are called directly and
dataset api actions as ``bash`` commands ``fn(k=v)``; ``<finish>`` becomes a
``submit`` call after the final message. Turns after a call are headed
``OBSERVATION:``. A trajectory with code in another language, or with web
observations, has no SWE-agent form and is rejected with the reason.

Deliberate differences from the official ``sample_sft_sweagent.json``:

* the sentence introducing the tool list is picked by a hash of the id
  instead of at random (same official sentences).
"""

from __future__ import annotations

from experio.adp.exporters._base import (
    ExportContext,
    ExportError,
    Exporter,
    call_text,
    finish_text,
    format_function,
    register_exporter,
    tool_preamble,
)
from experio.adp.exporters._prompts import SWEAGENT_SYSTEM
from experio.adp.schema import Trajectory

SWEAGENT_TOOLS = {
    "bash": (("command",), ()),
    "submit": ((), ()),
    "str_replace_editor": (
        ("command", "path"),
        ("file_text", "old_str", "new_str", "insert_line", "view_range"),
    ),
}


def _think(description: str | None) -> str:
    return f"<think>\n{description}\n</think>\n\n" if description else ""


def _check_args(fn: str, kwargs: dict, required: tuple, optional: tuple) -> None:
    missing = [a for a in required if a not in kwargs]
    extra = [a for a in kwargs if a not in required + optional]
    if missing or extra:
        raise ExportError(f"{fn} called with wrong arguments (missing {missing}, unknown {extra})")


@register_exporter("sweagent")
class SweAgentExporter(Exporter):
    __doc__ = __doc__

    def export(self, traj: Trajectory, ctx: ExportContext) -> list[dict]:
        ts = ctx.toolset
        own = set(ts.names()) if ts is not None else set()
        conv: list[dict] = []
        for ev in traj.content:
            c = ev.class_
            if c == "api_action":
                fn = ev.function
                if fn in SWEAGENT_TOOLS and fn not in own:
                    _check_args(fn, ev.kwargs, *SWEAGENT_TOOLS[fn])
                    call = format_function(fn, ev.kwargs)
                elif fn in own:
                    call = format_function("bash", {"command": call_text(fn, ev.kwargs)})
                else:
                    raise ExportError(f"api_action {fn!r} is neither a SWE-agent tool nor in the dataset's registry")
                m = {"from": "function_call", "value": _think(ev.description) + call}
            elif c == "code_action":
                body = ev.content
                if ev.language in ("python", "python3"):
                    body = f"{ev.language} -c $'{body}'"
                elif ev.language != "bash":
                    raise ExportError(f"{ev.language} code has no SWE-agent form (bash or python only)")
                m = {"from": "function_call", "value": _think(ev.description) + format_function("bash", {"command": body})}
            elif c == "message_action":
                thought = _think(ev.description)
                fin = finish_text(ev.content)
                if fin is not None:
                    thought += f"\n{fin}"
                    m = {"from": "function_call", "value": thought.strip() + format_function("submit", {})}
                else:
                    m = {"from": "gpt", "value": thought + ev.content}
            elif c == "text_observation":
                m = {"from": {"user": "human", "agent": "gpt", "environment": "observation"}[ev.source], "value": ev.content}
            else:
                raise ExportError(f"{c} has no SWE-agent form")
            if conv and (conv[-1]["from"] == "function_call" or m["from"] == "observation"):
                m["value"] = "OBSERVATION:\n" + m["value"]
            conv.append(m)
        if not conv:
            raise ExportError("empty trajectory")
        if ts is not None and ts.api_text and ts.environment != "browser":
            conv[0]["value"] = tool_preamble(traj.id, "bash", ts.api_text) + conv[0]["value"]
        for m in conv:
            m["from"] = {"function_call": "gpt", "observation": "human"}.get(m["from"], m["from"])
        return [{"id": traj.id, "conversations": conv, "system": SWEAGENT_SYSTEM}]
