"""Peak memory of SFT steps on the embedded model, by micro-batch size, gradient checkpointing and precision.

Each setting runs in its own child process: load the embedded model (the hf backend) in the
precision, add LoRA r=16 on all linear layers, then forward + backward over `--rows` rows of
random tokens whose last 64 positions are labelled (the output layer runs only there, as in
`experio train sft`). The rows come in groups of 4 of one length (`--tokens`, or with
`--min-tokens` a random length in [min, tokens] per group, as length-grouped batches vary
step to step); a micro-batch size of 4 runs each group at once, 2 splits it in two, so every
setting sees the same tokens. Peak RSS is the process's high-water mark.

    python benchmarks/sft_memory.py                       # 4 x 1024 tokens, checkpointing on and off, fp32 and bf16
    python benchmarks/sft_memory.py --precision bf16 --checkpointing on --batch-sizes 4 2 \\
        --min-tokens 300 --rows 60                        # the micro-batch size, lengths varying as in a run

Target (issue 11): peak memory of SFT on the embedded model under 6 GB.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import sys
import time
from pathlib import Path
from queue import Empty

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
GROUP = 4  # rows of one length


def group_lengths(args) -> list[int]:
    rng = random.Random(0)
    return [rng.randint(args.min_tokens or args.tokens, args.tokens) for _ in range(args.rows // GROUP)]


def one_setting(setting: dict, args, queue) -> None:
    import torch

    from experio.train import labelled_loss, load_base, peak_rss_bytes, trainable

    model = trainable(load_base("embedded", setting["precision"]).model, lora=True,
                      checkpointing=setting["checkpointing"])
    b = setting["batch_size"]
    t0, tokens = time.perf_counter(), 0
    for i, length in enumerate(group_lengths(args)):
        ids = torch.randint(10, 10_000, (GROUP, length), generator=torch.Generator().manual_seed(i))
        labels = ids.clone()
        labels[:, : length - 64] = -100
        for start in range(0, GROUP, b):
            part, lab = ids[start:start + b], labels[start:start + b]
            loss, n = labelled_loss(model, part, torch.ones_like(part), lab)
            (loss / n).backward()
            tokens += part.numel()
    seconds = time.perf_counter() - t0
    queue.put({**setting, "peak_gb": peak_rss_bytes() / 1e9,
               "tokens_per_s": tokens / seconds, "seconds": seconds})


def result_of(process, queue, setting: dict) -> dict:
    """The child's result; exits with a message if the child dies without one."""
    while True:
        try:
            return queue.get(timeout=5)
        except Empty:
            if not process.is_alive():
                sys.exit(f"the child for {setting} failed (exit code {process.exitcode})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[4], choices=[1, 2, 4])
    ap.add_argument("--tokens", type=int, default=1024, help="tokens per row (the longest, with --min-tokens)")
    ap.add_argument("--min-tokens", type=int, default=None, help="a random length per group of 4 rows from here")
    ap.add_argument("--rows", type=int, default=8, help="rows in all (a multiple of 4)")
    ap.add_argument("--checkpointing", nargs="+", default=["on", "off"], choices=["on", "off"])
    ap.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    args = ap.parse_args()
    if args.rows % GROUP or args.rows < GROUP:
        sys.exit(f"--rows must be a positive multiple of {GROUP}, got {args.rows}")
    ctx = mp.get_context("spawn")
    results = []
    for precision in args.precision:
        for checkpointing in args.checkpointing:
            for batch_size in args.batch_sizes:
                queue = ctx.Queue()
                setting = {"precision": precision, "checkpointing": checkpointing == "on", "batch_size": batch_size}
                p = ctx.Process(target=one_setting, args=(setting, args, queue))
                p.start()
                results.append(result_of(p, queue, setting))
                p.join()
    lengths = f"{args.min_tokens}-{args.tokens}" if args.min_tokens else str(args.tokens)
    print(f"{args.rows} rows of {lengths} tokens (groups of {GROUP} of one length), LoRA r=16\n")
    print(f"{'precision':<10} {'checkpointing':<14} {'micro-batch':>11} {'peak RSS GB':>12} {'tokens/s':>9} {'seconds':>8}")
    for r in results:
        print(f"{r['precision']:<10} {'on' if r['checkpointing'] else 'off':<14} {r['batch_size']:>11} "
              f"{r['peak_gb']:>12.2f} {r['tokens_per_s']:>9.1f} {r['seconds']:>8.1f}")
    base = results[0]
    for r in results[1:]:
        print(f"vs the first row: memory {r['peak_gb'] / base['peak_gb']:.2f}x, tokens/s "
              f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}x ({r['precision']}, checkpointing "
              f"{'on' if r['checkpointing'] else 'off'}, micro-batch {r['batch_size']})")
    print("target: peak under 6 GB")


if __name__ == "__main__":
    main()
