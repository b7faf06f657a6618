"""The table of scripts/train_agent.sh: base vs tuned, per setting and context, and the training cost.

    .venv/bin/python scripts/train_agent_report.py runs/agent-sft     # writes runs/agent-sft/report.md

Reads only the run folders the script wrote (eval-*/metrics.json, sft/metrics.json, the expert
and eval trajectories); checks again that no evaluation game's seed is a training game's seed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from experio.adp import read_trajectories
from experio.runs import markdown_table, pct, read_json, write_text

SETTINGS = ("ql2", "ql4")
CONTEXTS = ("react", "fold")


def seeds(folder: Path) -> set[int]:
    path = folder / "trajectories.jsonl"
    if not path.exists():
        return set()
    return {int(json.loads(t.details["task"])["seed"]) for t in read_trajectories(path) if "task" in t.details}


def cell(out: Path, model: str, setting: str, context: str) -> list[str]:
    m = read_json(out / f"eval-{model}-{setting}" / "metrics.json").get(context)
    if not m:
        return [model, setting, context, "-", "-", "-", "-", "-"]
    per_turn = m.get("prompt_tokens_per_turn") or []
    mean_tokens = f"{sum(per_turn) / len(per_turn):.0f}" if per_turn else "-"
    return [model, setting, context, str(m["episodes"]), pct(m["success_rate"]), f"{m['mean_steps']:.1f}",
            pct(m["invalid_action_rate"]), mean_tokens]


def main(out: Path) -> str:
    for s in SETTINGS:
        train, evaluated = seeds(out / f"expert-{s}"), seeds(out / f"eval-base-{s}") | seeds(out / f"eval-tuned-{s}")
        if train & evaluated:
            raise SystemExit(f"{s}: evaluation seeds {sorted(train & evaluated)[:5]} are training seeds")
    rows = [cell(out, model, s, c) for s in SETTINGS for c in CONTEXTS for model in ("base", "tuned")]
    lines = ["# Tuned agent vs base (scripts/train_agent.sh)", ""]
    lines += markdown_table(["model", "setting", "context", "games", "success", "mean steps", "invalid actions",
                             "prompt tokens / turn"], rows)
    sft = read_json(out / "sft" / "metrics.json")
    if sft:
        lines += ["", "## Training", ""]
        rows = [["examples (train / eval)", f"{sft['train_examples']} / {sft['eval_examples']}"],
                ["optimizer steps", sft["steps"]], ["tokens", f"{sft['tokens']:,}"],
                ["training steps (wall time; without load and evaluations)", f"{sft['train_seconds'] / 60:.1f} min"],
                ["tokens/s", f"{sft['tokens_per_s']:.0f}"],
                ["train loss", f"{sft['first_train_loss']:.3f} -> {sft['last_train_loss']:.3f}"],
                ["eval loss", f"{sft['first_eval_loss']:.3f} -> {sft['last_eval_loss']:.3f}"],
                ["peak RSS", f"{sft['peak_rss_bytes'] / 1e9:.1f} GB"]]
        lines += markdown_table(["what", "value"], rows)
    lines += ["", "Training and evaluation seeds checked disjoint (expert seeds vs eval seeds, per setting).", ""]
    text = "\n".join(lines)
    write_text(out / "report.md", text)
    return text


if __name__ == "__main__":
    print(main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/agent-sft")))
