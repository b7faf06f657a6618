"""Memory runs over a task stream into a run folder: records first, then the bank; resumable.

    runs/NAME/
      config.json                 the settings of each method run into this folder
      trajectories.jsonl          ADP trajectories, append-only: the record (source of truth)
      <method>.bank.sqlite        that method's memory bank (none for memory "none")
      metrics.json, report.md     every method in the folder compared
      success_curve.png           cumulative successes along the stream, one line per method

Tasks run in stream order. A task's lines are written (its MaTTS rollouts first, the one that
counts last, `details.counted == "true"`) and only then is its experience stored, so a killed
run loses at most the task in flight and the bank never holds a memory without its record.
On `resume=True` finished tasks of that method are skipped and the bank is checked against the
records: a recorded experience missing from the bank (killed between the write and the store)
is stored from its record, and an experience without a record is an error. Either way the
run says what it did (`RunSummary`); nothing is dropped or ignored silently.

    >>> metrics = run_memory(llm, "textworld", tasks, "reasoningbank", Path("runs/rb"),
    ...                      on_task=lambda done: print(done.index, done.outcome.result.success))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from experio.adp import SCHEMA_VERSION as ADP_VERSION, Trajectory, TrajectoryWriter, read_trajectories
from experio.agent import AgentConfig
from experio.envs import Environment, Task, make_env
from experio.llm import LLM
from experio.runs import update_json

from .loop import MemoryLoop, MemorySettings, TaskOutcome, items_json, parse_matts
from .records import Experience, MemoryItem
from .report import write_report
from .store import MemoryBank

log = logging.getLogger("experio.memory")


class MemoryRunError(RuntimeError):
    """A run folder that a memory run cannot continue as asked; the message says what to do."""


@dataclass
class TaskDone:
    """What `on_task` receives after each task: its stream position, outcome and stored experience id."""

    index: int
    task: Task
    outcome: TaskOutcome
    experience_id: int | None
    method: str


@dataclass
class RunSummary:
    """What happened to the folder before the run went on (resume bookkeeping), for the caller to show."""

    method: str
    skipped: int = 0  # tasks already finished
    restored: list[str] = field(default_factory=list)  # trajectory ids stored into the bank from their record
    stale_rollouts: int = 0  # rollout lines of a task killed before its counted line (excluded from reports)
    ran: int = 0


def bank_path(out: Path, method: str) -> Path:
    """Where a method's bank lives in a run folder: `out/<method>.bank.sqlite`."""
    return Path(out) / f"{method}.bank.sqlite"


def recorded(out: Path) -> list[dict[str, str]]:
    """The `details` of every memory-run line in `out/trajectories.jsonl` (a cut-off last line is skipped)."""
    path = Path(out) / "trajectories.jsonl"
    if not path.exists():
        return []
    return [t.details | {"_id": t.id} for t in read_trajectories(path, tolerate_truncated_tail=True)
            if "method" in t.details]


def run_memory(
    llm: LLM,
    env: str | Environment | Callable[[], Environment],
    tasks: Sequence[Task],
    method: str,
    out: str | os.PathLike,
    *,
    matts: str | None = None,
    judge: str = "llm",
    k: int = 1,
    context: str = "react",
    config: AgentConfig | None = None,
    embedder: Any = None,
    resume: bool = False,
    env_options: dict[str, Any] | None = None,
    progress: bool = True,
    on_task: Callable[[TaskDone], None] | None = None,
    summary: RunSummary | None = None,
) -> dict[str, Any]:
    """Run `tasks` in order with one memory method; record, consolidate, report; return the metrics.

    method: "none" | "synapse" | "awm" | "reasoningbank"; matts: None, "parallel:K" or
    "sequential:K"; judge: "llm" or "env"; k: experiences retrieved per task (paper: 1).
    env: a name (made here, `env_options` passed, closed at the end), a factory (called once
    per needed instance; MaTTS parallel needs K), or an instance (left open; not for parallel).
    embedder: anything with `embed(texts) -> array` (default `load_embedder()`, MiniLM).
    `summary`, when given, is filled with what resume did (restored experiences, stale lines).
    Raises MemoryRunError on a folder that would mix runs or whose bank and records disagree.
    """
    mode, matts_k = parse_matts(matts)
    settings = MemorySettings(method, mode, matts_k, judge, k, context, config or AgentConfig())
    name = settings.name
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = summary if summary is not None else RunSummary(name)
    summary.method = name
    lines = [d for d in recorded(out) if d["method"] == name]
    finished = {int(d["task_index"]): d for d in lines if d.get("counted") == "true"}
    if finished and not resume:
        raise MemoryRunError(f"{out} already has {len(finished)} finished task(s) of method {name!r}; "
                             "pass --resume to continue that run, or choose another --out")
    for index, d in sorted(finished.items()):
        if index >= len(tasks) or tasks[index].id != d["task_id"]:
            have = tasks[index].id if index < len(tasks) else "nothing (the stream is shorter)"
            raise MemoryRunError(f"{out}: task {index} of method {name!r} was {d['task_id']!r} but the stream now has "
                                 f"{have}; resume with the same --tasks, --seed and settings, or choose another --out")
    summary.skipped = len(finished)
    summary.stale_rollouts = sum(1 for d in lines if d.get("counted") != "true" and int(d["task_index"]) not in finished)
    if summary.stale_rollouts:
        log.warning("%s: %d rollout line(s) of %s belong to a task killed before it finished; they stay in the "
                    "file, are left out of reports, and the task runs again", out, summary.stale_rollouts, name)
    if embedder is None:
        from experio.embed import load_embedder

        embedder = load_embedder()
    bank = None
    if settings.memory != "none":
        dim = int(np.asarray(embedder.embed(["probe"])).shape[1])
        bank = MemoryBank(bank_path(out, name), dim=dim)
        summary.restored = reconcile(bank, finished, out, name, embedder)
    update_json(out / "config.json", ["memory", name], {"llm": getattr(llm, "name", type(llm).__name__),
                              "env": env if isinstance(env, str) else getattr(env, "name", "custom"),
                              "tasks": [t.to_dict() for t in tasks], **settings.to_dict()})
    need = matts_k if mode == "parallel" else 1
    envs, owned = _environments(env, need, env_options or {})
    todo = [(i, t) for i, t in enumerate(tasks) if i not in finished]
    run_path = str(out / "trajectories.jsonl")
    try:
        loop = MemoryLoop(llm, bank, embedder, settings, envs)
        with TrajectoryWriter(out / "trajectories.jsonl", version=ADP_VERSION) as writer, \
                _progress(progress, len(tasks), len(finished), name) as bar:
            for index, task in todo:
                outcome = loop.solve(task)
                records = task_records(outcome, settings, index)
                for record in records:  # rollouts first, the counted line last
                    writer.write(record)
                experience_id = loop.consolidate(outcome, run_path=run_path, trajectory_id=records[-1].id)
                summary.ran += 1
                bar(outcome)
                if on_task:
                    on_task(TaskDone(index, task, outcome, experience_id, name))
    finally:
        if owned:
            for e in envs:
                e.close()
        if bank is not None:
            bank.close()
    return write_report(out)


def reconcile(bank: MemoryBank, finished: dict[int, dict[str, str]], out: Path, method: str, embedder: Any) -> list[str]:
    """Make the bank agree with the records of `method`; return the trajectory ids stored from records.

    Raises MemoryRunError when the bank holds an experience of this method that no record has.
    """
    in_bank = {e.trajectory_id for e in bank.iter_experiences() if e.source == method}
    should = {d["_id"]: d for _, d in sorted(finished.items()) if d.get("store") == "true"}
    orphans = sorted(str(t) for t in in_bank - set(should))
    if orphans:
        raise MemoryRunError(
            f"{bank.path} holds {len(orphans)} experience(s) of {method!r} with no finished task in "
            f"{out / 'trajectories.jsonl'} (e.g. {orphans[0]!r}): the bank belongs to another run or the records "
            "were edited. Move the bank aside and resume: it is rebuilt from the records")
    restored = []
    for trajectory_id, d in should.items():
        if trajectory_id in in_bank:
            continue
        items = [MemoryItem(i["title"], i["description"], i["content"]) for i in json.loads(d["memory_items"])]
        embedding = np.asarray(embedder.embed([d["query"]])[0], dtype=np.float32)
        bank.store(Experience(d["task_id"], d["query"], embedding, d["judged_status"],  # type: ignore[arg-type]
                              d.get("judge_rationale", ""), str(out / "trajectories.jsonl"), trajectory_id,
                              source=method), items)
        restored.append(trajectory_id)
    if restored:
        log.warning("%s: stored %d experience(s) of %s from their records (the run was stopped after writing "
                    "them but before storing): %s", bank.path, len(restored), method, ", ".join(restored))
    return restored


def task_records(outcome: TaskOutcome, settings: MemorySettings, index: int) -> list[Trajectory]:
    """The ADP lines of one task: every rollout, the counted one last, with the memory details."""
    name = settings.name
    base_id = f"{name}/{index}/{outcome.task.id}"
    retrieved = json.dumps([{"experience_id": h.experience.id, "task_id": h.experience.task_id,
                             "status": h.experience.status, "similarity": round(float(h.similarity), 4)}
                            for h in outcome.retrieved])
    injected = json.dumps([i.id for i in outcome.injected])
    order = [i for i in range(len(outcome.rollouts)) if i != outcome.chosen] + [outcome.chosen]
    out = []
    for i in order:
        rollout = outcome.rollouts[i]
        traj = rollout.result.trajectory
        assert traj is not None
        counted = i == outcome.chosen
        d = dict(traj.details)
        d.update({
            "method": name, "memory": settings.memory, "matts": settings.matts or "none",
            "matts_k": str(settings.matts_k), "judge": settings.judge, "top_k": str(settings.top_k),
            "task_index": str(index), "query": outcome.query, "rollout": str(i),
            "counted": "true" if counted else "false", "env_success": str(rollout.result.success).lower(),
            "retrieved": retrieved, "items_injected": injected,
            "items_used": json.dumps([outcome.injected[p - 1].id for p in rollout.used]),
        })
        if i < len(outcome.notes):
            d["notes_after"] = outcome.notes[i]
        if rollout.verdict is not None:
            v = rollout.verdict
            d.update({"judged_status": v.status, "judge_source": v.source, "judge_rationale": v.rationale})
            if v.error:
                d["judge_error"] = v.error
        if counted:
            ex = outcome.extraction
            d.update({
                "rollouts": str(len(outcome.rollouts)),
                "total_steps": str(sum(r.result.steps for r in outcome.rollouts)),
                "extraction": json.dumps({
                    "kind": outcome.extraction_kind,
                    "outcome": "none" if outcome.extraction_kind == "none" else
                               ("ok" if outcome.items else "skipped"),
                    "items": len(outcome.items), "error": ex.error if ex else None,
                    "attempts": ex.attempts if ex else 0, "raw": ex.raw if ex else []}, ensure_ascii=False),
                "store": "true" if outcome.stores else "false",
                "memory_items": items_json(outcome.items),
                "notes": json.dumps(outcome.notes, ensure_ascii=False),
            })
            if outcome.selection is not None or outcome.selection_error:
                sel = outcome.selection
                d["selection"] = json.dumps({"index": outcome.chosen, "rationale": sel.rationale if sel else "",
                                             "error": outcome.selection_error}, ensure_ascii=False)
        out.append(traj.model_copy(update={"id": base_id if counted else f"{base_id}/rollout{i}", "details": d}))
    return out


def _environments(env: Any, need: int, options: dict[str, Any]) -> tuple[list[Environment], bool]:
    if isinstance(env, str):
        made: list[Environment] = []
        try:
            for _ in range(need):
                made.append(make_env(env, **options))
        except BaseException:
            for e in made:
                e.close()
            raise
        return made, True
    if isinstance(env, type) or (callable(env) and not hasattr(env, "reset")):  # a class or factory
        return [env() for _ in range(need)], True
    if need > 1:
        raise ValueError(f"MaTTS parallel runs {need} rollouts at once, each in its own environment: pass an "
                         "environment name or a factory, not one instance")
    return [env], False


class _progress:
    """A rich progress bar over tasks showing the success count, or nothing."""

    def __init__(self, enabled: bool, total: int, completed: int, label: str):
        self.enabled, self.total, self.completed, self.label, self.wins = enabled, total, completed, label, 0

    def __enter__(self) -> Callable[[TaskOutcome], None]:
        if not self.enabled:
            return lambda outcome: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[wins]} solved"), TimeElapsedColumn())
        self.task = self.bar.add_task(self.label, total=self.total, completed=self.completed, wins=0)
        self.bar.start()

        def advance(outcome: TaskOutcome) -> None:
            self.wins += outcome.result.success
            self.bar.update(self.task, advance=1, wins=self.wins)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.stop()
