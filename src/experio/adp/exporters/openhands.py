"""ADP -> OpenHands SFT rows (ShareGPT style), as the official exporter writes them.

Each row is ``{"id", "conversations": [{"from": "human"|"gpt", "value"}],
"system"}``. Actions become the thought followed by function-call markup:
code in bash / Python calls ``execute_bash`` / ``execute_ipython_cell``
(other languages run as ``lang("code")`` in ``execute_ipython_cell``, with a
note in the first turn); a dataset api action calls its environment
(``execute_ipython_cell``, ``execute_bash`` or ``browser``) with
``fn(k=v)``; OpenHands' own tools (``str_replace_editor`` ...) are called
directly; ``<finish>`` becomes a ``finish`` call. A text observation after a
call is headed ``EXECUTION RESULT of [tool]:``; a web observation shows the
URL, the last element id and the accessibility tree. The dataset's tool
descriptions precede the first user turn.

Deliberate differences from the official ``sample_sft_openhands.json``:

* the sentence introducing the tool list is picked by a hash of the id
  instead of at random (same official sentences);
* no browser is started: a web observation with HTML but no accessibility
  tree is rejected with a clear reason instead of rendering it in Chromium.
"""

from __future__ import annotations

from experio.adp.exporters._base import (
    ExportContext,
    ExportError,
    Exporter,
    call_text,
    called_function,
    finish_text,
    format_function,
    register_exporter,
    tool_preamble,
)
from experio.adp.exporters._prompts import OPENHANDS_SYSTEM
from experio.adp.schema import Trajectory
from experio.adp.tools import get_toolset

OPENHANDS_TOOLS = ("execute_bash", "execute_ipython_cell", "str_replace_editor", "browser", "finish", "think")
_CODE_TOOL = {"python": "execute_ipython_cell", "bash": "execute_bash"}
_ARG = {"execute_ipython_cell": "code", "execute_bash": "command", "browser": "code"}


def language_note(languages: list[str]) -> str:
    """How a non-Python/bash language is run inside ``execute_ipython_cell``."""
    return "\n\n".join(
        f"In the execute_ipython_cell code environment, you can execute {lang} code by wrapping "
        f"it in the following format: {lang}('YOUR {lang.upper()} CODE')\nThe {lang} code must "
        f"be provided as a quoted string inside the {lang}(...) function. Ensure 'YOUR "
        f"{lang.upper()} CODE' is valid {lang} code."
        for lang in languages
    )


def web_message(url: str | None, axtree: str, prev_bid: str | None) -> str:
    return (
        f"[Current URL: {url}]\n[Focused element bid: {prev_bid}]\n\n"
        "[Action executed successfully.]\n"
        "============== BEGIN accessibility tree ==============\n"
        f"{axtree}\n"
        "============== END accessibility tree ==============\n"
    )


_BROWSER_NAMES: frozenset[str] | None = None


def _browser_names() -> frozenset[str]:
    global _BROWSER_NAMES
    if _BROWSER_NAMES is None:
        _BROWSER_NAMES = frozenset(get_toolset("browser").names())
    return _BROWSER_NAMES


class _State:
    def __init__(self, ctx: ExportContext) -> None:
        self.toolset = ctx.toolset
        self.own = frozenset(self.toolset.names()) if self.toolset is not None else frozenset()
        self.known = (
            frozenset(t.name for t in self.toolset.all_tools()) if self.toolset is not None else frozenset()
        )
        self.web = self.toolset is not None and self.toolset.environment == "browser"
        self.prev_bid: str | None = None
        self.languages: list[str] = []


def _api(ev, st: _State) -> str:  # noqa: ANN001
    thought = f"{ev.description}\n\n" if ev.description else ""
    fn, kwargs = ev.function, dict(ev.kwargs)
    own = fn in st.own
    if fn in OPENHANDS_TOOLS and not own:
        st.prev_bid = None
        return thought + format_function(fn, kwargs)
    bid = kwargs.get("bid")
    if st.web or (not own and fn in _browser_names()):
        st.prev_bid = value_bid(bid)
        return thought + format_function("browser", {"code": call_text(fn, kwargs)})
    if not own and st.toolset is not None and fn not in st.known:
        raise ExportError(f"api_action {fn!r} is not in the {st.toolset.dataset!r} tool registry")
    env = st.toolset.environment if st.toolset is not None else "execute_ipython_cell"
    st.prev_bid = None
    return thought + format_function(env, {_ARG.get(env, "code"): call_text(fn, kwargs)})


def value_bid(bid: object) -> str | None:
    if bid is None:
        return None
    text = str(bid)
    return text if text.startswith('"') and text.endswith('"') and len(text) > 1 else f'"{text}"'


def _code(ev, st: _State) -> str:  # noqa: ANN001
    thought = f"{ev.description}\n\n" if ev.description else ""
    st.prev_bid = None
    tool = _CODE_TOOL.get(ev.language)
    body = ev.content
    if tool is None:
        if ev.language not in st.languages:
            st.languages.append(ev.language)
        tool, body = "execute_ipython_cell", f'{ev.language}("{ev.content}")'
    return thought + format_function(tool, {_ARG[tool]: body})


@register_exporter("openhands")
class OpenHandsExporter(Exporter):
    __doc__ = __doc__

    def export(self, traj: Trajectory, ctx: ExportContext) -> list[dict]:
        st = _State(ctx)
        conv: list[dict] = []
        for ev in traj.content:
            c = ev.class_
            if c == "web_observation":
                if ev.axtree is None:
                    raise ExportError(
                        "web_observation without an accessibility tree; rendering HTML needs a "
                        "browser, which this exporter does not start"
                    )
                m = {"from": "human", "value": web_message(ev.url, ev.axtree, st.prev_bid)}
                if conv and conv[-1]["from"] == "human":
                    conv[-1]["value"] += "\n\n" + m["value"]
                    continue
            elif c == "api_action":
                m = {"from": "function_call", "value": _api(ev, st)}
            elif c == "code_action":
                m = {"from": "function_call", "value": _code(ev, st)}
            elif c == "message_action":
                thought = f"{ev.description}\n\n" if ev.description else ""
                fin = finish_text(ev.content)
                if fin is not None:
                    call = format_function("finish", {"message": fin, "task_completed": "true"})
                    m = {"from": "function_call", "value": thought + call}
                else:
                    m = {"from": "gpt", "value": thought + ev.content}
            elif c == "text_observation":
                role = {"user": "human", "agent": "gpt", "environment": "observation"}[ev.source]
                m = {"from": role, "value": ev.content}
                if conv and conv[-1]["from"] == "function_call":
                    m["from"] = "observation"
                    fn = called_function(conv[-1]["value"])
                    if fn in OPENHANDS_TOOLS:
                        m["value"] = f"EXECUTION RESULT of [{fn}]:\n" + m["value"]
            elif c == "image_observation":
                notes = [f"{a.text} ({a.element_type})" for a in ev.annotations or [] if a.text]
                extra = "Elements detected: " + ", ".join(notes) if notes else ""
                m = {"from": "observation", "value": f"[Image: {ev.content}]\n{extra}"}
            else:  # pragma: no cover - the schema admits no other class
                raise ExportError(f"unknown item class {c!r}")
            conv.append(m)
        if not conv:
            raise ExportError("empty trajectory")
        ts = st.toolset
        if ts is not None and ts.api_text:
            also = ts.environment == "browser"
            conv[0]["value"] = tool_preamble(traj.id, ts.environment, ts.api_text, also) + conv[0]["value"]
        if st.languages:
            conv[0]["value"] = language_note(st.languages) + "\n\n" + conv[0]["value"]
        for m in conv:
            m["from"] = {"function_call": "gpt", "observation": "human"}.get(m["from"], m["from"])
        return [{"id": traj.id, "conversations": conv, "system": OPENHANDS_SYSTEM}]
