"""`experio train sft`: fine-tune the embedded model (or another) on ADP trajectories.

On more processes or devices the same command runs under accelerate (docs/train.md):

    accelerate launch --num_processes 2 -m experio.cli train sft DATA... --out runs/NAME
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import PrecisionOption, console, make_app, table

app = make_app(help="Train on ADP trajectories: supervised fine-tuning (LoRA or full).", no_args_is_help=True)


@app.command()
def sft(
    data: List[Path] = typer.Argument(..., help="ADP files (JSONL, JSONL.gz, JSON, Parquet; experio runs, "
                                                "expert runs, converted or mixed datasets)."),
    out: Path = typer.Option(..., "--out", help="Run folder, e.g. runs/sft."),
    base: str = typer.Option("embedded", "--base", help="embedded, or a GGUF file / transformers model folder."),
    lora: bool = typer.Option(True, "--lora/--full", help="LoRA adapters (default) or full fine-tuning."),
    r: int = typer.Option(16, "--r", help="LoRA rank."),
    alpha: int = typer.Option(32, "--alpha", help="LoRA alpha."),
    dropout: float = typer.Option(0.0, "--dropout", help="LoRA dropout."),
    lr: float = typer.Option(3e-4, "--lr", help="Peak learning rate (AdamW)."),
    epochs: int = typer.Option(1, "--epochs"),
    max_len: int = typer.Option(1024, "--max-len", help="Tokens per example; longer prompts lose tokens from the left."),
    batch_size: int = typer.Option(2, "--batch-size", help="Examples per micro-batch (grouped by length)."),
    grad_accum: int = typer.Option(4, "--grad-accum", help="Micro-batches per optimizer step."),
    max_batch_tokens: int = typer.Option(0, "--max-batch-tokens", help="Split a micro-batch of more padded tokens "
                                         "(rows x longest) in halves: memory of long batches, speed of short ones "
                                         "(0: never)."),
    schedule: str = typer.Option("cosine", "--schedule", help="cosine, linear or constant (after warmup)."),
    warmup: float = typer.Option(0.05, "--warmup", help="Share of the steps with linear warmup."),
    eval_fraction: float = typer.Option(0.1, "--eval-fraction", help="Share of trajectories held out (by id)."),
    eval_data: List[Path] = typer.Option([], "--eval-data", help="Held-out ADP files instead of a split (repeatable)."),
    checkpoint_every: int = typer.Option(50, "--checkpoint-every", help="Checkpoint every K optimizer steps."),
    eval_every: int = typer.Option(0, "--eval-every", help="Eval loss every K steps (0: at each checkpoint)."),
    stop_after: Optional[int] = typer.Option(None, "--stop-after", help="Stop after this many steps (resume later)."),
    seed: int = typer.Option(0, "--seed"),
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint in --out."),
    examples: str = typer.Option("agent", "--examples", help="What to learn from each trajectory: agent (its turns) "
                                 "or judge (ReasoningBank's verdict, labelled by the game's reward)."),
    checkpointing: bool = typer.Option(True, "--gradient-checkpointing/--no-gradient-checkpointing",
                                       help="Recompute activations in the backward pass (less memory)."),
    precision: str = PrecisionOption,
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Supervised fine-tuning: loss on the assistant's tokens only, held-out eval loss, checkpoints, report."""
    from experio.train import sft as run_sft

    result = run_sft(data, out=out, examples_of=examples_function(examples), base=base, lora=lora, r=r, alpha=alpha, dropout=dropout, lr=lr, epochs=epochs,
                     max_len=max_len, batch_size=batch_size, grad_accum=grad_accum, max_batch_tokens=max_batch_tokens, schedule=schedule, warmup=warmup,
                     eval_fraction=eval_fraction, eval_data=eval_data, checkpoint_every=checkpoint_every,
                     eval_every=eval_every, stop_after=stop_after, seed=seed, resume=resume, progress=not quiet,
                     gradient_checkpointing=checkpointing, precision=precision)
    m = result.metrics
    if not m:  # a process other than rank 0 of a multi-process run
        return
    t = table("measure", "value", title=f"SFT {out}")
    for name, value in (("examples (train / eval)", f"{m['train_examples']} / {m['eval_examples']}"),
                        ("steps", f"{m['steps']} of {m['total_steps']}"),
                        ("train loss", f"{_f(m['first_train_loss'])} -> {_f(m['last_train_loss'])}"),
                        ("eval loss", f"{_f(m['first_eval_loss'])} -> {_f(m['last_eval_loss'])}"),
                        ("tokens/s", _f(m["tokens_per_s"], 1)), ("rejected rows", m["rejected"])):
        t.add_row(name, str(value))
    console.print(t)
    weights = result.adapter or result.model
    console.print(f"weights: {weights}   report: {out / 'report.md'}"
                  + (f"   rejects: {result.rejects}" if result.rejects else ""), highlight=False)


def examples_function(name: str):
    """The example builder `--examples` names (the judge's lives in experio.memory)."""
    from experio.errors import unknown_name
    from experio.train import training_examples_of

    if name == "agent":
        return training_examples_of
    if name == "judge":
        from experio.memory import judge_examples

        return judge_examples
    raise unknown_name("--examples", name, ("agent", "judge"))


def _f(x: Optional[float], digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


@app.command("export")
def export_command(
    run: Path = typer.Argument(..., help="A training run folder (runs/NAME, with adapter/) or a peft adapter folder."),
    base: Optional[str] = typer.Option(None, "--base", help="embedded, or the GGUF the adapter was trained on "
                                                            "(default: the run's base, else embedded)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where model-hf/ and model.gguf go (default: the run folder)."),
    gguf_type: str = typer.Option("q8_0", "--gguf-type", help="q8_0 or f16: the type of the tensors the adapter changes."),
    hf: bool = typer.Option(True, "--hf/--no-hf", help="Write the merged transformers folder model-hf/."),
) -> None:
    """Merge the LoRA adapter into the base: model-hf/ (hf backend) and model.gguf (llamacpp, llama_cpp.server)."""
    from experio.train import export

    result = export(run, base=base, out=out, gguf_type=gguf_type, hf=hf)
    if result.hf_dir:
        console.print(f"hf folder: {result.hf_dir}", soft_wrap=True, highlight=False)
    console.print(f"GGUF:      {result.gguf_path} ({len(result.changed)} tensors merged, as "
                  f"{result.gguf_type.upper()}; the others as in the base)", soft_wrap=True, highlight=False)
    console.print(f"run it:    experio generate --model {result.gguf_path} \"Once upon a time\"",
                  soft_wrap=True, highlight=False)


@app.command("grpo")
def grpo_command(
    out: Path = typer.Option(..., "--out", help="Run folder, e.g. runs/grpo."),
    task: str = typer.Option("addition", "--task", help="Verifiable task (experio.train.tasks): addition."),
    base: str = typer.Option("embedded", "--base", help="embedded, or a GGUF file / transformers model folder."),
    steps: int = typer.Option(60, "--steps", help="Optimizer steps."),
    prompts: int = typer.Option(4, "--prompts", help="Training prompts per step."),
    group: int = typer.Option(8, "--group", help="G: completions sampled per prompt (>= 2)."),
    max_new_tokens: int = typer.Option(4, "--max-new-tokens"),
    temperature: float = typer.Option(1.0, "--temperature", help="Sampling temperature of the rollouts."),
    lr: float = typer.Option(5e-5, "--lr", help="Learning rate (AdamW, constant)."),
    advantage: str = typer.Option("grpo", "--advantage", help="grpo (std-normalised), dr-grpo or rloo."),
    aggregation: str = typer.Option("token", "--aggregation", help="token or sequence mean."),
    n_eval: int = typer.Option(100, "--eval-problems", help="Held-out problems (disjoint from training)."),
    eval_every: int = typer.Option(10, "--eval-every", help="Held-out reward every K steps."),
    checkpoint_every: int = typer.Option(10, "--checkpoint-every"),
    seed: int = typer.Option(0, "--seed"),
    rollout_url: Optional[str] = typer.Option(None, "--rollout-url", help="Sample the rollouts on an "
                                              "OpenAI-compatible server (vLLM, SGLang, llama.cpp), e.g. "
                                              "http://127.0.0.1:8000/v1; the loss stays here."),
    rollout_model: str = typer.Option("default", "--rollout-model", help="The model name the server knows."),
    precision: str = PrecisionOption,
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint in --out."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """GRPO with LoRA on a verifiable task; the held-out reward every K steps, checkpoints, report."""
    from experio.train import grpo

    m = grpo(out=out, task=task, base=base, steps=steps, prompts_per_step=prompts, group=group,
             max_new_tokens=max_new_tokens, temperature=temperature, lr=lr, advantage=advantage,
             aggregation=aggregation, n_eval=n_eval, eval_every=eval_every, checkpoint_every=checkpoint_every,
             seed=seed, rollout_url=rollout_url, rollout_model=rollout_model, precision=precision, resume=resume,
             progress=not quiet)
    t = table("step", "held-out reward", title=f"GRPO on {task}")
    for e in m["eval"]:
        t.add_row(str(e["step"]), f"{e['reward']:.3f}")
    console.print(t)
    console.print(f"Run record: {out}/ (config.json, metrics.json, report.md, reward.png, adapter/, checkpoints/)")
