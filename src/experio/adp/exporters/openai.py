"""ADP -> OpenAI chat rows: ``{"messages": [...], "tools": [...]}``.

Actions become assistant messages with ``tool_calls`` (the thought is the
message content): an api action calls its function with the kwargs decoded
to JSON values (the quotes ADP keeps around string arguments are removed,
integer parameters become numbers); bash code calls ``execute_bash``
(``command``), Python ``execute_ipython_cell`` (``code``), other languages
``execute_<language>`` (``code``). The observation after a call is a
``tool`` message answering it; other observations are user messages (agent
text turns are assistant messages). A ``<finish> X </finish>`` message ends
the chat as the plain assistant message ``X``. ``tools`` holds a JSON schema
for every function the trajectory calls plus the dataset's registry, from
the per-dataset tool registry.

>>> from experio.adp.schema import Trajectory
>>> t = Trajectory.model_validate({"id": "t", "details": {}, "content": [
...   {"class_": "text_observation", "content": "list files", "name": None, "source": "user"},
...   {"class_": "code_action", "language": "bash", "content": "ls", "description": "Look."},
...   {"class_": "text_observation", "content": "a.txt", "name": None, "source": "environment"},
...   {"class_": "message_action", "content": "<finish> a.txt </finish>", "description": None}]})
>>> row = OpenAIExporter().export(t, ExportContext())[0]
>>> [m["role"] for m in row["messages"]]
['user', 'assistant', 'tool', 'assistant']
>>> row["messages"][1]["tool_calls"][0]["function"]
{'name': 'execute_bash', 'arguments': '{"command": "ls"}'}
"""

from __future__ import annotations

import json
from typing import Any

from experio.adp.exporters._base import ExportContext, ExportError, Exporter, finish_text, register_exporter
from experio.adp.schema import Trajectory
from experio.adp.tools import Param, Tool, get_toolset

_CODE_TOOLS = {"bash": ("execute_bash", "command"), "python": ("execute_ipython_cell", "code")}


def _unquote(v: Any) -> Any:
    if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    return v


def arguments(kwargs: dict, tool: Tool | None) -> dict:
    """ADP kwargs as JSON tool-call arguments (quotes removed, integers typed)."""
    types = {p.name: p.json_type()["type"] for p in tool.params} if tool else {}
    out = {}
    for k, v in kwargs.items():
        v = _unquote(v)
        if types.get(k) in ("integer", "number") and isinstance(v, str):
            try:
                v = int(v) if types[k] == "integer" else float(v)
            except ValueError:
                pass
        out[k] = v
    return out


def _code_tool(language: str) -> tuple[str, str]:
    return _CODE_TOOLS.get(language, (f"execute_{language}", "code"))


def _schema_for_code(name: str, arg: str, language: str) -> dict:
    return Tool(
        name=name,
        params=(Param(arg, "str", None, f"The {language} code to run."),),
        text=f"{name}({arg}: str)\n    Run {language} code and return its output.\n\n",
    ).json_schema()


def _schema_from_kwargs(fn: str, kwargs: dict) -> dict:
    params = tuple(Param(k, "str") for k in kwargs)
    return Tool(name=fn, params=params, text=f"{fn}()\n    {fn}\n\n").json_schema()


def to_chat(traj: Trajectory, ctx: ExportContext, hf: bool) -> dict:
    """Shared body of the ``openai`` (``hf=False``) and ``trl`` (``hf=True``) rows.

    The two differ only in how tool-call arguments are carried: a JSON string
    (OpenAI API) or a dict (Hugging Face chat templates), and in using ``""``
    rather than ``None`` for an empty assistant content.
    """
    ts = ctx.toolset
    known = {t.name: t for t in ts.all_tools()} if ts is not None else {}
    native = {t.name: t for t in get_toolset("openhands").tools}
    browser = {t.name: t for t in get_toolset("browser").tools}
    schemas: dict[str, dict] = {name: t.json_schema() for name, t in known.items()}
    messages: list[dict] = []
    pending: list[tuple[str, str]] = []  # (call id, tool name) waiting for a result
    n_calls = 0

    def call(name: str, args: dict, thought: str | None) -> None:
        nonlocal n_calls
        n_calls += 1
        cid = f"call_{n_calls}"
        payload = args if hf else json.dumps(args, ensure_ascii=False)
        messages.append(
            {
                "role": "assistant",
                "content": thought or ("" if hf else None),
                "tool_calls": [{"id": cid, "type": "function", "function": {"name": name, "arguments": payload}}],
            }
        )
        pending.append((cid, name))

    def observe(text: str, role: str) -> None:
        if pending:
            cid, name = pending.pop(0)
            m = {"role": "tool", "tool_call_id": cid, "content": text}
            if hf:
                m["name"] = name
            messages.append(m)
        else:
            messages.append({"role": role, "content": text})

    for ev in traj.content:
        c = ev.class_
        if c == "api_action":
            tool = known.get(ev.function) or native.get(ev.function) or browser.get(ev.function)
            if tool is not None:
                schemas.setdefault(tool.name, tool.json_schema())
            else:
                schemas.setdefault(ev.function, _schema_from_kwargs(ev.function, ev.kwargs))
            call(ev.function, arguments(ev.kwargs, tool), ev.description)
        elif c == "code_action":
            name, arg = _code_tool(ev.language)
            schemas.setdefault(name, _schema_for_code(name, arg, ev.language))
            call(name, {arg: ev.content}, ev.description)
        elif c == "message_action":
            pending.clear()
            fin = finish_text(ev.content)
            text = fin if fin is not None else ev.content
            if ev.description:
                text = f"{ev.description}\n\n{text}" if text else ev.description
            messages.append({"role": "assistant", "content": text})
        elif c == "text_observation":
            if ev.source == "agent":
                pending.clear()
                messages.append({"role": "assistant", "content": ev.content})
            else:
                observe(ev.content, "user")
        elif c == "web_observation":
            if ev.axtree is None and ev.html is None:
                raise ExportError("web_observation with neither an accessibility tree nor HTML")
            page = ev.axtree if ev.axtree is not None else ev.html
            observe(f"URL: {ev.url}\n{page}" if ev.url else str(page), "user")
        elif c == "image_observation":
            observe(f"[Image: {ev.content}]", "user")
    if not messages:
        raise ExportError("empty trajectory")
    return {"messages": messages, "tools": list(schemas.values())}


@register_exporter("openai")
class OpenAIExporter(Exporter):
    __doc__ = __doc__
    json_columns = ("messages", "tools")

    def export(self, traj: Trajectory, ctx: ExportContext) -> list[dict]:
        row = to_chat(traj, ctx, hf=False)
        return [{"id": traj.id, **row}]
