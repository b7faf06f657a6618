"""`experio retrieval ...`: MARAG-R1's multi-tool retrieval: the corpus, its tools, a GlobalQA-style
benchmark, the agent and its baselines, SFT data, and the MCP server."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import (ApiKeyOption, BaseUrlOption, LLMOption, ModelOption, PrecisionOption, console, make_app, open_llm,
                     table)

app = make_app(help="MARAG-R1: multi-tool agentic retrieval over a corpus (arXiv 2510.27569).", no_args_is_help=True)

CorpusOption = typer.Option("builtin", "--corpus", help="builtin (FOLDOC, Debian dict-foldoc), a .jsonl / .csv / "
                            ".parquet file, or a folder of .txt files with metadata.csv.")


@app.command("info")
def info_command(corpus: str = CorpusOption) -> None:
    """The corpus: how many documents, its fields and their types, a sample document."""
    from experio.retrieval import load_corpus

    c = load_corpus(corpus)
    t = table("field", "type", "documents with a value", title=f"{c.name}: {len(c)} documents")
    for f, typ in c.fields.items():
        values = c.table.column(f).to_pylist()
        t.add_row(f, typ, str(sum(1 for v in values if v not in (None, []))))
    console.print(t)
    doc = c.doc_at(0)
    console.print(f"first document: {doc.id} {doc.title!r}: {doc.text[:160]}")
    if c.licence:
        console.print(f"licence: {c.licence}")


@app.command("tool")
def tool_command(
    calls: list[str] = typer.Argument(..., help='Tool calls in order, e.g. \'filter(field="year", op="eq", '
                                      'value=1995)\' \'aggregate(op="count", over="R1")\'.'),
    corpus: str = CorpusOption,
) -> None:
    """Call the tools by hand, as the agent does: each result set is named R1, R2, ... for later calls."""
    from experio.agent import bind_call, parse_call
    from experio.retrieval import TOOL_SPECS, RetrievalTools, ToolSession, load_corpus

    session = ToolSession(RetrievalTools(load_corpus(corpus)))
    for call in calls:
        name, args, kwargs = parse_call(call)
        console.print(f"[bold]> {call}[/bold]")
        console.print(session.call(name, bind_call(TOOL_SPECS[:-1], name, args, kwargs)), markup=False)


@app.command("bench")
def bench_command(
    out: Path = typer.Option(..., "--out", help="Folder for train.jsonl, test.jsonl, gold.jsonl, summary.json."),
    corpus: str = CorpusOption,
    per_family: int = typer.Option(40, "--per-family", help="Questions per family (seven families)."),
    test_fraction: float = typer.Option(0.3, "--test-fraction", help="Share of questions held out for test."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Generate GlobalQA-style questions with exact answers, split train/test with no shared question or gold set."""
    from experio.retrieval import build_benchmark

    summary = build_benchmark(corpus, out, per_family=per_family, test_fraction=test_fraction, seed=seed)
    t = table("family", "train", "test", title=f"Benchmark on {summary['corpus']}")
    for family in summary["families"]["train"]:
        t.add_row(family, str(summary["families"]["train"][family]), str(summary["families"]["test"][family]))
    console.print(t)
    console.print(f"overlap between train and test: {summary['overlap']['questions']} questions, "
                  f"{summary['overlap']['gold_sets']} gold sets. Files: {out}/")


@app.command("eval")
def eval_command(
    questions: Path = typer.Argument(..., help="A question file, e.g. bench/test.jsonl."),
    out: Path = typer.Option(..., "--out", help="Run folder."),
    methods: str = typer.Option("oracle,rag-bm25,rag-dense,agent", "--methods",
                                help="Comma-separated: agent, rag-dense, rag-bm25, oracle."),
    corpus: str = CorpusOption,
    context: str = typer.Option("react", "--context", help="The agent's context: react or fold."),
    max_steps: int = typer.Option(8, "--max-steps", help="The agent's step budget per question."),
    temperature: float = typer.Option(0.0, "--temperature", help="The agent's sampling temperature (0: greedy)."),
    rag_k: int = typer.Option(5, "--rag-k", help="Documents the RAG baselines retrieve."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N questions."),
    per_family: Optional[int] = typer.Option(None, "--per-family", help="Only the first N questions of each family."),
    resume: bool = typer.Option(False, "--resume", help="Continue a run: skip answered (method, question) pairs."),
    llm: Optional[str] = LLMOption, model: Optional[str] = ModelOption,
    base_url: Optional[str] = BaseUrlOption, api_key: Optional[str] = ApiKeyOption,
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Answer the questions with each method; F1, EM, document recall and tool calls per family."""
    from experio.errors import positive
    from experio.retrieval import (RetrievalTools, agent_config, evaluate, first_per_family, load_corpus,
                                   read_questions)

    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    qs = read_questions(questions)
    if per_family is not None:
        qs = first_per_family(qs, positive("--per-family", per_family))
    qs = qs[: positive("--limit", limit) if limit is not None else None]
    tools = RetrievalTools(load_corpus(corpus))
    model_llm = open_llm(llm, model, base_url, api_key) if any(m != "oracle" for m in chosen) else None
    metrics = evaluate(chosen, qs, tools, out, llm=model_llm, context=context, resume=resume, progress=not quiet,
                       config=agent_config(positive("--max-steps", max_steps), temperature), rag_k=rag_k)
    t = table("method", "questions", "answer F1", "EM", "doc recall", "tool calls", title=f"{len(qs)} questions")
    for method, fams in metrics.items():
        m = fams["all"]
        t.add_row(method, str(m["questions"]), f"{100 * m['f1']:.1f}", f"{100 * m['em']:.1f}",
                  f"{100 * m['recall']:.1f}", f"{m['tool_calls']:.1f}")
    console.print(t)
    console.print(f"Run record: {out}/ (trajectories.jsonl, metrics.json, report.md, f1_by_family.png)")


@app.command("expert")
def expert_command(
    questions: Path = typer.Argument(..., help="A question file, e.g. bench/train.jsonl (never the test file)."),
    out: Path = typer.Option(..., "--out", help="Run folder: trajectories.jsonl is SFT data for `experio train sft`."),
    corpus: str = CorpusOption,
    context: str = typer.Option("react", "--context", help="react or fold."),
    max_steps: int = typer.Option(8, "--max-steps", help="The step budget the prompts show (use the agent's)."),
    eval_questions: Optional[Path] = typer.Option(None, "--eval-questions",
                                                  help="The test file: refuses any question or gold set it shares."),
    resume: bool = typer.Option(False, "--resume"),
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """Tool-use trajectories for SFT: each question's plan replayed through the agent loop (rule-written thoughts)."""
    from experio.retrieval import RetrievalTools, load_corpus, read_questions, run_plan_experts

    qs = read_questions(questions)
    held_out = read_questions(eval_questions) if eval_questions else None
    metrics = run_plan_experts(qs, RetrievalTools(load_corpus(corpus)), context, out, max_steps=max_steps,
                               eval_questions=held_out, resume=resume, progress=not quiet)
    console.print(f"{metrics['episodes']} expert trajectories ({context}), all exact: {out}/trajectories.jsonl")


@app.command("train")
def train_command(
    questions: Path = typer.Argument(..., help="The training question file (bench/train.jsonl)."),
    out: Path = typer.Option(..., "--out", help="Run folder: expert/, sft/ (adapter/, model.gguf)."),
    eval_questions: Optional[Path] = typer.Option(None, "--eval-questions",
                                                  help="The test file: refuses any question or gold set it shares."),
    corpus: str = CorpusOption,
    context: str = typer.Option("react", "--context", help="react or fold."),
    max_steps: int = typer.Option(8, "--max-steps", help="The agent's step budget (the prompts show it)."),
    epochs: int = typer.Option(1, "--epochs"),
    max_len: int = typer.Option(1536, "--max-len", help="Tokens per example (prompt cut from the left)."),
    resume: bool = typer.Option(False, "--resume"),
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """SFT stage: the plans as tool-use trajectories, LoRA fine-tuning on them, the tuned GGUF (then `rl`)."""
    from experio.retrieval import RetrievalTools, load_corpus, read_questions, train_agent

    held_out = read_questions(eval_questions) if eval_questions else None
    r = train_agent(read_questions(questions), RetrievalTools(load_corpus(corpus)), out, context=context,
                    max_steps=max_steps, eval_questions=held_out, resume=resume, progress=not quiet, epochs=epochs,
                    max_len=max_len)
    console.print(f"expert trajectories: {r['expert']}\nadapter: {r['adapter']}\nmodel: {r['gguf']} "
                  f"(experio retrieval eval ... --model {r['gguf']}; RL: experio retrieval rl ... "
                  f"--init-adapter {r['adapter']})")


@app.command("rl")
def rl_command(
    questions: Path = typer.Argument(..., help="The training question file (bench/train.jsonl)."),
    out: Path = typer.Option(..., "--out", help="Run folder."),
    corpus: str = CorpusOption,
    base: str = typer.Option("embedded", "--base", help="embedded, or a GGUF file / transformers model folder."),
    init_adapter: Optional[str] = typer.Option(None, "--init-adapter",
                                               help="Start from an SFT run's adapter (runs/NAME/adapter)."),
    steps: int = typer.Option(10, "--steps", help="Optimizer steps."),
    questions_per_step: int = typer.Option(2, "--questions-per-step"),
    group: int = typer.Option(4, "--group", help="G: episodes per question (>= 2; leave-one-out advantages)."),
    max_steps: int = typer.Option(6, "--max-steps", help="The agent's step budget per episode."),
    temperature: float = typer.Option(1.0, "--temperature", help="Sampling temperature of the episodes."),
    lr: float = typer.Option(1e-5, "--lr"),
    n_eval: int = typer.Option(8, "--n-eval", help="Validation questions (from the training file, gold sets disjoint)."),
    eval_every: int = typer.Option(5, "--eval-every"),
    seed: int = typer.Option(0, "--seed"),
    precision: str = PrecisionOption,
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint in --out."),
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """RL on the agent (hf backend, LoRA): G episodes per question, answer + coverage + exploration rewards, RLOO."""
    from experio.retrieval import retrieval_rl

    m = retrieval_rl(out=out, questions=questions, corpus=corpus, base=base, init_adapter=init_adapter, steps=steps,
                     questions_per_step=questions_per_step, group=group, max_steps=max_steps, temperature=temperature,
                     lr=lr, n_eval=n_eval, eval_every=eval_every, seed=seed, precision=precision, resume=resume,
                     progress=not quiet)
    t = table("step", "validation reward", "answer F1", "EM", title="Retrieval agent RL")
    for e in m["eval"]:
        t.add_row(str(e["step"]), f"{e['reward']:.3f}", f"{100 * e['f1']:.1f}", f"{100 * e['em']:.1f}")
    console.print(t)
    console.print(f"Run record: {out}/ (config.json, metrics.json, report.md, reward.png, adapter/)")


@app.command("serve-mcp")
def serve_mcp_command(corpus: str = typer.Argument("builtin", help="The corpus (as --corpus elsewhere).")) -> None:
    """Serve the four tools over MCP (stdio): add `experio retrieval serve-mcp CORPUS` to an MCP client."""
    from experio.retrieval import serve_mcp

    serve_mcp(corpus)
