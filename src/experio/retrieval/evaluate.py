"""Evaluation of answering methods on benchmark questions, into a resumable run folder.

    >>> m = evaluate(["oracle", "rag-bm25", "agent"], questions, tools, Path("runs/ret"), llm=llm)  # doctest: +SKIP
    >>> m["oracle"]["all"]["f1"]                                                                      # doctest: +SKIP
    1.0

Methods, all on the same questions:

    agent      the multi-tool agent: the agent loop over `RetrievalEnv` (any `LLM`, ReAct or Fold)
    rag-dense  single-retriever RAG: dense top-k (MiniLM) for the question, the model answers from them
    rag-bm25   the same with BM25 top-k
    oracle     the generator's own plan executed by the tools (no model): the tools' upper bound
    expert     (`experio retrieval expert`) the plan replayed through the agent loop: SFT data

    runs/NAME/
      config.json         {"kind": "retrieval eval", "<method>": settings}
      trajectories.jsonl  one ADP trajectory per (method, question); details hold the scores
      metrics.json        per method and family: F1, EM, document recall, tool calls (+ "all")
      report.md, f1_by_family.png

The records are the source of truth (append-only; `resume=True` skips every (method, question)
already there); metrics and the report are recomputed from them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Sequence

from experio.adp import SCHEMA_VERSION, ApiAction, MessageAction, TextObservation, Trajectory, to_wire
from experio.agent import AgentConfig, EpisodeResult, make_context, run_episode
from experio.errors import UsageError, unknown_name
from experio.runs import RunFolder, markdown_table, progress as progress_bar, save_figure, write_json, write_text

from .bench import FAMILIES, Question, answer_from, run_plan
from .env import ACTION_CHARS, RetrievalEnv, question_task
from .metrics import score
from .session import ToolSession
from .tools import RetrievalTools

KIND = "retrieval eval"
METHODS = ("agent", "rag-dense", "rag-bm25", "oracle")
RAG_PROMPT = """Answer the question from the documents below. Give only the answer: a number, one title, or titles separated by commas.

Documents:
{documents}

Question: {question}
Answer:"""


def evaluate(methods: Sequence[str], questions: Sequence[Question], tools: RetrievalTools, out: Path, *,
             llm: Any = None, context: str = "react", config: AgentConfig | None = None, rag_k: int = 5,
             resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run each method on every question (skipping finished pairs when resuming); the folder's metrics."""
    for m in methods:
        if m not in METHODS:
            raise unknown_name("method", m, METHODS)
    if not questions:
        raise UsageError("no questions to evaluate; pass a question file with at least one question")
    if llm is None and any(m != "oracle" for m in methods):
        raise UsageError("the agent and RAG methods need a model (llm=...)")
    config = config or agent_config()
    run = RunFolder(out, KIND)
    done = {(r.get("details", {}).get("method"), r.get("details", {}).get("question_id")) for r in run.records()}
    run.open(resume=resume, finished=sum(1 for m, q in done if m in methods), what="answered question(s)")
    env = RetrievalEnv(tools, questions)
    for method in methods:
        settings = {"method": method, "questions": len(questions), "corpus": tools.corpus.name}
        if method == "agent":
            settings |= {"context": context, "max_steps": config.max_steps, "temperature": config.temperature}
        elif method.startswith("rag"):
            settings |= {"k": rag_k}
        if llm is not None and method != "oracle":
            settings["llm"] = getattr(llm, "name", type(llm).__name__)
        run.set_config([method], settings)
        todo = [q for q in questions if (method, q.id) not in done]
        answer = _method(method, llm, env, tools, context, config, rag_k)
        with run.appender(encode=lambda t: to_wire(t, SCHEMA_VERSION)) as records, \
                progress_bar(method, len(questions), len(questions) - len(todo), enabled=progress,
                             counter="exact") as advance:
            for q in todo:
                trajectory = answer(q)
                records.write(trajectory)
                advance(trajectory.details["em"] == "1.0")
    return write_report(out)


def agent_config(max_steps: int = 8, temperature: float = 0.0) -> AgentConfig:
    """The agent's settings for retrieval: a step budget, greedy by default, room for long answers."""
    return AgentConfig(max_steps=max_steps, temperature=temperature, action_chars=ACTION_CHARS)


def _method(method: str, llm: Any, env: RetrievalEnv, tools: RetrievalTools, context: str, config: AgentConfig,
            rag_k: int) -> Callable[[Question], Trajectory]:
    if method == "agent":
        return lambda q: agent_trajectory(run_episode(llm, env, question_task(q), make_context(context), config),
                                          q, env.last_answer)
    if method == "oracle":
        return lambda q: oracle_trajectory(tools, q)
    search = "semantic_search" if method == "rag-dense" else "keyword_search"
    return lambda q: rag_trajectory(llm, tools, q, search, rag_k, method)


def agent_trajectory(result: EpisodeResult, question: Question, answer: dict[str, Any] | None) -> Trajectory:
    """The agent's ADP trajectory with the scores of its answer (`RetrievalEnv.last_answer`; zeros
    when the episode ended without one) added to its details."""
    a = answer or {}
    t = result.trajectory
    t.details.update(_details("agent", question, a.get("answer", ""), a.get("f1", 0.0), a.get("em", 0.0),
                              a.get("recall", 0.0), a.get("tool_calls", 0), result.seconds))
    return t


def oracle_trajectory(tools: RetrievalTools, question: Question) -> Trajectory:
    """The generator's plan executed by the tools, recorded as an ADP trajectory."""
    t0 = time.perf_counter()
    session = ToolSession(tools)
    content: list[Any] = [TextObservation(source="user", content=question.question)]
    for step in question.plan:
        content.append(ApiAction(function=step["tool"], kwargs=dict(step["args"]), description="the generator's plan"))
        content.append(TextObservation(source="environment", content=session.call(step["tool"], dict(step["args"]))))
    _, answer_text, _ = answer_from(run_plan(tools, question.plan), tools.corpus, question.family)
    content.append(MessageAction(content=answer_text))
    parts = score(answer_text, question, session.seen)
    return Trajectory(id=f"oracle/{question.id}", content=content,
                      details=_details("oracle", question, answer_text, parts["f1"], parts["em"], parts["recall"],
                                       len(question.plan), time.perf_counter() - t0))


def rag_trajectory(llm: Any, tools: RetrievalTools, question: Question, search: str, k: int,
                   method: str) -> Trajectory:
    """Single-retriever RAG: top-k documents for the question, then one greedy answer from the model."""
    t0 = time.perf_counter()
    hits = getattr(tools, search)(question.question, k)
    documents = "\n".join(_document_line(tools, h.id) for h in hits)
    prompt = RAG_PROMPT.format(documents=documents, question=question.question)
    answer = llm.generate(prompt, max_tokens=64, temperature=0.0, stop=["\n"])[0].text.strip()
    retrieved = {h.id for h in hits}
    parts = score(answer, question, retrieved)
    content = [TextObservation(source="user", content=question.question),
               ApiAction(function=search, kwargs={"query": question.question, "k": k}, description=method),
               TextObservation(source="environment", content=documents),
               MessageAction(content=answer)]
    return Trajectory(id=f"{method}/{question.id}", content=content,
                      details=_details(method, question, answer, parts["f1"], parts["em"], parts["recall"], 1,
                                       time.perf_counter() - t0))


def _document_line(tools: RetrievalTools, doc_id: str, chars: int = 240) -> str:
    doc = tools.corpus.doc(doc_id)
    meta = "; ".join(f"{k}: {'/'.join(v) if isinstance(v, list) else v}" for k, v in doc.meta.items() if v not in (None, []))
    return f"[{doc_id}] {doc.title} ({meta}): {doc.text[:chars]}"


def _details(method: str, q: Question, answer: str, f1: float, em: float, recall: float, calls: int,
             seconds: float) -> dict[str, str]:
    return {"method": method, "question_id": q.id, "family": q.family, "answer": answer, "gold": q.answer_text,
            "f1": str(float(f1)), "em": str(float(em)), "recall": str(float(recall)), "tool_calls": str(calls),
            "seconds": f"{seconds:.2f}"}


# -------------------------------------------------------------------------------- report


def compute_metrics(records: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """method -> family (and "all") -> mean f1, em, recall, tool_calls, and the number of questions."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        d = r.get("details", {})
        for family in (d.get("family"), "all"):
            groups[(d.get("method"), family)].append(d)
    metrics: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for (method, family), rows in sorted(groups.items()):
        n = len(rows)
        metrics[method][family] = {"questions": n, **{k: sum(float(d[k]) for d in rows) / n
                                                      for k in ("f1", "em", "recall", "tool_calls")}}
    return dict(metrics)


def write_report(out: Path) -> dict[str, Any]:
    """metrics.json, report.md and f1_by_family.png of an evaluation folder, from its records."""
    run = RunFolder(out, KIND)
    run.check_kind(must_exist=True)
    metrics = compute_metrics(run.records())
    write_json(Path(out) / "metrics.json", metrics)
    rows = []
    for method, fams in metrics.items():
        for family in [*FAMILIES, "all"]:
            if family in fams:
                m = fams[family]
                rows.append([method, family, m["questions"], f"{100 * m['f1']:.1f}", f"{100 * m['em']:.1f}",
                             f"{100 * m['recall']:.1f}", f"{m['tool_calls']:.1f}"])
    lines = [f"# Retrieval evaluation: {Path(out).name}", "",
             *markdown_table(["method", "family", "questions", "answer F1", "EM", "doc recall", "tool calls"], rows),
             "", "F1 and EM: SQuAD-style over the answer text (count: the number; min / max: the title; sort and "
             "top-k: the titles in order, comma-separated). Doc recall: share of the question's gold documents "
             "that the method's tools returned to it."]
    if metrics:
        _plot(Path(out) / "f1_by_family.png", metrics)
        lines += ["", "![answer F1 by family](f1_by_family.png)"]
    write_text(Path(out) / "report.md", "\n".join(lines) + "\n")
    return metrics


def _plot(path: Path, metrics: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    families = [f for f in FAMILIES if any(f in fams for fams in metrics.values())]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.8 / max(1, len(metrics))
    for i, (method, fams) in enumerate(metrics.items()):
        ys = [100 * fams.get(f, {}).get("f1", 0.0) for f in families]
        ax.bar(np.arange(len(families)) + i * width, ys, width, label=method)
    ax.set_xticks(np.arange(len(families)) + width * (len(metrics) - 1) / 2, families, rotation=20)
    ax.set_ylabel("answer F1 (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Answer F1 by question family")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
