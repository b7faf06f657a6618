"""The records a memory bank holds: experiences (one per finished task) and memory items.

    >>> item = MemoryItem("Check the goal first", "Re-read the goal before acting.",
    ...                   "Before the first action, restate what counts as done.")
    >>> item.to_dict()["title"]
    'Check the goal first'

An `Experience` is what ReasoningBank indexes: the task's query text and its embedding, the
judge's verdict and rationale, and where the ADP trajectory lives (`run_path` + `trajectory_id`).
Its memory items are the distilled strategies injected into later prompts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np

Status = Literal["success", "failure"]
STATUSES: tuple[str, ...] = ("success", "failure")


@dataclass(frozen=True)
class MemoryItem:
    """One distilled strategy: title (short name), description (one sentence), content (1-3 sentences).

    `id`, `experience_id` and `created` are set by the bank when the item is stored.
    """

    title: str
    description: str
    content: str
    id: int | None = None
    experience_id: int | None = None
    created: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "description": self.description,
                "content": self.content, "created": self.created}


@dataclass(frozen=True, eq=False)
class Experience:
    """One finished task as the bank records it.

    `embedding` is the query's embedding, float32 of the bank's dimension (384 for MiniLM),
    L2-normalised (a vector whose norm is off by more than 1e-4 is normalised on store).
    `source` tags the method that produced it ("reasoningbank", "matts-parallel", ...).
    """

    task_id: str
    query: str
    embedding: np.ndarray = field(repr=False)
    status: Status
    rationale: str = ""
    run_path: str | None = None
    trajectory_id: str | None = None
    source: str = "reasoningbank"
    id: int | None = None
    created: float | None = None

    @property
    def success(self) -> bool:
        return self.status == "success"

    def key(self) -> tuple:
        """Everything but the embedding, for comparisons."""
        return (self.id, self.task_id, self.query, self.status, self.rationale, self.run_path,
                self.trajectory_id, self.source, self.created)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Experience):
            return NotImplemented
        return self.key() == other.key() and np.array_equal(
            np.asarray(self.embedding, dtype=np.float32), np.asarray(other.embedding, dtype=np.float32))

    __hash__ = None  # type: ignore[assignment]


class Retrieved(NamedTuple):
    """One retrieval hit: the past experience, its memory items, the cosine similarity."""

    experience: Experience
    items: list[MemoryItem]
    similarity: float


def now() -> float:
    return time.time()
