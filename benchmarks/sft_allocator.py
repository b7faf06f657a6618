"""Peak memory and time of bf16 SFT steps of varying length under glibc allocator settings.

Each setting runs in its own process: the embedded model in bf16 with LoRA r=16 and gradient
checkpointing, `--steps` forward + backward passes of `--rows` rows of one random length in
[`--min-tokens`, `--tokens`] per step (the same lengths for every setting; the last 20-60
positions labelled). Settings: glibc's default; `malloc_trim(0)` after every step; a fixed
`M_MMAP_THRESHOLD` of 8 MiB (larger blocks get their own mapping, returned to the system when
freed). It prints peak RSS and seconds, and each against the default.

    python benchmarks/sft_allocator.py                    # 15 steps of 4 rows of 300-1024 tokens

What it answers (issue 11): how much of a run's peak memory is heap fragmentation, and what
removing it costs. Linux with glibc only.
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
SETTINGS = ("default", "trim", "mmap8")
M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)


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
    seconds = time.perf_counter() - t0
    print(f"RESULT {peak_rss_bytes() / 1e9:.3f} {seconds:.1f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=1024)
    ap.add_argument("--min-tokens", type=int, default=300)
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    ap.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        one_setting(args.child, args)
        return
    results = {}
    for setting in args.settings:
        cmd = [sys.executable, __file__, "--child", setting, "--steps", str(args.steps), "--rows", str(args.rows),
               "--tokens", str(args.tokens), "--min-tokens", str(args.min_tokens)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if out.returncode or line is None:
            sys.exit(f"setting {setting} failed (exit code {out.returncode}):\n{out.stderr[-2000:]}")
        peak, seconds = map(float, line.split()[1:])
        results[setting] = (peak, seconds)
    print(f"{args.steps} steps of {args.rows} rows of {args.min_tokens}-{args.tokens} tokens, bf16, LoRA r=16, "
          "gradient checkpointing\n")
    print(f"{'allocator':<10} {'peak RSS GB':>12} {'seconds':>8} {'memory x':>9} {'time x':>7}")
    base = results.get("default")
    for setting, (peak, seconds) in results.items():
        ratios = f"{peak / base[0]:>9.2f} {seconds / base[1]:>7.2f}" if base else ""
        print(f"{setting:<10} {peak:>12.2f} {seconds:>8.1f} {ratios}")


if __name__ == "__main__":
    main()
