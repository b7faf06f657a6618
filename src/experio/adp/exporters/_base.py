"""Exporter registry and the function-call markup the agent formats share.

An exporter turns one validated :class:`~experio.adp.schema.Trajectory` into
zero or more training rows. Register one with :func:`register_exporter`.

>>> format_function("execute_bash", {"command": "ls"})
'<function=execute_bash>\\n<parameter=command>\\nls\\n</parameter>\\n</function>'
>>> call_text("go", {"location": '"bed 1"'})
'go(location="bed 1")'
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from experio.adp.errors import ExportError, UnknownExporterError
from experio.adp.schema import Trajectory
from experio.adp.tools import ToolSet, find_toolset


@dataclass(frozen=True)
class ExportContext:
    """What an exporter knows besides the trajectory: the dataset and its tools."""

    dataset: str | None = None

    @property
    def toolset(self) -> ToolSet | None:
        return find_toolset(self.dataset)


class Exporter:
    """Base class. ``json_columns`` are stored as JSON text in Parquet output."""

    name: str = ""
    json_columns: tuple[str, ...] = ()

    def export(self, traj: Trajectory, ctx: ExportContext) -> list[dict]:  # pragma: no cover
        raise NotImplementedError


EXPORTERS: dict[str, Exporter] = {}


def register_exporter(name: str) -> Callable[[type[Exporter]], type[Exporter]]:
    """Class decorator: register an :class:`Exporter` subclass under ``name``."""

    def deco(cls: type[Exporter]) -> type[Exporter]:
        inst = cls()
        inst.name = name
        EXPORTERS[name] = inst
        return cls

    return deco


def get_exporter(name: str) -> Exporter:
    """The exporter registered as ``name``; UnknownExporterError lists the known names."""
    try:
        return EXPORTERS[name]
    except KeyError:
        raise UnknownExporterError.of(name, EXPORTERS) from None


def exporter_names() -> list[str]:
    return sorted(EXPORTERS)


# --------------------------------------------------------------------------- markup


def value_text(v: Any) -> str:
    """A kwarg value as the official exporters print it (Python ``str``)."""
    return v if isinstance(v, str) else str(v)


def format_function(name: str, params: dict[str, Any]) -> str:
    """OpenHands / SWE-agent function-call markup."""
    body = "".join(f"<parameter={k}>\n{value_text(v)}\n</parameter>\n" for k, v in params.items())
    return f"<function={name}>\n{body}</function>"


def call_text(function: str, kwargs: dict[str, Any]) -> str:
    """``fn(k=v, ...)`` with the values as stored (string kwargs carry their quotes)."""
    return f"{function}({', '.join(f'{k}={value_text(v)}' for k, v in kwargs.items())})"


_FUNCTION_TAG = re.compile(r"<function=(\w+)>")


def called_function(text: str) -> str | None:
    m = _FUNCTION_TAG.search(text)
    return m.group(1) if m else None


_TOOL_HEADERS = (
    "Below is a list of functions you can use in the {env} environment. ",
    "The following functions are defined and ready for use in {env}: ",
    "The environment {env} provides the following pre-defined functions: ",
    "Available functions in {env}: ",
    "Note that {env} supports the following pre-defined functions: ",
    "The toolkit for {env} contains the following functions. ",
    "In {env}, you can use the following pre-defined functions: ",
    "The following pre-defined functions are available in {env}. ",
)
_TOOL_HEADERS_ALSO = (
    "Below is a list of functions you can also use in the {env} environment. ",
    "The toolkit for {env} also contains the following functions. ",
    "In {env}, you can also use the following pre-defined functions: ",
    "The following pre-defined functions are also available in {env}. ",
)


def tool_headers(env: str, also: bool = False) -> list[str]:
    """All header sentences the official exporters put before a tool list."""
    return [h.format(env=env) for h in (_TOOL_HEADERS_ALSO if also else _TOOL_HEADERS)]


def tool_preamble(traj_id: str, env: str, api_text: str, also: bool = False) -> str:
    """Header sentence + tool descriptions, put before the first user turn.

    The official exporters pick the header sentence at random; here it is
    picked by a hash of the trajectory id, so exports are reproducible.
    """
    headers = tool_headers(env, also)
    header = headers[zlib.crc32(traj_id.encode()) % len(headers)]
    return f"{header}\n\n{api_text}"


def finish_text(content: str) -> str | None:
    """The message inside ``<finish>...</finish>``, or None if not a finish."""
    if "<finish>" in content and "</finish>" in content:
        m = re.search(r"<finish>(.*?)</finish>", content, re.S)
        if m:
            return m.group(1).strip()
    return None
