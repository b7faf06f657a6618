"""Tool descriptions per dataset: the role of the official ``api.py`` files.

A :class:`ToolSet` holds the functions an ``api_action`` of one dataset may
call, each with the exact text the exporters show the model (signature plus
docstring) and a JSON schema for the OpenAI / TRL formats.

>>> ts = ToolSet.from_api_text("demo", "execute_ipython_cell",
...     'go(location: str)\\n    Move somewhere.\\n    \\n    Args:\\n'
...     '        location (str): Where to go.\\n\\n')
>>> ts.names()
['go']
>>> ts.tools[0].json_schema()["function"]["parameters"]["required"]
['location']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from experio.adp.errors import TrajectoryError, UnknownToolsetError

_PY_TO_JSON = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
}

_HEADER = re.compile(r"^(?P<name>\w+)\((?P<params>.*)\)(?:\s*->\s*(?P<ret>.+))?$")
_ARG_LINE = re.compile(r"^\s+(?P<name>\w+)\s*\((?P<type>[^)]*)\):\s*(?P<desc>.*)$")


@dataclass(frozen=True)
class Param:
    """One parameter of a tool: name, Python type text, default text or None."""

    name: str
    type: str = "str"
    default: str | None = None
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is None

    def json_type(self) -> dict:
        base = self.type.split("|")[0].strip().split("[")[0]
        out: dict = {"type": _PY_TO_JSON.get(base, "string")}
        if out["type"] == "array":
            out["items"] = {"type": "string"}
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class Tool:
    """A callable function with the exact text block that documents it."""

    name: str
    params: tuple[Param, ...]
    text: str  # "name(sig)\n    doc...\n\n", rendered verbatim

    @property
    def description(self) -> str:
        """First paragraph of the docstring (used as the JSON-schema description)."""
        body = self.text.split("\n", 1)[1] if "\n" in self.text else ""
        paras = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
        if not paras:
            return self.name
        first = " ".join(line.strip() for line in paras[0].splitlines())
        return first.removeprefix("Description:").strip()

    def param_names(self) -> list[str]:
        return [p.name for p in self.params]

    def required_names(self) -> list[str]:
        return [p.name for p in self.params if p.required]

    def json_schema(self) -> dict:
        """OpenAI ``tools`` entry: ``{"type": "function", "function": {...}}``."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": {p.name: p.json_type() for p in self.params},
                    "required": self.required_names(),
                },
            },
        }


def _split_params(text: str) -> list[str]:
    """Split a parameter list on top-level commas (ignores commas in brackets)."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def parse_tool(block: str) -> Tool:
    """Parse one ``name(sig)`` + indented docstring block into a :class:`Tool`."""
    header, _, body = block.partition("\n")
    m = _HEADER.match(header.strip())
    if not m:
        raise TrajectoryError(f"tool block does not start with 'name(params)': {header!r}")
    descs = {}
    for line in body.splitlines():
        a = _ARG_LINE.match(line)
        if a and a["name"] not in descs:
            descs[a["name"]] = a["desc"].strip()
    params = []
    for raw in _split_params(m["params"]):
        name, _, rest = raw.partition(":")
        typ, _, default = rest.partition("=")
        if "=" in name:  # "x=1" without annotation
            name, _, default = name.partition("=")
        params.append(
            Param(
                name=name.strip(),
                type=typ.strip() or "str",
                default=default.strip() or None,
                description=descs.get(name.strip(), ""),
            )
        )
    return Tool(name=m["name"], params=tuple(params), text=block)


def parse_api_text(text: str) -> tuple[Tool, ...]:
    """Split an API text (blocks separated by blank lines, headers at column 0)."""
    starts = [m.start() for m in re.finditer(r"^\w+\(.*\)(?: -> .+)?$", text, re.M)]
    if not starts:
        raise TrajectoryError("API text holds no 'name(params)' header at column 0")
    bounds = starts + [len(text)]
    return tuple(parse_tool(text[a:b]) for a, b in zip(bounds, bounds[1:]))


@dataclass(frozen=True)
class ToolSet:
    """The tools of one dataset and the environment that runs them.

    ``environment`` is the OpenHands tool that executes a call
    (``execute_ipython_cell``, ``execute_bash`` or ``browser``); ``extends``
    names other registered tool sets whose functions are also valid here
    (for example the BrowserGym defaults for web datasets).
    """

    dataset: str
    environment: str
    tools: tuple[Tool, ...]
    api_text: str = ""
    extends: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_api_text(
        cls, dataset: str, environment: str, api_text: str, extends: tuple[str, ...] = ()
    ) -> "ToolSet":
        return cls(dataset, environment, parse_api_text(api_text), api_text, tuple(extends))

    def names(self) -> list[str]:
        return [t.name for t in self.tools]

    def get(self, name: str) -> Tool | None:
        for t in self.tools:
            if t.name == name:
                return t
        return None

    def all_tools(self) -> list[Tool]:
        """Own tools followed by those of the extended sets (own names win)."""
        seen, out = set(), []
        for t in self.tools:
            seen.add(t.name)
            out.append(t)
        for other in self.extends:
            for t in get_toolset(other).all_tools():
                if t.name not in seen:
                    seen.add(t.name)
                    out.append(t)
        return out

    def known(self, name: str) -> bool:
        return any(t.name == name for t in self.all_tools())

    def available_apis(self) -> list[str]:
        """The tools as ADP 1.2.0 ``available_apis`` entries: each tool's signature and
        docstring, which `experio adp validate` checks calls (names and parameters) against."""
        return [t.text.rstrip("\n") for t in self.all_tools()]


_TOOLSETS: dict[str, ToolSet] = {}


def register_toolset(ts: ToolSet) -> ToolSet:
    """Add a tool set to the registry under ``ts.dataset`` and return it."""
    _TOOLSETS[ts.dataset] = ts
    return ts


def get_toolset(dataset: str) -> ToolSet:
    """The tool set registered for ``dataset``.

    Raises UnknownToolsetError (a KeyError) listing the registered names when there is none.
    """
    try:
        return _TOOLSETS[dataset]
    except KeyError:
        raise UnknownToolsetError.of(dataset, _TOOLSETS) from None


def find_toolset(dataset: str | None) -> ToolSet | None:
    """Like :func:`get_toolset` but returns None for unknown or missing names."""
    return _TOOLSETS.get(dataset) if dataset else None


def toolset_names() -> list[str]:
    return sorted(_TOOLSETS)
