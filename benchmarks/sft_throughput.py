"""SFT throughput: experio's `sft` vs a plain TRL `SFTTrainer`, same data, model, LoRA, batches, steps.

Both train the embedded model (the hf backend's, fp32) with LoRA r=16, alpha=32, dropout 0 on
all linear layers, AdamW at the same learning rate, the same micro-batch size and gradient
accumulation, for the same number of optimizer steps, on the same (prompt, completion)
examples: experio's rendering of the ADP files given (`experio.agent.training_examples`, the
hf backend's `render`), fed to TRL as a prompt-completion dataset (loss on the completion
only, TRL's default for such data). Tokens/s = input tokens of the steps (prompt +
completion, no padding) / the summed wall time of the optimizer steps (forward, backward,
optimizer; TRL's timed by a callback from step begin to step end). Both use gradient checkpointing and
compute in the same precision, each `--precision` given (default both): fp32, or bf16 (experio's
`--precision bf16`, the frozen base in bfloat16 under fp32 LoRA; TRL on the same bf16 base with
`bf16=True`). Each trainer runs in its own child process, one after the other.

    python benchmarks/sft_throughput.py runs/expert-ql2/trajectories.jsonl --steps 6
    python benchmarks/sft_throughput.py runs/expert-ql2/trajectories.jsonl --precision bf16

Target (issue 11): experio at least 1.5x TRL's tokens/s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import queue as queue_module
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def examples(data: list[str], limit: int) -> list[dict]:
    from experio.runs import RejectsFile
    from experio.train import load_base, read_examples

    llm = load_base("embedded")
    rejects = RejectsFile(Path(tempfile.mkdtemp()) / "x")
    pairs = read_examples(data, rejects)
    rejects.abort()
    return [{"prompt": llm.render(ex.prompt)[0], "completion": ex.completion, "id": tid} for tid, ex in pairs][:limit]


def run_experio(data: list[str], args, precision: str, queue) -> None:
    from experio.train import sft

    out = Path(tempfile.mkdtemp()) / "sft"
    r = sft(data, out=out, lr=args.lr, batch_size=args.batch_size, grad_accum=args.grad_accum, stop_after=args.steps,
            eval_fraction=0.0, checkpoint_every=10**6, progress=False, max_len=args.max_len, precision=precision)
    m = r.metrics
    queue.put({"trainer": f"experio sft {precision}", "steps": m["steps"], "tokens": m["tokens"], "seconds": m["train_seconds"],
               "peak_rss_gb": m["peak_rss_bytes"] / 1e9, "last_loss": m["last_train_loss"]})


def run_trl(rows: list[dict], args, precision: str, queue) -> None:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from experio.train import load_base
    from experio.train.report import peak_rss_bytes

    llm = load_base("embedded", precision)
    timer = {"seconds": 0.0, "t0": 0.0, "tokens": 0}

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *a, **k):
            timer["t0"] = time.perf_counter()

        def on_step_end(self, *a, **k):
            timer["seconds"] += time.perf_counter() - timer["t0"]

    config = SFTConfig(output_dir=tempfile.mkdtemp(), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
                       gradient_accumulation_steps=args.grad_accum, learning_rate=args.lr, lr_scheduler_type="cosine",
                       warmup_steps=int(0.05 * args.steps), logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
                       max_length=args.max_len, completion_only_loss=True, dataloader_num_workers=0, seed=0,
                       gradient_checkpointing=True, bf16=precision == "bf16")  # checkpointing, as experio's
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])
    trainer = SFTTrainer(model=llm.model, args=config, train_dataset=dataset, processing_class=llm.tokenizer,
                         peft_config=lora, callbacks=[StepTimer()])
    lengths = [len(x) for x in trainer.train_dataset["input_ids"]]
    out = trainer.train()
    used = args.steps * args.batch_size * args.grad_accum
    tokens = sum(lengths[i % len(lengths)] for i in range(used))  # the steps' examples (one epoch or its start)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    queue.put({"trainer": f"TRL SFTTrainer {precision}", "steps": out.global_step, "tokens": tokens, "seconds": timer["seconds"],
               "peak_rss_gb": peak_rss_bytes() / 1e9, "last_loss": losses[-1] if losses else None})


def child(target, *a):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    p = ctx.Process(target=target, args=(*a, queue))
    p.start()
    while True:  # a child that crashed puts nothing: stop with its exit code instead of waiting forever
        try:
            result = queue.get(timeout=5)
            break
        except queue_module.Empty:
            if not p.is_alive():
                sys.exit(f"{target.__name__} failed (exit code {p.exitcode}); its traceback is above")
    p.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", nargs="+", help="ADP files (e.g. an expert run's trajectories.jsonl)")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=2, help="experio train sft's default")
    ap.add_argument("--grad-accum", type=int, default=4, help="experio train sft's default")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--max-len", type=int, default=1024)
    ap.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    args = ap.parse_args()
    n = args.steps * args.batch_size * args.grad_accum
    rows = examples(args.data, limit=10**9)
    if len(rows) < n:
        sys.exit(f"the data gives {len(rows)} examples; {args.steps} steps of {args.batch_size}x{args.grad_accum} "
                 f"need {n}: pass more data or fewer --steps")
    results = [r for p in args.precision for r in (child(run_experio, args.data, args, p), child(run_trl, rows, args, p))]
    print(f"{len(rows)} examples; {args.steps} steps of {args.batch_size} x {args.grad_accum} examples; LoRA r=16\n")
    print(f"{'trainer':<22} {'steps':>5} {'tokens':>8} {'seconds':>8} {'tokens/s':>9} {'peak RSS GB':>11} {'last loss':>9}")
    for r in results:
        r["tps"] = r["tokens"] / r["seconds"]
        print(f"{r['trainer']:<22} {r['steps']:>5} {r['tokens']:>8} {r['seconds']:>8.1f} {r['tps']:>9.1f} "
              f"{r['peak_rss_gb']:>11.2f} {r['last_loss']:>9.4f}")
    for p, (ours, trl) in zip(args.precision, zip(results[::2], results[1::2])):
        print(f"\n{p}: ratio experio / TRL tokens/s: {ours['tps'] / trl['tps']:.2f} (target >= 1.5)", end="")
    print()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
