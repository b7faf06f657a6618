"""Memory runs over a task stream into a run folder: records first, then the bank; resumable.

    runs/NAME/
      config.json                 {"kind": "memory", "memory": {<method>: its settings}}
      trajectories.jsonl          ADP 1.2.0 trajectories, append-only: the record (source of truth)
      <method>.bank.sqlite        that method's memory bank (none for memory "none")
      metrics.json, report.md     every method in the folder compared
      success_curve.png           cumulative successes along the stream, one line per method

The folder is an `experio.runs.RunFolder` of kind "memory": another command's folder is
refused before anything is written. Tasks run in stream order. A task's lines are written (its
MaTTS rollouts first, the one that counts last: `MemoryDetails.counted`) and only then is its
experience stored, so a killed run loses at most the task in flight and the bank never holds a
memory without its record. A folder with finished tasks of the method raises
MemoryResumeRequired unless `resume=True`; then finished tasks are skipped and the bank is
checked against the records: a recorded experience missing from the bank (killed between the
write and the store) is stored from its record, and an experience without a record is an
error. Either way the run says what it did (`RunSummary`); nothing is dropped silently.

    >>> metrics = run_memory(llm, "textworld", tasks, "reasoningbank", Path("runs/rb"),
    ...                      on_task=lambda done: print(done.index, done.outcome.result.success))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from experio.adp import SCHEMA_VERSION as ADP_VERSION, Trajectory, TrajectoryWriter
from experio.agent import AgentConfig, EpisodeDetails, EpisodeResult
from experio.envs import Environment, Task, make_env
from experio.errors import ResumeRequired
from experio.llm import LLM, describe_llm
from experio.runs import RunFolder, progress as progress_bar

from .details import (KIND, ExtractionRecord, MemoryDetails, MemoryRecord, SelectionRecord, TaskSummary,
                      read_memory_records)
from .errors import MemoryInputError, MemoryRecordError, MemoryResumeRequired, MemoryRunError, MemorySettingsError
from .loop import MemoryLoop, MemorySettings, TaskOutcome, parse_matts
from .records import Experience
from .report import write_report
from .store import MemoryBank

log = logging.getLogger("experio.memory")


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


def recorded(out: str | os.PathLike) -> list[MemoryRecord]:
    """Every line of the memory run folder `out` (a cut-off last line is dropped), typed."""
    return read_memory_records(RunFolder(out, KIND))


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
    memory_llm: LLM | None = None,
) -> dict[str, Any]:
    """Run `tasks` in order with one memory method; record, consolidate, report; return the metrics.

    method: "none" | "synapse" | "awm" | "reasoningbank"; matts: None, "parallel:K" or
    "sequential:K"; judge: "llm" or "env"; k: experiences retrieved per task (paper: 1).
    env: a name (made here, `env_options` passed, closed at the end), a factory (called once
    per needed instance; MaTTS parallel needs K), or an instance (left open; not for parallel).
    embedder: anything with `embed(texts) -> array` (default `load_embedder()`, MiniLM).
    memory_llm: the model that judges, extracts and selects (default: `llm`, which acts).
    `summary`, when given, is filled with what resume did (restored experiences, stale lines).
    Raises MemorySettingsError on bad settings, RunFolderError on another command's folder,
    MemoryResumeRequired on finished tasks without `resume`, MemoryRunError on a folder whose
    bank or task stream disagrees with its records.
    """
    mode, matts_k = parse_matts(matts)
    settings = MemorySettings(method, mode, matts_k, judge, k, context, config or AgentConfig())
    if not tasks:
        raise MemorySettingsError("no tasks to run: pass at least one task")
    run = RunFolder(out, KIND)
    summary = summary if summary is not None else RunSummary(settings.name)
    summary.method = settings.name
    finished = claim(run, tasks, settings.name, resume, summary)
    if embedder is None:
        from experio.embed import load_embedder

        embedder = load_embedder()
    bank = None
    if settings.memory != "none":
        dim = int(np.asarray(embedder.embed(["probe"])).shape[1])
        bank = MemoryBank(bank_path(run.path, settings.name), dim=dim)
    try:
        if bank is not None:
            summary.restored = reconcile(bank, finished, run, settings.name, embedder)
        run.set_config(["memory", settings.name], {
            **describe_llm(llm), "memory_model": describe_llm(memory_llm or llm)["model"],
            "env": env if isinstance(env, str) else getattr(env, "name", "custom"),
            "tasks": [t.to_dict() for t in tasks], **settings.to_dict()})
        need = matts_k if mode == "parallel" else 1
        envs, owned = _environments(env, need, env_options or {})
        try:
            loop = MemoryLoop(llm, bank, embedder, settings, envs, memory_llm=memory_llm)
            _run_tasks(loop, tasks, finished, run, progress, on_task, summary)
        finally:
            if owned:
                for e in envs:
                    e.close()
    finally:
        if bank is not None:
            bank.close()
    return write_report(run.path)


def claim(run: RunFolder, tasks: Sequence[Task], method: str, resume: bool, summary: RunSummary
          ) -> dict[int, MemoryRecord]:
    """Check the folder and claim it for `method`; return its finished tasks by stream index.

    Refuses another command's folder, finished tasks without `resume` (MemoryResumeRequired),
    and a stream whose tasks differ from the recorded ones (MemoryRunError).
    """
    lines = [r for r in read_memory_records(run) if r.details.method == method]
    finished = {r.details.task_index: r for r in lines if r.details.counted}
    try:
        run.open(resume=resume, finished=len(finished), what=f"task(s) of method {method!r}")
    except ResumeRequired as e:
        raise MemoryResumeRequired(str(e)) from None
    for index, r in sorted(finished.items()):
        if index >= len(tasks) or tasks[index].id != r.details.task_id:
            have = tasks[index].id if index < len(tasks) else "nothing (the stream is shorter)"
            raise MemoryRunError(f"{run.path}: task {index} of method {method!r} was {r.details.task_id!r} but the "
                                 f"stream now has {have}; resume with the same --tasks, --seed and settings, or "
                                 "choose another --out")
    summary.skipped = len(finished)
    summary.stale_rollouts = sum(1 for r in lines if not r.details.counted and r.details.task_index not in finished)
    if summary.stale_rollouts:
        log.warning("%s: %d rollout line(s) of %s belong to a task killed before it finished; they stay in the "
                    "file, are left out of reports, and the task runs again", run.path, summary.stale_rollouts, method)
    return finished


def _run_tasks(loop: MemoryLoop, tasks: Sequence[Task], finished: dict[int, MemoryRecord], run: RunFolder,
               progress: bool, on_task: Callable[[TaskDone], None] | None, summary: RunSummary) -> None:
    """Solve, record, then store each unfinished task in stream order."""
    name = loop.settings.name
    todo = [(i, t) for i, t in enumerate(tasks) if i not in finished]
    with TrajectoryWriter(run.records_path, version=ADP_VERSION) as writer, \
            progress_bar(name, len(tasks), len(finished), enabled=progress) as advance:
        for index, task in todo:
            outcome = loop.solve(task)
            records = task_records(outcome, loop.settings, index)
            for record in records:  # rollouts first, the counted line last
                writer.write(record)
            experience_id = loop.consolidate(outcome, run_path=str(run.records_path), trajectory_id=records[-1].id)
            summary.ran += 1
            advance(outcome.result.success)
            if on_task:
                on_task(TaskDone(index, task, outcome, experience_id, name))


def reconcile(bank: MemoryBank, finished: dict[int, MemoryRecord], run: RunFolder, method: str,
              embedder: Any) -> list[str]:
    """Make the bank agree with the records of `method`; return the trajectory ids stored from records.

    Raises MemoryRunError when the bank holds an experience of this method that no record has.
    """
    in_bank = {e.trajectory_id for e in bank.iter_experiences() if e.source == method}
    should = {r.id: r.details for _, r in sorted(finished.items()) if r.details.stores}
    orphans = sorted(str(t) for t in in_bank - set(should))
    if orphans:
        raise MemoryRunError(
            f"{bank.path} holds {len(orphans)} experience(s) of {method!r} with no finished task in "
            f"{run.records_path} (e.g. {orphans[0]!r}): the bank belongs to another run or the records "
            "were edited. Move the bank aside and resume: it is rebuilt from the records")
    restored = []
    for trajectory_id, d in should.items():
        if trajectory_id in in_bank:
            continue
        if d.verdict is None or d.summary is None:
            raise MemoryRecordError(f"{run.records_path}: the counted line {trajectory_id!r} has no verdict")
        embedding = np.asarray(embedder.embed([d.query])[0], dtype=np.float32)
        bank.store(Experience(d.task_id, d.query, embedding, d.verdict.status,  # type: ignore[arg-type]
                              d.verdict.rationale, str(run.records_path), trajectory_id, source=method),
                   d.summary.memory_items)
        restored.append(trajectory_id)
    if restored:
        log.warning("%s: stored %d experience(s) of %s from their records (the run was stopped after writing "
                    "them but before storing): %s", bank.path, len(restored), method, ", ".join(restored))
    return restored


def task_records(outcome: TaskOutcome, settings: MemorySettings, index: int) -> list[Trajectory]:
    """The ADP lines of one task: every rollout, the counted one last, with its `MemoryDetails`."""
    base_id = f"{settings.name}/{index}/{outcome.task.id}"
    retrieved = [{"experience_id": h.experience.id, "task_id": h.experience.task_id, "status": h.experience.status,
                  "similarity": round(float(h.similarity), 4)} for h in outcome.retrieved]
    injected = [i.id for i in outcome.injected]
    order = [i for i in range(len(outcome.rollouts)) if i != outcome.chosen] + [outcome.chosen]
    out = []
    for i in order:
        rollout = outcome.rollouts[i]
        trajectory = rollout.result.trajectory
        assert trajectory is not None
        counted = i == outcome.chosen
        details = MemoryDetails(
            _episode(rollout.result), settings.name, settings.memory, index, outcome.query, settings.matts,
            settings.matts_k, settings.judge, settings.top_k, rollout=i, counted=counted,
            env_success=rollout.result.success, retrieved=retrieved, items_injected=injected,
            items_used=[outcome.injected[p - 1].id for p in rollout.used],
            notes_after=outcome.notes[i] if i < len(outcome.notes) else None, verdict=rollout.verdict,
            summary=task_summary(outcome) if counted else None)
        out.append(trajectory.model_copy(update={"id": base_id if counted else f"{base_id}/rollout{i}",
                                                 "details": details.to_details()}))
    return out


def task_summary(outcome: TaskOutcome) -> TaskSummary:
    """What the counted line of a task records about its extraction, storing and MaTTS."""
    ex = outcome.extraction
    kind = outcome.extraction_kind
    extraction = ExtractionRecord(kind, "none" if kind == "none" else ("ok" if outcome.items else "skipped"),
                                  len(outcome.items), ex.error if ex else None, ex.attempts if ex else 0,
                                  list(ex.raw) if ex else [])
    selection = None
    if outcome.selection is not None or outcome.selection_error:
        selection = SelectionRecord(outcome.chosen, outcome.selection.rationale if outcome.selection else "",
                                    outcome.selection_error)
    return TaskSummary(len(outcome.rollouts), sum(r.result.steps for r in outcome.rollouts), extraction,
                       outcome.stores, list(outcome.items), list(outcome.notes), selection)


def _episode(result: EpisodeResult) -> EpisodeDetails:
    if result.details is not None:
        return result.details
    assert result.trajectory is not None
    return EpisodeDetails.from_details(result.trajectory.details)


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
        raise MemoryInputError(f"MaTTS parallel runs {need} rollouts at once, each in its own environment: pass an "
                               "environment name or a factory, not one instance")
    return [env], False
