"""What a memory run records per line: the agent's episode and what memory did for it (typed).

Every line of a memory run's trajectories.jsonl is one rollout of one task; its ADP `details`
(str -> str) are written from a `MemoryDetails` and read back into one, here and nowhere else.
They are the agent's `EpisodeDetails` keys plus the memory keys: the method and its settings,
the task's place in the stream, the retrieved experiences, the injected and used items, the
judge's verdict, and on the line that counts for the task (`counted`) a `TaskSummary`: the
extraction, whether it was stored, the items, MaTTS notes and selection. Records written
before a key existed still read (the key takes its default).

    >>> from experio.agent import EpisodeDetails
    >>> from experio.envs import Task
    >>> episode = EpisodeDetails(Task("textworld", "tw", 1), "react", success=True, steps=2, prompt_tokens=[90, 120])
    >>> d = MemoryDetails(episode, "reasoningbank", "reasoningbank", task_index=0, query="open the chest",
    ...                   env_success=True, verdict=Verdict("success", "opened", "llm"),
    ...                   summary=TaskSummary(1, 2, ExtractionRecord("success", "ok", 1), store=True))
    >>> wire = d.to_details()
    >>> wire["method"], wire["counted"], wire["judged_status"], wire["store"]
    ('reasoningbank', 'true', 'success', 'true')
    >>> MemoryDetails.from_details(wire) == d
    True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, NamedTuple

from experio.agent import EpisodeDetails, EpisodeRecordError
from experio.runs import RunFolder

from .errors import MemoryRecordError
from .records import MemoryItem

KIND = "memory"  # the run folder kind of `experio memory run`


@dataclass(frozen=True)
class Verdict:
    """A task's judged status. `source`: "llm", "env" (the ablation) or "env-fallback" (judge unreadable).

    `status` and `rationale` always come from the same answer of the judge.
    """

    status: str
    rationale: str
    source: str
    raw: str = ""  # the judge's output (not recorded)
    error: str | None = None

    @property
    def success(self) -> bool:
        return self.status == "success"


@dataclass
class ExtractionRecord:
    """How a task's memory items were made.

    `kind`: "success" | "failure" | "contrast" | "workflow" | "trajectory" | "none";
    `outcome`: "ok" (items made), "skipped" (no valid item after the retries) or "none" (not tried).
    """

    kind: str = "none"
    outcome: str = "none"
    items: int = 0
    error: str | None = None
    attempts: int = 0
    raw: list[str] = field(default_factory=list)


@dataclass
class SelectionRecord:
    """MaTTS parallel: the rollout the selector chose, its reason, or why it fell back to the judge."""

    index: int
    rationale: str = ""
    error: str | None = None


@dataclass
class TaskSummary:
    """What the line that counts for a task adds: rollouts, extraction, what was stored."""

    rollouts: int = 1
    total_steps: int = 0
    extraction: ExtractionRecord = field(default_factory=ExtractionRecord)
    store: bool = False
    memory_items: list[MemoryItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # MaTTS sequential: the re-examination notes
    selection: SelectionRecord | None = None


@dataclass
class MemoryDetails:
    """One line of a memory run: one rollout of the task at `task_index` of the stream."""

    episode: EpisodeDetails
    method: str  # the method's name, e.g. "reasoningbank+matts-parallel3"
    memory: str
    task_index: int
    query: str = ""
    matts: str | None = None
    matts_k: int = 1
    judge: str = "llm"
    top_k: int = 1
    rollout: int = 0
    counted: bool = True  # the line that counts as the task's result (MaTTS: one of k)
    env_success: bool = False
    retrieved: list[dict[str, Any]] = field(default_factory=list)  # experience_id, task_id, status, similarity
    items_injected: list[int | None] = field(default_factory=list)  # item ids shown to the agent
    items_used: list[int | None] = field(default_factory=list)  # the ids the agent said it used
    notes_after: str | None = None  # MaTTS sequential: the notes written after this pass
    verdict: Verdict | None = None  # None when this rollout was not judged
    summary: TaskSummary | None = None  # on the counted line only

    @property
    def task_id(self) -> str:
        return self.episode.task_id

    @property
    def stores(self) -> bool:
        return self.summary is not None and self.summary.store

    def to_details(self) -> dict[str, str]:
        """The trajectory's `details`: the episode's keys, then the memory keys (every value a string)."""
        d = self.episode.to_details()
        d.update({
            "method": self.method, "memory": self.memory, "matts": self.matts or "none",
            "matts_k": str(self.matts_k), "judge": self.judge, "top_k": str(self.top_k),
            "task_index": str(self.task_index), "query": self.query, "rollout": str(self.rollout),
            "counted": _flag(self.counted), "env_success": _flag(self.env_success),
            "retrieved": json.dumps(self.retrieved), "items_injected": json.dumps(self.items_injected),
            "items_used": json.dumps(self.items_used),
        })
        if self.notes_after is not None:
            d["notes_after"] = self.notes_after
        if self.verdict is not None:
            v = self.verdict
            d.update({"judged_status": v.status, "judge_source": v.source, "judge_rationale": v.rationale})
            if v.error:
                d["judge_error"] = v.error
        if self.summary is not None:
            d.update(_summary_details(self.summary))
        return d

    @classmethod
    def from_details(cls, details: dict[str, Any]) -> "MemoryDetails":
        """Read `details` back; MemoryRecordError names a missing or unreadable key."""
        for key in ("method", "task_index", "counted"):
            if key not in details:
                raise MemoryRecordError(f"the details have no {key!r}: not a memory task record")
        try:
            episode = EpisodeDetails.from_details(details)
        except EpisodeRecordError as e:
            raise MemoryRecordError(str(e)) from None
        get = _Reader(details)
        counted = get("counted", _bool, True)
        matts = get("matts", str, "none")
        return cls(
            episode, method=get("method", str), memory=get("memory", str, ""), task_index=get("task_index", int),
            query=get("query", str, ""), matts=None if matts == "none" else matts, matts_k=get("matts_k", int, 1),
            judge=get("judge", str, "llm"), top_k=get("top_k", int, 1), rollout=get("rollout", int, 0),
            counted=counted, env_success=get("env_success", _bool, episode.success),
            retrieved=get("retrieved", _list, []), items_injected=get("items_injected", _list, []),
            items_used=get("items_used", _list, []), notes_after=get("notes_after", str, None),
            verdict=_verdict(get), summary=_summary(get, episode) if counted else None,
        )


class MemoryRecord(NamedTuple):
    """One line of a memory run: its trajectory id and its details."""

    id: str
    details: MemoryDetails


def read_memory_records(run: RunFolder) -> list[MemoryRecord]:
    """Every line of a memory run folder, checked before anything is written there.

    A folder of another command raises RunFolderError (its "kind"); a line that is not a memory
    task record (an agent episode in a folder made before folders named their kind, an edited
    line) raises MemoryRecordError naming file and line.
    """
    run.check_kind()
    out = []
    for n, record in enumerate(run.records(), 1):
        details = record.get("details") if isinstance(record, dict) else None
        where = f"{run.records_path}:{n}"
        if not isinstance(details, dict):
            raise MemoryRecordError(f"{where} has no details: not a memory task record")
        if "method" not in details:
            raise MemoryRecordError(f"{where} is not a memory task record (it has no 'method'); an agent run's "
                                    f"folder? use `experio agent report {run.path}`, or another --out")
        try:
            out.append(MemoryRecord(str(record.get("id", "")), MemoryDetails.from_details(details)))
        except MemoryRecordError as e:
            raise MemoryRecordError(f"{where}: {e}") from None
    return out


# ---------------------------------------------------------------------- the string forms
def _flag(value: bool) -> str:
    return "true" if value else "false"


def _bool(text: str) -> bool:
    if text not in ("true", "false"):
        raise MemoryRecordError(f"expected true or false, got {text!r}")
    return text == "true"


def _list(text: str) -> list:
    value = json.loads(text)
    if not isinstance(value, list):
        raise MemoryRecordError(f"expected a JSON list, got {text[:80]!r}")
    return value


def _object(text: str) -> dict:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise MemoryRecordError(f"expected a JSON object, got {text[:80]!r}")
    return value


_MISSING = object()


class _Reader:
    """`get(key, parse, default)`: one details value parsed, a MemoryRecordError naming the key if it cannot be."""

    def __init__(self, details: dict[str, Any]) -> None:
        self.details = details

    def __call__(self, key: str, parse: Callable[[str], Any], default: Any = _MISSING) -> Any:
        if key not in self.details:
            if default is _MISSING:
                raise MemoryRecordError(f"the details have no {key!r}: not a memory task record")
            return default
        try:
            return parse(self.details[key])
        except (ValueError, TypeError, MemoryRecordError) as e:  # json.JSONDecodeError is a ValueError
            raise MemoryRecordError(f"details key {key!r} cannot be read ({e})") from None


def _verdict(get: _Reader) -> Verdict | None:
    status = get("judged_status", str, None)
    if status is None:
        return None
    return Verdict(status, get("judge_rationale", str, ""), get("judge_source", str, "llm"),
                   error=get("judge_error", str, None))


def _summary_details(s: TaskSummary) -> dict[str, str]:
    d = {
        "rollouts": str(s.rollouts), "total_steps": str(s.total_steps),
        "extraction": json.dumps(asdict(s.extraction), ensure_ascii=False), "store": _flag(s.store),
        "memory_items": json.dumps([{"title": i.title, "description": i.description, "content": i.content}
                                    for i in s.memory_items], ensure_ascii=False),
        "notes": json.dumps(s.notes, ensure_ascii=False),
    }
    if s.selection is not None:
        d["selection"] = json.dumps(asdict(s.selection), ensure_ascii=False)
    return d


def _summary(get: _Reader, episode: EpisodeDetails) -> TaskSummary:
    extraction = get("extraction", _object, {})
    items = get("memory_items", _list, [])
    selection = get("selection", _object, None)
    try:
        return TaskSummary(
            rollouts=get("rollouts", int, 1), total_steps=get("total_steps", int, episode.steps),
            extraction=ExtractionRecord(**extraction), store=get("store", _bool, False),
            memory_items=[MemoryItem(i["title"], i["description"], i["content"]) for i in items],
            notes=get("notes", _list, []), selection=None if selection is None else SelectionRecord(**selection),
        )
    except (KeyError, TypeError) as e:
        raise MemoryRecordError(f"the extraction, items or selection of the details cannot be read ({e})") from None
