"""Peak memory of one SFT step on the embedded model: gradient checkpointing on (the default) vs off.

Each setting runs in its own child process, in each `--precision` given (default fp32 and bf16:
the frozen base in bfloat16 under fp32 LoRA): load the embedded model (the hf backend), add
LoRA r=16 on all linear layers, then forward + backward of `--steps` micro-batches of
`--batch-size` x `--tokens` random tokens whose last 64 positions are labelled (the output
layer runs only there, as in `experio train sft`). Peak RSS is the process's high-water mark.

    python benchmarks/sft_memory.py                  # batch 4 x 1024 tokens: experio train sft's defaults

Target (issue 11): peak memory of SFT on the embedded model under 6 GB.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def one_setting(checkpointing: bool, precision: str, args, queue) -> None:
    import torch

    from experio.train import labelled_loss, load_base, trainable

    model = trainable(load_base("embedded", precision).model, lora=True, checkpointing=checkpointing)
    torch.manual_seed(0)
    ids = torch.randint(10, 10_000, (args.batch_size, args.tokens))
    labels = ids.clone()
    labels[:, : args.tokens - 64] = -100
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss, n = labelled_loss(model, ids, torch.ones_like(ids), labels)
        (loss / n).backward()
    seconds = (time.perf_counter() - t0) / args.steps
    queue.put({"checkpointing": checkpointing, "precision": precision, "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
               "seconds": seconds})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    results = []
    for precision in args.precision:
        for checkpointing in (True, False):
            queue = ctx.Queue()
            p = ctx.Process(target=one_setting, args=(checkpointing, precision, args, queue))
            p.start()
            results.append(queue.get())
            p.join()
    print(f"one micro-batch of {args.batch_size} x {args.tokens} tokens, LoRA r=16\n")
    print(f"{'precision':<10} {'gradient checkpointing':<24} {'peak RSS GB':>11} {'s / micro-batch':>16}")
    for r in results:
        print(f"{r['precision']:<10} {'on (default)' if r['checkpointing'] else 'off':<24} {r['peak_gb']:>11.2f} "
              f"{r['seconds']:>16.1f}")
    for on, off in zip(results[::2], results[1::2]):
        print(f"{on['precision']}: ratio on / off: memory {on['peak_gb'] / off['peak_gb']:.2f}, time "
              f"{on['seconds'] / off['seconds']:.2f} (target: peak under 6 GB)")


if __name__ == "__main__":
    main()
