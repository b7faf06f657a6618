"""The report of scripts/train_retrieval.sh: every method on the same held-out questions, per family.

    .venv/bin/python scripts/train_retrieval_report.py runs/retrieval     -> runs/retrieval/report.md

Re-checks that no test question or gold set is in the training file, and that the expert (SFT)
trajectories come from training questions only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from experio.adp import read_trajectories
from experio.agent import EpisodeDetails
from experio.retrieval import FAMILIES, check_disjoint, read_questions
from experio.runs import markdown_table, write_text

ROWS = [("base", "oracle", "oracle program (the tools' upper bound)"),
        ("base", "rag-bm25", "RAG, BM25 top-5, embedded base model"),
        ("base", "rag-dense", "RAG, dense top-5, embedded base model"),
        ("base", "agent", "multi-tool agent, embedded base model (untrained)"),
        ("sft", "rag-bm25", "RAG, BM25 top-5, SFT model"),
        ("sft", "agent", "multi-tool agent, SFT"),
        ("rl", "agent", "multi-tool agent, SFT + RL")]


def main(out: Path) -> None:
    train, test = read_questions(out / "bench/train.jsonl"), read_questions(out / "bench/test.jsonl")
    overlap = check_disjoint(train, test)
    train_ids = {q.id for q in train}
    expert = out / "expert/trajectories.jsonl"
    if expert.exists():
        names = {EpisodeDetails.from_details(t.details).task.name for t in read_trajectories(expert)}
        if not names <= train_ids:
            raise SystemExit(f"expert trajectories of non-training questions: {sorted(names - train_ids)[:3]}")
    lines = [f"# MARAG-R1 on FOLDOC: {out.name}", "",
             f"Benchmark: {len(train)} training and {len(test)} test questions; overlap questions "
             f"{overlap['questions']}, gold sets {overlap['gold_sets']} (checked); expert trajectories from "
             "training questions only (checked).", ""]
    overall, family_rows = [], []
    for run, method, label in ROWS:
        path = out / f"eval-{run}/metrics.json"
        if not path.exists():
            continue
        m = json.loads(path.read_text()).get(method)
        if not m:
            continue
        a = m["all"]
        overall.append([label, a["questions"], f"{100 * a['f1']:.1f}", f"{100 * a['em']:.1f}",
                        f"{100 * a['recall']:.1f}", f"{a['tool_calls']:.1f}"])
        family_rows.append([label] + [f"{100 * m[f]['f1']:.0f}" if f in m else "-" for f in FAMILIES])
    lines += ["## All families", "", *markdown_table(["method", "questions", "answer F1", "EM", "doc recall",
                                                      "tool calls"], overall), "",
              "## Answer F1 by family", "", *markdown_table(["method", *FAMILIES], family_rows), ""]
    lines += training_lines(out)
    write_text(out / "report.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def training_lines(out: Path) -> list[str]:
    lines = []
    sft = out / "sft/metrics.json"
    if sft.exists():
        m = json.loads(sft.read_text())
        lines += ["## Training", "", f"SFT: {json.dumps({k: m[k] for k in m if not isinstance(m[k], (list, dict))})}", ""]
    rl = out / "rl/metrics.json"
    if rl.exists():
        m = json.loads(rl.read_text())
        rows = [[e["step"], f"{e['reward']:.3f}", f"{100 * e['f1']:.1f}", f"{100 * e['em']:.1f}"] for e in m["eval"]]
        lines += [f"RL: {m['steps']} steps, {m['train_seconds'] / 60:.1f} min; validation (training-file questions "
                  "held out from RL):", "", *markdown_table(["step", "reward", "answer F1 %", "EM %"], rows), ""]
    return lines


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/retrieval"))
