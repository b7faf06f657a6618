"""Memory of bf16 training steps whose sequence length changes every step, by oneDNN primitive-cache capacity.

In bfloat16, oneDNN keeps a primitive (with its buffers) for every matmul shape it has seen, up
to `ONEDNN_PRIMITIVE_CACHE_CAPACITY` (1024 by default); a training run with a new sequence
length every batch then grows all run long. `experio.train.to_precision` caps it at
`ONEDNN_CACHE` unless the user set it. Each capacity runs in its own process: the embedded model
in bf16 with LoRA r=16 and gradient checkpointing, `--steps` forward + backward passes of 2 rows
of a random length in [150, 700] with the last 20-60 positions labelled (the same lengths for
every capacity), RSS and peak RSS every 5 steps, then the time of all steps.

    python benchmarks/onednn_cache.py                   # capacities: oneDNN's default, 32, 0
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_capacity(steps: int) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    import torch

    from experio.train import labelled_loss, load_base, peak_rss_bytes, trainable

    model = trainable(load_base("embedded", "bf16").model, lora=True, checkpointing=True)
    rss = lambda: int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9  # noqa: E731
    rng = random.Random(0)
    t0 = time.perf_counter()
    for i in range(steps):
        length, labelled = rng.randint(150, 700), rng.randint(20, 60)
        ids = torch.randint(10, 10_000, (2, length), generator=torch.Generator().manual_seed(i))
        labels = ids.clone()
        labels[:, :length - labelled] = -100
        loss, n = labelled_loss(model, ids, torch.ones_like(ids), labels)
        (loss / n).backward()
        if i % 5 == 4:
            print(f"  step {i + 1:>3}: RSS {rss():.2f} GB, peak {peak_rss_bytes() / 1e9:.2f} GB",
                  flush=True)
    print(f"  {steps} steps in {time.perf_counter() - t0:.1f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--capacities", nargs="+", default=["default", "32", "0"])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        one_capacity(args.steps)
        return
    for capacity in args.capacities:
        env = dict(os.environ)
        env.pop("ONEDNN_PRIMITIVE_CACHE_CAPACITY", None)
        if capacity != "default":
            env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = capacity
        else:  # oneDNN's own default: keep experio's cap from applying
            env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = "1024"
        print(f"capacity {capacity}:", flush=True)
        subprocess.run([sys.executable, __file__, "--child", "--steps", str(args.steps)], env=env, check=True)


if __name__ == "__main__":
    main()
