"""Peak memory and time of bf16 SFT steps of changing length, by oneDNN cache and glibc allocator setting.

Each setting runs in its own process: the embedded model in bf16 with LoRA r=16 and gradient
checkpointing, `--steps` forward + backward passes of `--rows` rows of one random length in
[`--min-tokens`, `--tokens`] per step (the same lengths for every setting; the last 20-60
positions labelled), as length-grouped batches change length step to step. Settings:

- `experio`: what `experio train` does (oneDNN's primitive cache capped at
  `experio.train.model.ONEDNN_CACHE` by `to_precision`; glibc's default allocator); the baseline.
- `onednn-default`: oneDNN's own capacity (1024 primitives, each with its buffers, one per matmul
  shape seen).
- `onednn-0`: no primitive cache.
- `trim`: `malloc_trim(0)` after every step.
- `mmap8`: a fixed 8 MiB `M_MMAP_THRESHOLD` (larger blocks get their own mapping, returned to the
  system when freed).

It prints peak RSS, RSS after the last step and seconds, each against `experio`; `--every N`
also prints RSS every N steps (memory that grows all run long shows there).

    python benchmarks/sft_step_memory.py                 # 15 steps of 4 rows of 300-1024 tokens
    python benchmarks/sft_step_memory.py --steps 40 --rows 2 --min-tokens 150 --tokens 700 \\
        --settings onednn-default experio onednn-0 --every 5

What it answers (issue 11): how much of a run's peak memory is cached primitives and heap
fragmentation rather than live tensors, and what removing each costs. Linux with glibc only.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ("experio", "onednn-default", "onednn-0", "trim", "mmap8")
ONEDNN_CAPACITY = {"onednn-default": "1024", "onednn-0": "0"}
M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)


def rss_bytes() -> int:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def one_setting(setting: str, args) -> None:
    libc = ctypes.CDLL("libc.so.6")
    if setting == "mmap8":
        libc.mallopt(M_MMAP_THRESHOLD, 8 << 20)
    sys.path.insert(0, str(ROOT / "src"))
    import torch

    from experio.train import labelled_loss, load_base, peak_rss_bytes, trainable

    model = trainable(load_base("embedded", "bf16").model, lora=True, checkpointing=True)
    rng = random.Random(0)
    t0 = time.perf_counter()
    for i in range(args.steps):
        length, labelled = rng.randint(args.min_tokens, args.tokens), rng.randint(20, 60)
        ids = torch.randint(10, 10_000, (args.rows, length), generator=torch.Generator().manual_seed(i))
        labels = ids.clone()
        labels[:, :length - labelled] = -100
        loss, n = labelled_loss(model, ids, torch.ones_like(ids), labels)
        (loss / n).backward()
        if setting == "trim":
            libc.malloc_trim(0)
        if args.every and (i + 1) % args.every == 0:
            print(f"  {setting} step {i + 1:>3}: RSS {rss_bytes() / 1e9:.2f} GB, "
                  f"peak {peak_rss_bytes() / 1e9:.2f} GB", flush=True)
    seconds = time.perf_counter() - t0
    print(f"RESULT {peak_rss_bytes() / 1e9:.3f} {rss_bytes() / 1e9:.3f} {seconds:.1f}", flush=True)


def run_child(setting: str, args) -> tuple[float, float, float]:
    env = dict(os.environ)
    env.pop("ONEDNN_PRIMITIVE_CACHE_CAPACITY", None)  # `experio`: to_precision sets its cap
    if setting in ONEDNN_CAPACITY:
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = ONEDNN_CAPACITY[setting]
    cmd = [sys.executable, __file__, "--child", setting, "--steps", str(args.steps), "--rows", str(args.rows),
           "--tokens", str(args.tokens), "--min-tokens", str(args.min_tokens), "--every", str(args.every)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    result = None
    for line in proc.stdout:
        if line.startswith("RESULT "):
            result = tuple(map(float, line.split()[1:]))
        else:
            print(line, end="", flush=True)
    err = proc.stderr.read()
    if proc.wait() or result is None:
        sys.exit(f"setting {setting} failed (exit code {proc.returncode}):\n{err[-2000:]}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=1024)
    ap.add_argument("--min-tokens", type=int, default=300)
    ap.add_argument("--settings", nargs="+", default=["experio", "trim", "mmap8"], choices=SETTINGS)
    ap.add_argument("--every", type=int, default=0, help="print RSS every N steps (0: only at the end)")
    ap.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        one_setting(args.child, args)
        return
    results = {setting: run_child(setting, args) for setting in args.settings}
    print(f"\n{args.steps} steps of {args.rows} rows of {args.min_tokens}-{args.tokens} tokens, bf16, "
          "LoRA r=16, gradient checkpointing\n")
    print(f"{'setting':<15} {'peak RSS GB':>12} {'last RSS GB':>12} {'seconds':>8} {'peak x':>7} {'time x':>7}")
    base = results.get("experio")
    for setting, (peak, last, seconds) in results.items():
        ratios = f"{peak / base[0]:>7.2f} {seconds / base[2]:>7.2f}" if base else ""
        print(f"{setting:<15} {peak:>12.2f} {last:>12.2f} {seconds:>8.1f} {ratios}")


if __name__ == "__main__":
    main()
