"""The ADP trajectory schema, wire-compatible with the official JSON.

A trajectory is ``{"id", "content": [item, ...], "details"}``; every item
carries a ``class_`` discriminator. Two wire versions are read and written:

* ``"release"`` (the ADP V1 release, 2025-10-29): no ``schema_version`` key,
  ``details`` maps str -> str, no ``reasoning_content`` / ``reward``.
* ``"1.2.0"``: adds ``schema_version``, ``available_apis``,
  ``reasoning_content`` and ``reward`` on actions, ``reward`` on
  observations, and ``details: dict[str, Any]``.

Nullable keys (``description``, ``name``, ...) are always written, as the
official files do.

>>> t = Trajectory.model_validate({"id": "t1", "content": [
...     {"class_": "text_observation", "content": "hi", "name": None, "source": "user"},
...     {"class_": "message_action", "content": "hello", "description": None}],
...     "details": {}})
>>> to_wire(t)["content"][1]
{'class_': 'message_action', 'content': 'hello', 'description': None}
>>> to_wire(t, version="1.2.0")["schema_version"]
'1.2.0'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from experio.adp.errors import SchemaVersionError
from experio.errors import unknown_name

RELEASE = "release"
SCHEMA_VERSION = "1.2.0"
SUPPORTED_VERSIONS = ("1.0.0", "1.1.0", "1.2.0")
WIRE_VERSIONS = (RELEASE, SCHEMA_VERSION)

Source = Literal["user", "agent", "environment"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Action(_Strict):
    reasoning_content: str | None = None
    reward: float | None = None


class _Observation(_Strict):
    reward: float | None = None


class ApiAction(_Action):
    """A call of a named function; ``description`` is the thought before it."""

    class_: Literal["api_action"] = "api_action"
    function: str
    kwargs: dict[str, Any] = Field(default_factory=dict)
    description: str | None = None


class CodeAction(_Action):
    """Code to run. ``language`` is any string (see :func:`normalize_language`)."""

    class_: Literal["code_action"] = "code_action"
    language: str
    content: str
    description: str | None = None


class MessageAction(_Action):
    """A message from the agent; ``<finish> ... </finish>`` marks the last one."""

    class_: Literal["message_action"] = "message_action"
    content: str
    description: str | None = None


class TextObservation(_Observation):
    class_: Literal["text_observation"] = "text_observation"
    content: str
    name: str | None = None
    source: Source


class BoundingBox(_Strict):
    x: float
    y: float
    width: float
    height: float


class ImageAnnotation(_Strict):
    text: str | None
    element_type: str
    bounding_box: BoundingBox
    content_description: str | None = None
    clickable: bool | None = None
    editable: bool | None = None


class ImageObservation(_Observation):
    class_: Literal["image_observation"] = "image_observation"
    content: str
    annotations: list[ImageAnnotation] | None = None
    source: Source


class WebObservation(_Observation):
    class_: Literal["web_observation"] = "web_observation"
    html: str | None = None
    axtree: str | None = None
    url: str | None = None
    image_observation: ImageObservation | None = None
    viewport_size: tuple[int, int] | None = None


Action = Union[ApiAction, CodeAction, MessageAction]
Observation = Union[TextObservation, ImageObservation, WebObservation]
Item = Annotated[
    Union[ApiAction, CodeAction, MessageAction, TextObservation, ImageObservation, WebObservation],
    Field(discriminator="class_"),
]
ACTION_CLASSES = ("api_action", "code_action", "message_action")
OBSERVATION_CLASSES = ("text_observation", "image_observation", "web_observation")


class Trajectory(_Strict):
    """One agent trajectory. ``schema_version`` is None for release-form input."""

    schema_version: str | None = None
    id: str
    content: list[Item]
    details: dict[str, Any] = Field(default_factory=dict)
    available_apis: list[str] | None = None

    def model_post_init(self, _ctx: Any) -> None:
        v = self.schema_version
        if v is not None and v not in SUPPORTED_VERSIONS:
            raise ValueError(
                f"unsupported schema_version {v!r}; this reader knows {SUPPORTED_VERSIONS}"
            )


TRAJECTORY_ADAPTER: TypeAdapter[Trajectory] = TypeAdapter(Trajectory)


def parse_trajectory(data: bytes | str | dict) -> Trajectory:
    """Validate one trajectory from JSON text/bytes or an already parsed dict.

    Raises ``pydantic.ValidationError`` naming the offending field path.
    """
    if isinstance(data, dict):
        return Trajectory.model_validate(data)
    return Trajectory.model_validate_json(data)


# --------------------------------------------------------------------------- writing


def _check_release(item: BaseModel, where: str) -> None:
    for key in ("reasoning_content", "reward"):
        if getattr(item, key, None) is not None:
            raise SchemaVersionError(
                f"{where} sets {key!r}, which the release schema cannot carry; "
                "write with version='1.2.0'"
            )


def _image_wire(img: ImageObservation, v12: bool) -> dict:
    out: dict[str, Any] = {}
    if v12:
        out["reward"] = img.reward
    out["class_"] = "image_observation"
    out["content"] = img.content
    out["annotations"] = (
        None
        if img.annotations is None
        else [a.model_dump(exclude_none=not v12) for a in img.annotations]
    )
    out["source"] = img.source
    return out


def item_to_wire(item: BaseModel, version: str = RELEASE, where: str = "item") -> dict:
    """One content item as a JSON-ready dict in the given wire version."""
    v12 = version != RELEASE
    if not v12:
        _check_release(item, where)
    c = item.class_  # type: ignore[attr-defined]
    out: dict[str, Any] = {}
    if v12:
        if c in ACTION_CLASSES:
            out["reasoning_content"] = item.reasoning_content  # type: ignore[attr-defined]
        out["reward"] = item.reward  # type: ignore[attr-defined]
    out["class_"] = c
    if c == "text_observation":
        out["content"] = item.content  # type: ignore[attr-defined]
        out["name"] = item.name  # type: ignore[attr-defined]
        out["source"] = item.source  # type: ignore[attr-defined]
    elif c == "api_action":
        out["function"] = item.function  # type: ignore[attr-defined]
        out["kwargs"] = item.kwargs  # type: ignore[attr-defined]
        out["description"] = item.description  # type: ignore[attr-defined]
    elif c == "code_action":
        out["language"] = item.language  # type: ignore[attr-defined]
        out["content"] = item.content  # type: ignore[attr-defined]
        out["description"] = item.description  # type: ignore[attr-defined]
    elif c == "message_action":
        out["content"] = item.content  # type: ignore[attr-defined]
        out["description"] = item.description  # type: ignore[attr-defined]
    elif c == "web_observation":
        w: WebObservation = item  # type: ignore[assignment]
        out["html"] = w.html
        out["axtree"] = w.axtree
        out["url"] = w.url
        if w.image_observation is not None and not v12:
            _check_release(w.image_observation, where + ".image_observation")
        out["image_observation"] = (
            None if w.image_observation is None else _image_wire(w.image_observation, v12)
        )
        out["viewport_size"] = None if w.viewport_size is None else list(w.viewport_size)
    elif c == "image_observation":
        return _image_wire(item, v12)  # type: ignore[arg-type]
    return out


def check_version(version: str) -> str:
    """``version`` if it is a wire version ("release", "1.2.0"), else a UsageError listing them."""
    if version not in WIRE_VERSIONS:
        raise unknown_name("version", version, WIRE_VERSIONS)
    return version


def to_wire(traj: Trajectory, version: str = RELEASE) -> dict:
    """A trajectory as the official JSON object (``version`` "release" or "1.2.0").

    Raises :class:`SchemaVersionError` when the release form cannot hold the
    data (a reward, reasoning content, non-string details or available_apis).
    """
    check_version(version)
    v12 = version != RELEASE
    content = [
        item_to_wire(it, version, f"trajectory {traj.id!r} content[{i}]")
        for i, it in enumerate(traj.content)
    ]
    if v12:
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "id": traj.id, "content": content}
        if traj.available_apis is not None:
            out["available_apis"] = traj.available_apis
        out["details"] = traj.details
        return out
    if traj.available_apis is not None:
        raise SchemaVersionError(
            f"trajectory {traj.id!r} sets available_apis; write with version='1.2.0'"
        )
    bad = [k for k, v in traj.details.items() if not isinstance(v, str)]
    if bad:
        raise SchemaVersionError(
            f"trajectory {traj.id!r} has non-string details {bad}; the release schema "
            "holds str -> str: write with version='1.2.0' or stringify them"
        )
    return {"id": traj.id, "content": content, "details": traj.details}


# --------------------------------------------------------------------------- languages

_LANGUAGE_ALIASES = {
    "py": "python",
    "python3": "python",
    "ipython": "python",
    "sh": "bash",
    "shell": "bash",
    "zsh": "bash",
    "console": "bash",
    "js": "javascript",
    "node": "javascript",
    "ts": "typescript",
    "c++": "cpp",
    "cxx": "cpp",
    "golang": "go",
    "rs": "rust",
    "rb": "ruby",
    "kt": "kotlin",
    "cs": "csharp",
    "c#": "csharp",
    "sql": "sql",
    "mysql": "mysql",
}


def normalize_language(name: str) -> str:
    """Lower-case a code language name and map known aliases.

    >>> normalize_language("Python3"), normalize_language("C++"), normalize_language("Haskell")
    ('python', 'cpp', 'haskell')
    """
    key = name.strip().lower()
    return _LANGUAGE_ALIASES.get(key, key)
