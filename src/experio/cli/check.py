"""`experio check`: a short, real, checkable run of the LLM and embedding layers.

Useful after pointing experio at a new model or server: does generation, constrained output,
scoring and retrieval behave?

Four small tasks on the embedded base model, each scored against known answers:
  1. few-shot question answering (free generation, stop at the line end),
  2. JSON-schema constrained extraction (must always parse; fields are checked),
  3. multiple choice by log-likelihood (`score`),
  4. retrieval of the supporting fact by embedding similarity.
The run folder gets config.json, metrics.json and report.md.

    >>> from experio.llm import load_llm
    >>> run_check(load_llm(), Path("runs/check"))        # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from experio.embed import cosine_top_k, load_embedder
from experio.llm import LLM, SchemaMismatchError, describe_llm
from experio.runs import write_json, write_text

from .common import table

FEW_SHOT = "Q: What is the capital of Italy?\nA: Rome\n\nQ: What is the capital of Spain?\nA: Madrid\n\n"
QA = [
    ("What is the capital of France?", "Paris"),
    ("What is the capital of Germany?", "Berlin"),
    ("What is the capital of Japan?", "Tokyo"),
    ("What is the capital of England?", "London"),
]
EXTRACT = [
    ("Maria flew from Lisbon to visit her aunt.", "Maria", "Lisbon"),
    ("Tom works in a bakery in Chicago.", "Tom", "Chicago"),
    ("Aiko studies music in Osaka.", "Aiko", "Osaka"),
]
PERSON_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "city": {"type": "string"}},
    "required": ["name", "city"],
    "additionalProperties": False,
}
CHOICES = [
    ("The sun rises in the", [" east", " west"]),
    ("Water freezes at zero degrees", [" Celsius", " Kelvin"]),
    ("A week has seven", [" days", " apples"]),
]
FACTS = [
    "The key to the wooden chest is under the bed.",
    "The kitchen is north of the living room.",
    "Apples grow on trees in the orchard.",
]
QUERIES = [("Where can I find the chest key?", 0), ("How do I reach the kitchen?", 1), ("Where do apples come from?", 2)]


def run_check(llm: LLM, out: Path, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", describe_llm(llm))
    rows, metrics, t0 = [], {}, time.perf_counter()

    with console.status("1/4 few-shot question answering"):
        hits = 0
        for q, gold in QA:
            answer = llm.generate(f"{FEW_SHOT}Q: {q}\nA:", max_tokens=8, temperature=0, stop=["\n"])[0].text.strip()
            hits += answer.lower().startswith(gold.lower())
            rows.append(("QA", q, answer, gold))
        metrics["qa_accuracy"] = hits / len(QA)

    with console.status("2/4 JSON-constrained extraction"):
        valid = correct = 0
        for sentence, name, city in EXTRACT:
            prompt = f"Sentence: {sentence}\nThe person's name and the city, as JSON:\n"
            try:
                got = llm.generate(prompt, max_tokens=40, temperature=0, json_schema=PERSON_SCHEMA)[0].parsed
                valid += 1
                correct += got["name"] == name and got["city"] == city
            except SchemaMismatchError as e:
                got = f"invalid: {e}"
            rows.append(("JSON", sentence, json.dumps(got), f"{name} / {city}"))
        metrics["json_valid_rate"] = valid / len(EXTRACT)
        metrics["json_exact_rate"] = correct / len(EXTRACT)

    with console.status("3/4 multiple choice by log-likelihood"):
        hits = 0
        for stem, options in CHOICES:
            scores = [llm.score(stem, o).total for o in options]
            best = options[max(range(len(options)), key=scores.__getitem__)]
            hits += best == options[0]
            rows.append(("score", stem, f"{best.strip()} ({max(scores):.2f})", options[0].strip()))
        metrics["choice_accuracy"] = hits / len(CHOICES)

    with console.status("4/4 retrieval by embedding similarity"):
        emb = load_embedder()
        idx, _ = cosine_top_k(emb.embed([q for q, _ in QUERIES]), emb.embed(FACTS), k=1)
        hits = 0
        for (q, gold), i in zip(QUERIES, idx[:, 0]):
            hits += int(i) == gold
            rows.append(("embed", q, FACTS[i], FACTS[gold]))
        metrics["retrieval_top1"] = hits / len(QUERIES)

    metrics["seconds"] = round(time.perf_counter() - t0, 2)
    shown = table("task", "input", "output", "expected", title="experio check")
    for row in rows:
        shown.add_row(*(escape(str(c)) for c in row))
    console.print(shown)
    console.print(" ".join(f"[bold]{k}[/bold]={v}" for k, v in metrics.items()))
    write_json(out / "metrics.json", metrics)
    _write_report(out / "report.md", rows, metrics)
    console.print(f"Run record: {out}/ (config.json, metrics.json, report.md)")
    return metrics


def _write_report(path: Path, rows: list[tuple], metrics: dict) -> None:
    lines = ["# experio check", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in metrics.items()]
    lines += ["", "| task | input | output | expected |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in r) + " |" for r in rows]
    write_text(path, "\n".join(lines) + "\n")
