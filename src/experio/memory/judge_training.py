"""Training and measuring ReasoningBank's judge against the game's reward.

The judge (`extract.judge`) reads a task and a trajectory and ends in "Status: success|failure".
Here the label comes from the environment instead: every experio agent or memory record says
whether its game was won. `judge_examples(traj)` turns one record into the training example
whose prompt is byte-equal to the judge's prompt at inference (`judge_prompt`, the same
trajectory text the loop shows, `TRAJECTORY_CHARS`) and whose completion is a rationale
written by a rule plus the status the reward gives. `judge_agreement` runs a judge model on
records and counts how often it says what the game said.

    >>> from experio.train import sft
    >>> sft(["judge-train.jsonl"], out="runs/judge", examples_of=judge_examples)     # doctest: +SKIP
    >>> judge_agreement(load_llm(model="runs/judge/model.gguf"), read_trajectories("judge-eval.jsonl"))  # doctest: +SKIP

The rule's rationale (not a model's): success "The final state shows the game won: the task is
done."; failure "The final state does not show the task done: the game was not won." A judge
trained on these learns to read the final state, which is where a TextWorld win shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from experio.adp import Trajectory, iter_trajectory_rows
from experio.agent import EpisodeDetails, EpisodeRecordError, TrainingExample
from experio.errors import input_file
from experio.llm import LLM, describe_llm
from experio.runs import RejectsFile, RunFolder, markdown_table, pct, write_json, write_text
from experio.runs import progress as bar

from .errors import MemoryInputError, MemoryParseError
from .extract import judge, judge_prompt, trajectory_to_text
from .loop import TRAJECTORY_CHARS

RATIONALE = {
    "success": "The final state shows the game won: the task is done.",
    "failure": "The final state does not show the task done: the game was not won.",
}


def game_outcome(traj: Trajectory) -> tuple[str, str]:
    """(task query, "success" | "failure" by the game's reward) of an experio agent or memory record."""
    try:
        d = EpisodeDetails.from_details(traj.details or {})
    except EpisodeRecordError as e:
        raise MemoryInputError(f"trajectory {traj.id!r} has no game outcome in its details ({e}); judge data "
                               "are experio agent or memory run records") from None
    if not d.goal:
        raise MemoryInputError(f"trajectory {traj.id!r} records no goal: the judge prompt needs the task; "
                               "use records of `experio agent run` or `experio memory run`")
    return d.goal, "success" if d.success else "failure"


def judge_examples(traj: Trajectory) -> list[TrainingExample]:
    """The judge's prompt for `traj` and the verdict the game gives (see the module docstring)."""
    goal, status = game_outcome(traj)
    prompt = judge_prompt(goal, trajectory_to_text(traj, TRAJECTORY_CHARS))
    return [TrainingExample(prompt, f" {RATIONALE[status]}\nStatus: {status}", f"{traj.id}#judge")]


@dataclass(frozen=True)
class JudgedRecord:
    """One judged trajectory: what the game said, what the judge said (None: unreadable twice)."""

    id: str
    truth: str
    judged: str | None
    rationale: str

    @property
    def agrees(self) -> bool:
        return self.judged == self.truth


def judge_records(llm: LLM, trajectories: Iterable[Trajectory]) -> Iterator[JudgedRecord]:
    """Run the judge on each trajectory, as the memory loop would, next to its game outcome."""
    for traj in trajectories:
        goal, truth = game_outcome(traj)
        try:
            j = judge(llm, goal, trajectory_to_text(traj, TRAJECTORY_CHARS))
            yield JudgedRecord(traj.id, truth, j.status, j.rationale)
        except MemoryParseError as e:
            yield JudgedRecord(traj.id, truth, None, str(e))


def agreement(records: list[JudgedRecord]) -> dict:
    """Agreement with the game and the confusion counts (unreadable verdicts count as disagreeing)."""
    n = len(records)

    def count(truth: str, judged: str | None) -> int:
        return sum(r.truth == truth and r.judged == judged for r in records)

    return {"n": n, "agreement": sum(r.agrees for r in records) / n if n else None,
            "true_success": count("success", "success"), "false_success": count("failure", "success"),
            "true_failure": count("failure", "failure"), "false_failure": count("success", "failure"),
            "unreadable": sum(r.judged is None for r in records),
            "game_success_rate": sum(r.truth == "success" for r in records) / n if n else None,
            "judged_success_rate": sum(r.judged == "success" for r in records) / n if n else None}


# ------------------------------------------------------------------------- a judged run
JUDGE_KIND = "memory judge"


def run_judge_eval(llm: LLM, data: list[str], out: str, *, resume: bool = False, progress: bool = True) -> dict:
    """Judge every trajectory of the ADP files `data`; records, metrics.json and report.md in `out`.

    Each record is one JudgedRecord (resumable: `resume` skips the ids already judged). A line
    that is not an ADP trajectory, a trajectory without a game outcome, or one whose id an earlier
    line already has, goes to the rejects file `out/trajectories.rejects.jsonl` and the rest
    carries on.
    """
    run = RunFolder(out, JUDGE_KIND, records="judged.jsonl")
    done = {r["id"]: r for r in run.records()}
    run.open(resume=resume, finished=len(done), what="judged trajectories")
    run.set_config(["judge"], {"data": [str(p) for p in data], **describe_llm(llm)})
    rejects, todo, seen = RejectsFile(run.path / "trajectories"), [], {}
    for path in data:
        input_file(path, "trajectory file")
        for row in iter_trajectory_rows(path):
            if row.trajectory is None:
                rejects.add(row.line, f"not an ADP trajectory: {row.reason}", {"file": str(path), "raw": row.raw})
            elif row.trajectory.id in seen:  # records are keyed by id: a repeat would be lost from the metrics
                rejects.add(row.line, f"trajectory id {row.trajectory.id!r} repeats {seen[row.trajectory.id]}; "
                            "give every trajectory its own id", {"file": str(path), "id": row.trajectory.id})
            else:
                seen[row.trajectory.id] = f"line {row.line} of {path}"
                if row.trajectory.id in done:
                    continue
                try:
                    game_outcome(row.trajectory)
                    todo.append(row.trajectory)
                except MemoryInputError as e:
                    rejects.add(row.line, str(e), {"file": str(path), "id": row.trajectory.id})
    rejects_file = rejects.commit()
    with run.appender() as records, bar("judged", len(done) + len(todo), len(done), enabled=progress,
                                        counter="agree") as advance:
        for record in judge_records(llm, todo):
            records.write(record.__dict__)
            done[record.id] = record.__dict__
            advance(record.agrees)
    judged = [JudgedRecord(**r) for r in done.values()]
    metrics = {**agreement(judged), "rejected": rejects.count, "rejects_file": rejects_file}
    write_json(run.path / "metrics.json", metrics)
    write_text(run.path / "report.md", judge_report(metrics))
    return metrics


def judge_report(m: dict) -> str:
    rows = [["trajectories", m["n"]], ["agreement with the game", pct(m["agreement"])],
            ["game success rate", pct(m["game_success_rate"])], ["judged success rate", pct(m["judged_success_rate"])],
            ["success judged success / failure", f"{m['true_success']} / {m['false_failure']}"],
            ["failure judged failure / success", f"{m['true_failure']} / {m['false_success']}"],
            ["unreadable verdicts", m["unreadable"]], ["rejected lines", m["rejected"]]]
    return "\n".join(["# The judge against the game's reward", "", *markdown_table(["measure", "value"], rows), ""])
