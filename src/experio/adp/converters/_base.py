"""Converter registry and the small helpers every converter uses.

A converter turns raw dataset rows into ADP trajectories (wire dicts, which the
pipeline validates once). Register one with :func:`register_converter`:

>>> @register_converter("demo_ds")
... def convert(raw: dict) -> dict:
...     return trajectory(raw["id"], [obs(raw["q"]), msg("<finish> ok </finish>")])
>>> get_converter("demo_ds").convert({"id": "1", "q": "hi"})["content"][0]["source"]
'user'
>>> _ = CONVERTERS.pop("demo_ds")

A converter that builds one trajectory from several consecutive rows (like
``nnetnav-live``, one row per step) subclasses :class:`Converter` and
overrides :meth:`Converter.stream`.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from experio.adp.errors import ConversionError, UnknownConverterError
from experio.adp.readers import Row


class SkipRow(Exception):
    """Raised by a converter for a row that the official pipeline drops on purpose
    (for example an unresolved SWE-Gym run). The row goes to the rejects file
    with this reason, so nothing is dropped silently."""


@dataclass(slots=True)
class Outcome:
    """Result of converting input rows: a trajectory dict or an error.

    ``lines`` are the input lines that went into it (several for grouping
    converters); ``error`` names what went wrong for rejected rows.
    """

    lines: tuple[int, ...]
    value: dict | None
    error: str | None = None
    raw: Any = None


class Converter:
    """Base class: per-row conversion through ``convert(raw) -> dict``."""

    name: str = ""
    #: the source dataset on the Hugging Face hub (for docs and ``stats``)
    source: str = ""

    def convert(self, raw: dict) -> dict:  # pragma: no cover - overridden
        raise NotImplementedError

    def stream(self, rows: Iterable[Row]) -> Iterator[Outcome]:
        """Convert rows one by one; errors become rejected outcomes."""
        for row in rows:
            if row.error is not None:
                yield Outcome((row.line,), None, row.error, row.raw)
                continue
            try:
                if not isinstance(row.value, dict):
                    raise ConversionError(f"expected a JSON object, got {type(row.value).__name__}")
                yield Outcome((row.line,), self.convert(row.value))
            except SkipRow as e:
                yield Outcome((row.line,), None, f"skipped: {e}", row.value)
            except Exception as e:  # noqa: BLE001 - any converter failure is a reject
                yield Outcome((row.line,), None, f"{type(e).__name__}: {e}", row.value)


class FunctionConverter(Converter):
    def __init__(self, name: str, fn: Callable[[dict], dict], source: str = "") -> None:
        self.name, self._fn, self.source = name, fn, source
        mod = sys.modules.get(fn.__module__)
        self.__doc__ = (mod.__doc__ if mod else None) or fn.__doc__

    def convert(self, raw: dict) -> dict:
        return self._fn(raw)


CONVERTERS: dict[str, Converter] = {}


def register_converter(name: str, source: str = "") -> Callable[[Any], Any]:
    """Decorator: register a ``convert(raw) -> dict`` function or a Converter class."""

    def deco(obj: Any) -> Any:
        if isinstance(obj, type) and issubclass(obj, Converter):
            inst = obj()
            inst.name = name
            inst.source = inst.source or source
            CONVERTERS[name] = inst
        else:
            CONVERTERS[name] = FunctionConverter(name, obj, source)
        return obj

    return deco


def get_converter(name: str) -> Converter:
    """The converter registered as ``name``; UnknownConverterError (a UsageError and a
    KeyError) lists the known names."""
    try:
        return CONVERTERS[name]
    except KeyError:
        raise UnknownConverterError.of(name, CONVERTERS) from None


def converter_names() -> list[str]:
    return sorted(CONVERTERS)


# --------------------------------------------------------------------------- item builders


# Phrases with which the AgentInstruct agents end a task instead of acting (official parsers).
NON_ACTION_PHRASES = (
    "task failed",
    "task succeeded",
    "end of the task",
    "end the task",
    "unable to perform the task",
    "task cannot be completed",
    "end task",
    "the task cannot be completed",
    "unable to complete the task",
)


def is_non_action(action: str) -> bool:
    """Whether an AgentInstruct 'action' is really the agent declaring the task over."""
    lowered = action.lower()
    return any(phrase in lowered for phrase in NON_ACTION_PHRASES)


def obs(content: str, source: str = "user", name: str | None = None) -> dict:
    return {"class_": "text_observation", "content": content, "name": name, "source": source}


def msg(content: str, description: str | None = None) -> dict:
    return {"class_": "message_action", "content": content, "description": description}


def code(language: str, content: str, description: str | None = None) -> dict:
    return {
        "class_": "code_action",
        "language": language,
        "content": content,
        "description": description,
    }


def api(function: str, kwargs: dict, description: str | None = None) -> dict:
    return {"class_": "api_action", "function": function, "kwargs": kwargs, "description": description}


def web(axtree: str | None = None, url: str | None = None, html: str | None = None) -> dict:
    return {
        "class_": "web_observation",
        "html": html,
        "axtree": axtree,
        "url": url,
        "image_observation": None,
        "viewport_size": None,
    }


def trajectory(id: str, content: list[dict], details: dict | None = None) -> dict:
    if not content:
        raise ConversionError("conversion produced an empty trajectory")
    return {"id": str(id), "content": content, "details": details or {}}


# --------------------------------------------------------------------------- closing turns

#: The closing user turns the official converters pick from.
END_USER_MESSAGES = (
    "Congratulations! You have successfully solved the task.",
    "Your solution has been verified as correct. ",
    "Well done on successfully completing the task!",
    "Your implementation satisfies the task requirements.",
    "Task completed successfully.",
)
#: The closing agent thoughts / finish messages the official converters pick from.
END_AGENT_MESSAGES = (
    "I have successfully completed the task.",
    "I did it! The task is now complete.",
    "The objective has been achieved with no outstanding issues.",
    "I have fulfilled all the requirements of the task.",
    "I've wrapped up the task successfully.",
)


def closing_turns(traj_id: str, message_in_content: bool) -> list[dict]:
    """The synthetic "task solved" user turn and agent ``<finish>`` turn.

    The official converters choose both with an unseeded ``random.choice``, so
    their output is not reproducible; here the choice is seeded by the
    trajectory id (as later upstream versions do), which makes conversion
    deterministic. ``message_in_content`` selects the two official shapes:
    ``<finish> MESSAGE </finish>`` with an empty thought, or ``<finish> </finish>``
    with MESSAGE as the thought.
    """
    rng = random.Random(str(traj_id))
    user = rng.choice(END_USER_MESSAGES)
    agent = rng.choice(END_AGENT_MESSAGES)
    if message_in_content:
        return [obs(user, "user"), msg(f"<finish> {agent} </finish>", "")]
    return [obs(user, "user"), msg("<finish> </finish>", agent)]


def wrap_finish(content: list[dict]) -> None:
    """Wrap the last message action in ``<finish> ... </finish>`` if not already."""
    last = content[-1]
    if last["class_"] == "message_action" and "<finish>" not in last["content"]:
        last["content"] = f"<finish> {last['content']} </finish>"
