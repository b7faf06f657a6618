"""The ReasoningBank loop around the agent runtime, and the baselines on the same loop.

Per task of a stream: retrieve (embed the task query, top-k most similar past experiences,
all their items injected with the request to say for each whether it is used), act
(`experio.agent.run_episode`), judge (LLM-as-judge, or the environment's reward as the
ablation), extract (success/failure prompts, at most 3 items), consolidate (append to the
bank). `MemoryLoop.solve` does everything but the last step and returns a `TaskOutcome`; the
caller stores it (`MemoryLoop.consolidate`) once the task's record is written, so the current
task is never retrievable while it runs and a crash never leaves a memory without its record.

    >>> from experio.embed import load_embedder                                 # doctest: +SKIP
    >>> loop = MemoryLoop(llm, MemoryBank("rb.bank.sqlite"), load_embedder(),
    ...                   MemorySettings("reasoningbank"), [make_env("textworld")])  # doctest: +SKIP
    >>> outcome = loop.solve(task)                                              # doctest: +SKIP
    >>> outcome.result.success, outcome.verdict.status, [h.experience.task_id for h in outcome.retrieved]  # doctest: +SKIP
    >>> loop.consolidate(outcome, run_path="runs/x/trajectories.jsonl")         # doctest: +SKIP

Methods (`MemorySettings.memory`): "none" (no memory), "synapse" (raw successful trajectories),
"awm" (workflows induced from successes), "reasoningbank" (items from successes and failures).
MaTTS (`matts="parallel"|"sequential"`, `matts_k`) is in `matts.py`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from experio.agent import AgentConfig, EpisodeResult, make_context, run_episode
from experio.envs import Environment, Task
from experio.errors import unknown_name
from experio.llm import LLM

from . import matts, prompts
from .baselines import induce_workflow, trajectory_item
from .details import Verdict
from .errors import MemoryInputError, MemoryParseError, MemorySettingsError
from .extract import ExtractionResult, extract_items, judge, trajectory_to_text
from .parse import Selection, format_memory_items
from .records import Experience, MemoryItem, Retrieved
from .store import MemoryBank

METHODS: tuple[str, ...] = ("none", "synapse", "awm", "reasoningbank")
MATTS_MODES: tuple[str, ...] = ("parallel", "sequential")
JUDGES: tuple[str, ...] = ("llm", "env")
DEFAULT_TOP_K = 1  # the paper: top-1 experience is best, more hurts slightly
TRAJECTORY_CHARS = 2500  # judge/extraction view of a trajectory
EXEMPLAR_CHARS = 1200  # Synapse exemplars are shown in the agent's prompt: kept shorter


@dataclass
class MemorySettings:
    """What one method of a run is: memory kind, MaTTS, judge, retrieval depth, agent settings.

        >>> MemorySettings("reasoningbank", matts="parallel", matts_k=3).name
        'reasoningbank+matts-parallel3'
        >>> MemorySettings("awm", judge="env").name
        'awm+judge-env'
    """

    memory: str = "reasoningbank"
    matts: str | None = None
    matts_k: int = 1
    judge: str = "llm"
    top_k: int = DEFAULT_TOP_K
    context: str = "react"
    agent: AgentConfig = field(default_factory=AgentConfig)

    def __post_init__(self) -> None:
        for what, value, valid in (("memory", self.memory, METHODS), ("judge", self.judge, JUDGES)):
            if value not in valid:
                raise MemorySettingsError(str(unknown_name(what, value, valid)))
        if self.matts is not None and self.matts not in MATTS_MODES:
            raise MemorySettingsError(str(unknown_name("MaTTS mode", self.matts, MATTS_MODES)))
        if self.matts is not None and self.matts_k < 2:
            raise MemorySettingsError(f"MaTTS needs k >= 2 rollouts or passes, got {self.matts_k}")
        if self.top_k < 1:
            raise MemorySettingsError(f"--k (experiences retrieved per task) must be at least 1, got {self.top_k}")
        make_context(self.context)  # an unknown name is an UnknownContextError (a UsageError)

    @property
    def name(self) -> str:
        """The method label used in records, bank file names and reports."""
        name = self.memory
        if self.matts:
            name += f"+matts-{self.matts}{self.matts_k}"
        if self.judge != "llm":
            name += f"+judge-{self.judge}"
        if self.top_k != DEFAULT_TOP_K:
            name += f"+k{self.top_k}"
        return name

    def to_dict(self) -> dict[str, Any]:
        return {"memory": self.memory, "matts": self.matts, "matts_k": self.matts_k, "judge": self.judge,
                "top_k": self.top_k, "context": self.context, "agent": self.agent.__dict__.copy()}


def parse_matts(spec: str | None) -> tuple[str | None, int]:
    """`"parallel:3"` -> ("parallel", 3); None or "" or "none" -> (None, 1).

        >>> parse_matts("sequential:2")
        ('sequential', 2)
    """
    if not spec or spec == "none":
        return None, 1
    mode, sep, k = spec.partition(":")
    if mode not in MATTS_MODES or not sep or not k.isdigit() or int(k) < 2:
        raise MemorySettingsError(f"--matts expects parallel:K or sequential:K with K >= 2, got {spec!r}")
    return mode, int(k)


@dataclass
class Rollout:
    """One attempt at a task: the episode, its verdict (None when not judged), the items it used."""

    result: EpisodeResult
    verdict: Verdict | None = None
    used: list[int] = field(default_factory=list)  # positions (1-based) of injected items the agent said it uses


@dataclass
class TaskOutcome:
    """Everything the loop did for one task, ready to be recorded and consolidated.

    `rollouts` holds one attempt, or k (MaTTS parallel rollouts / sequential passes);
    `chosen` is the index of the one that counts as the task's result. `items` are what
    consolidation will append (empty: nothing is stored) and `extraction` how they were made.
    """

    task: Task
    query: str
    embedding: np.ndarray
    retrieved: list[Retrieved]
    injected: list[MemoryItem]
    rollouts: list[Rollout]
    chosen: int
    extraction: ExtractionResult | None
    extraction_kind: str  # "success" | "failure" | "contrast" | "workflow" | "trajectory" | "none"
    items: list[MemoryItem]
    notes: list[str] = field(default_factory=list)
    selection: Selection | None = None
    selection_error: str | None = None

    @property
    def result(self) -> EpisodeResult:
        return self.rollouts[self.chosen].result

    @property
    def verdict(self) -> Verdict:
        verdict = self.rollouts[self.chosen].verdict
        assert verdict is not None, "the chosen rollout is always judged"
        return verdict

    @property
    def stores(self) -> bool:
        return bool(self.items)


class MemoryLoop:
    """One method's loop: retrieve, act, judge, extract (`solve`), consolidate (`consolidate`).

    `envs` are environment instances: one is enough, except for MaTTS parallel, which runs
    its k rollouts at once, one environment each. `bank` may be None only for memory "none".
    `llm` acts; `memory_llm` (default: `llm`, as in the paper) does the rest: judge, extract,
    MaTTS select, contrast and re-examine. A small tuned agent acts well but judges badly.
    """

    def __init__(self, llm: LLM, bank: MemoryBank | None, embedder: Any, settings: MemorySettings,
                 envs: Sequence[Environment], memory_llm: LLM | None = None) -> None:
        if bank is None and settings.memory != "none":
            raise MemoryInputError(f"memory {settings.memory!r} needs a MemoryBank")
        need = settings.matts_k if settings.matts == "parallel" else 1
        if len(envs) < need:
            raise MemoryInputError(f"{settings.name} needs {need} environment instances (one per rollout), got {len(envs)}")
        self.llm, self.bank, self.embedder, self.settings, self.envs = llm, bank, embedder, settings, list(envs)
        self.memory_llm = memory_llm or llm
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ retrieve
    def retrieve(self, query: str) -> tuple[np.ndarray, list[Retrieved]]:
        """The query's embedding and the top-k past experiences (none for memory "none")."""
        embedding = np.asarray(self.embedder.embed([query])[0], dtype=np.float32)
        if self.bank is None:
            return embedding, []
        return embedding, self.bank.retrieve(embedding, k=self.settings.top_k)

    def guidance(self, hits: Sequence[Retrieved]) -> tuple[str, list[MemoryItem]]:
        """The text injected into every prompt of the episode, and the items it shows (in order)."""
        items = [item for hit in hits for item in hit.items]
        if not items:
            return "", []
        memory = self.settings.memory
        if memory == "synapse":
            examples = "\n\n".join(prompts.SYNAPSE_EXAMPLE.format(query=h.experience.query, trajectory=i.content)
                                   for h in hits for i in h.items)
            return prompts.SYNAPSE_GUIDANCE.format(examples=examples), items
        if memory == "awm":
            return prompts.AWM_GUIDANCE.format(workflows=format_memory_items(items)), items
        return prompts.MEMORY_GUIDANCE.format(items=format_memory_items(items)), items

    # ------------------------------------------------------------------ act
    def act(self, task: Task, env: Environment, guide: "_Guide", *, rollout: int = 0, notes: str = "") -> Rollout:
        """One episode with the retrieved memory (and MaTTS notes) in every prompt."""
        config = self.settings.agent
        if config.seed is not None and rollout:
            config = replace(config, seed=config.seed + 100_003 * rollout)

        def guidance(goal: str) -> str:
            text = guide(goal)
            if notes:
                text = (text + "\n\n" if text else "") + prompts.NOTES_GUIDANCE.format(notes=notes)
            return text

        result = run_episode(self.llm, env, task, make_context(self.settings.context), config, guidance=guidance)
        return Rollout(result, used=items_used(thoughts(result), guide.injected))

    # ------------------------------------------------------------------ judge
    def judge(self, query: str, result: EpisodeResult) -> Verdict:
        """LLM-as-judge (temperature 0), or the environment's reward with `judge="env"`.

        An LLM verdict that cannot be read even after the JSON retry falls back to the
        environment's success, marked `source="env-fallback"` with the error kept.
        """
        env_status = "success" if result.success else "failure"
        if self.settings.judge == "env":
            return Verdict(env_status, f"environment reward {result.reward:g}", "env")
        try:
            j = judge(self.memory_llm, query, trajectory_to_text(result.trajectory, TRAJECTORY_CHARS))
        except MemoryParseError as e:
            return Verdict(env_status, f"environment reward {result.reward:g}", "env-fallback", e.text, str(e))
        return Verdict(j.status, j.rationale, "llm", j.raw)

    # ------------------------------------------------------------------ extract
    def distil(self, query: str, result: EpisodeResult, verdict: Verdict, notes: Sequence[str] = ()
               ) -> tuple[ExtractionResult | None, str, list[MemoryItem]]:
        """What this method keeps from one judged trajectory: (extraction, kind, items to store)."""
        memory = self.settings.memory
        text = trajectory_to_text(result.trajectory, TRAJECTORY_CHARS)
        if memory == "none":
            return None, "none", []
        if memory == "reasoningbank":
            if notes:
                text += prompts.NOTES_FOR_EXTRACTION.format(notes="\n".join(f"- {n}" for n in notes))
            found = extract_items(self.memory_llm, query, text, success=verdict.success)
            return found, verdict.status, list(found.items)
        if not verdict.success:  # Synapse and AWM keep successes only
            return None, "none", []
        if memory == "synapse":
            return None, "trajectory", [trajectory_item(query, trajectory_to_text(result.trajectory, EXEMPLAR_CHARS))]
        found = induce_workflow(self.memory_llm, query, text)
        return found, "workflow", list(found.items)

    # ------------------------------------------------------------------ the whole task
    def solve(self, task: Task) -> TaskOutcome:
        """Retrieve, act, judge and extract for one task; nothing is stored yet (see `consolidate`)."""
        if self.settings.matts == "parallel":
            return matts.solve_parallel(self, task)
        if self.settings.matts == "sequential":
            return matts.solve_sequential(self, task)
        guide = self.new_guide()
        rollout = self.act(task, self.envs[0], guide)
        query = guide.query_for(rollout.result)
        rollout.verdict = self.judge(query, rollout.result)
        extraction, kind, items = self.distil(query, rollout.result, rollout.verdict)
        return self.outcome(task, guide, [rollout], 0, extraction, kind, items)

    def new_guide(self) -> "_Guide":
        return _Guide(self)

    def outcome(self, task: Task, guide: "_Guide", rollouts: list[Rollout], chosen: int,
                extraction: ExtractionResult | None, kind: str, items: list[MemoryItem], **extra: Any) -> TaskOutcome:
        query = guide.query_for(rollouts[chosen].result)
        embedding = guide.embedding if guide.embedding is not None else self.retrieve(query)[0]
        return TaskOutcome(task, query, embedding, guide.hits, guide.injected, rollouts, chosen, extraction, kind,
                           items, **extra)

    # ------------------------------------------------------------------ consolidate
    def consolidate(self, outcome: TaskOutcome, *, run_path: str | None = None, trajectory_id: str | None = None) -> int | None:
        """Append the outcome's experience and items to the bank; return its id (None: nothing to store).

        Call it only after the task's record is written: from now on the task is retrievable.
        """
        if not outcome.stores:
            return None
        assert self.bank is not None
        experience = Experience(outcome.task.id, outcome.query, outcome.embedding, outcome.verdict.status,  # type: ignore[arg-type]
                                outcome.verdict.rationale, run_path, trajectory_id, source=self.settings.name)
        return self.bank.store(experience, outcome.items)


class _Guide:
    """The per-task `guidance(goal)` callback: retrieval runs once, when the goal is first known.

    MaTTS rollouts share one guide, so all k see the same memory (thread-safe).
    """

    def __init__(self, loop: MemoryLoop) -> None:
        self.loop = loop
        self.query: str | None = None
        self.embedding: np.ndarray | None = None
        self.hits: list[Retrieved] = []
        self.injected: list[MemoryItem] = []
        self.text = ""
        self._lock = threading.Lock()

    def __call__(self, goal: str) -> str:
        with self._lock:
            if self.query is None:
                self.query = goal
                self.embedding, self.hits = self.loop.retrieve(goal)
                self.text, self.injected = self.loop.guidance(self.hits)
            return self.text

    def query_for(self, result: EpisodeResult) -> str:
        return self.query or (result.details.goal if result.details else "") or result.task_id


# ---------------------------------------------------------------------- which items were used
_REF = re.compile(r"\b(?:memory\s+)?(?:items?|workflows?|strateg(?:y|ies))\s*#?\s*(\d+)|#\s*(\d+)|\buse[sd]?\s+(\d+)\b", re.I)
_NEGATION = re.compile(r"\b(?:not|no|skip|skips|skipping|skipped|ignore|ignoring|ignored|unused|irrelevant|without)\b|n't", re.I)
_USE = re.compile(r"\b(?:use|uses|used|using|apply|applying|follow|following|per)\b", re.I)


def thoughts(result: EpisodeResult) -> list[str]:
    """The agent's reasoning texts of an episode (the descriptions of its actions)."""
    traj = result.trajectory
    return [d for item in (traj.content if traj else []) if (d := getattr(item, "description", None))]


def items_used(texts: Sequence[str], items: Sequence[MemoryItem]) -> list[int]:
    """Positions (1-based) of injected items the agent says it uses, read from its thoughts.

    A clause counts when it names an item ("item 2", "#2", "use 2", or the item's title) and
    says it is used without a negation ("use item 1, skip item 2" -> [1]).

        >>> items = [MemoryItem("Open containers", "d" * 10, "c" * 10), MemoryItem("Avoid loops", "d" * 10, "c" * 10)]
        >>> items_used(["use item 1, skip item 2", "following avoid loops now"], items)
        [1, 2]
    """
    used: set[int] = set()
    for text in texts:
        for clause in re.split(r"[.;,|\n]|\bbut\b", text):
            if _NEGATION.search(clause):
                continue
            refs = [int(next(g for g in m.groups() if g)) for m in _REF.finditer(clause)]
            titled = [n for n, item in enumerate(items, start=1) if item.title.casefold() in clause.casefold()]
            if titled or (refs and _USE.search(clause)):
                used.update(n for n in refs + titled if 1 <= n <= len(items))
    return sorted(used)
