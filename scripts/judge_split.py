"""Split scripts/train_agent.sh's evaluation trajectories into judge training and judge evaluation data.

    .venv/bin/python scripts/judge_split.py runs/agent-sft runs/judge      (scripts/train_judge.sh runs it)

Every base and tuned trajectory of runs/agent-sft/eval-*/ (both settings, ReAct and Fold) goes to
OUT/judge-train.jsonl when its game's seed is at most CUT (default 20) and to OUT/judge-eval.jsonl
otherwise: the judge is evaluated on games it never saw, by any model or context. The split is
checked again on the written files (the (setting, seed) pairs of the two files are disjoint).
Ids get the model's name in front (`base/react/textworld/...`): both models play the same games.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from experio.adp import read_trajectories, to_wire
from experio.runs import write_text


def game(traj) -> tuple[str, int]:
    task = json.loads(traj.details["task"])
    return task["name"], int(task["seed"])


def main(runs: Path, out: Path, cut: int = 20) -> None:
    parts: dict[str, list] = {"train": [], "eval": []}
    for path in sorted(runs.glob("eval-*/trajectories.jsonl")):
        model = path.parent.name.split("-")[1]  # eval-base-ql2 -> base: both models play the same games
        for traj in read_trajectories(path):
            traj = traj.model_copy(update={"id": f"{model}/{traj.id}"})
            parts["train" if game(traj)[1] <= cut else "eval"].append(traj)
    out.mkdir(parents=True, exist_ok=True)
    for name, trajs in parts.items():
        write_text(out / f"judge-{name}.jsonl", "".join(json.dumps(to_wire(t, version="1.2.0")) + "\n" for t in trajs))
    train = {game(t) for t in read_trajectories(out / "judge-train.jsonl")}
    held = {game(t) for t in read_trajectories(out / "judge-eval.jsonl")}
    ids = [t.id for name in parts for t in read_trajectories(out / f"judge-{name}.jsonl")]
    if len(ids) != len(set(ids)):
        raise SystemExit("judge data has repeated trajectory ids")
    if train & held:
        raise SystemExit(f"judge train and eval share games {sorted(train & held)[:5]}")
    for name, trajs in parts.items():
        wins = sum(str(t.details.get("success")).lower() == "true" for t in trajs)
        print(f"judge-{name}.jsonl: {len(trajs)} trajectories ({wins} won) from {len({game(t) for t in trajs})} games")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 20)
