"""NNetNav-live (stanfordnlp/nnetnav-live) -> ADP.

Raw rows are single steps ``{id, messages: [system, user, assistant], ...}``;
consecutive rows with the same ``id`` form one trajectory. The user turn
holds the accessibility tree, ``URL:`` and ``OBJECTIVE:``; it becomes a web
observation, and the objective the first user turn. The assistant turn ends
with a fenced WebArena action (``click [id]``, ``type [id] [text] [enter]``,
``scroll [down]``, ``press [keys]``, ``goto [url]``, ``stop [answer]``, ...)
which becomes a BrowserGym-style api action; ``stop [answer]`` becomes a
message to the user, and the final one ``<finish> ANSWER </finish>``. A trajectory that does not end with ``stop``,
or has a step that does not parse, is rejected with all its rows.

Deliberate differences from the official ``sample_std.json``:

* ``type [id] [text] [1]`` keeps ``press_enter_after`` = ``"1"``; the
  official parser counts brackets wrongly and always writes ``"0"``.
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator

from experio.adp.converters._base import (
    Converter,
    Outcome,
    api,
    msg,
    obs,
    register_converter,
    trajectory,
    web,
)
from experio.adp.readers import Row
from experio.adp.errors import ConversionError

_SUMMARY = "In summary, the next action I will perform is"
_GOAL = (
    "You are given the following objective: {objective}\nExamine the current web page and "
    "perform the next appropriate action to move toward completing the objective."
)


def parse_observation(text: str) -> tuple[str, str, str]:
    """``(axtree, url, objective)`` of a NNetNav user turn."""
    if "OBSERVATION:" not in text or "\nURL: " not in text:
        raise ConversionError("user turn lacks 'OBSERVATION:' or 'URL:'")
    start, prev = text.find("OBJECTIVE:"), text.find("PREVIOUS ACTIONS:")
    objective = text[start + len("OBJECTIVE:") : prev].strip() if start != -1 and prev != -1 else ""
    axtree = text.split("OBSERVATION:")[1].split("\nURL: ")[0].strip()
    url = text.split("\nURL: ")[1].split("\n")[0].strip()
    return axtree, url, objective


def parse_action(text: str) -> dict:
    """The action of an assistant turn (``stop`` gives a message action)."""
    a, b = text.find("```"), text.rfind("```")
    if a == -1 or b <= a:
        raise ConversionError("assistant turn has no fenced action")
    action = text[a + 3 : b].strip()
    thought = text[:a].replace(_SUMMARY, "").strip() or None
    name = action.split("[", 1)[0].strip().split()[0] if action.strip() else ""
    args = re.findall(r"\[(.*?)\]", action, re.S)

    def arg(i: int) -> str:
        if len(args) <= i:
            raise ConversionError(f"action {action!r} misses argument {i + 1}")
        return args[i]

    if name == "type":
        kwargs = {"bid": f'"{arg(0)}"', "text": f'"{arg(1)}"', "press_enter_after": args[2] if len(args) > 2 else "1"}
        return api("type", kwargs, thought)
    if name == "press":
        return api("keyboard_press", {"key": f'"{arg(0)}"'}, thought)
    if name == "scroll":
        delta = {"down": 500, "up": -500}.get(arg(0).strip().lower())
        if delta is None:
            raise ConversionError(f"scroll direction must be up or down: {action!r}")
        return api("scroll", {"delta_x": 0, "delta_y": delta}, thought)
    if name == "close_tab":
        return api("tab_close", {}, thought)
    if name == "stop":  # an answer to the user; the last one ends the trajectory
        return msg(arg(0), thought)
    if name in ("click", "hover"):
        return api(name, {"bid": f'"{arg(0)}"'}, thought)
    if name == "new_tab":
        return api("new_tab", {}, thought)
    if name == "tab_focus":
        return api("tab_focus", {"index": arg(0)}, thought)
    if name == "goto":
        return api("goto", {"url": f'"{arg(0)}"'}, thought)
    if name in ("go_back", "go_forward"):
        return api(name, {}, thought)
    raise ConversionError(f"unknown WebArena action {action!r}")


@register_converter("nnetnav-live", source="stanfordnlp/nnetnav-live")
class NNetNavLive(Converter):
    __doc__ = __doc__  # the module docstring: behaviour and deliberate differences

    def _finish(self, tid: str, lines: list[int], steps: list[dict], goal: str) -> Outcome:
        try:
            content: list[dict] = [obs(goal, "user")]
            for step in steps:
                msgs = step["messages"]
                axtree, url, _ = parse_observation(msgs[1]["content"])
                content += [web(axtree, url), parse_action(msgs[2]["content"])]
            last = content[-1]
            if last["class_"] != "message_action":
                raise ConversionError(f"trajectory did not complete: last action is {last['function']}")
            last["content"] = f"<finish> {last['content'].strip()} </finish>"
            return Outcome(tuple(lines), trajectory(tid, content, {"source": "nnetnav-live"}))
        except Exception as e:  # noqa: BLE001
            return Outcome(tuple(lines), None, f"{type(e).__name__}: {e}", {"id": tid})

    def stream(self, rows: Iterable[Row]) -> Iterator[Outcome]:
        tid: str | None = None
        lines: list[int] = []
        steps: list[dict] = []
        goal = ""
        for row in rows:
            if row.error is not None or not isinstance(row.value, dict) or "id" not in row.value:
                yield Outcome((row.line,), None, row.error or "row is not an object with an 'id'", row.raw)
                continue
            rid = str(row.value["id"])
            if tid is not None and rid != tid:
                yield self._finish(tid, lines, steps, goal)
                lines, steps = [], []
            if not steps:
                try:
                    goal = _GOAL.format(objective=parse_observation(row.value["messages"][1]["content"])[2])
                except (KeyError, IndexError, TypeError, ValueError):
                    goal = ""
            tid = rid
            lines.append(row.line)
            steps.append(row.value)
        if tid is not None:
            yield self._finish(tid, lines, steps, goal)
