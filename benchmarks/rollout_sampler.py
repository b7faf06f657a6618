"""The arithmetic of one decode step's sampling over the embedded model's 262k-entry vocabulary.

The rows' next-token logits (float32, made from bfloat16 as the decode makes them) become a
token per row and its log-probability at temperature 1 (`old_logp`, for the ratio):

- torch: `softmax(logits / T)` -> `torch.multinomial` (the baseline: what one writes first), and
  `logsumexp` for the log-probability;
- float64 inverse CDF: `softmax(logits / T)`, its cumulative sum in float64 and one uniform per
  row, and `logsumexp` (experio's sampler until December 2026);
- experio: `experio.train.rollout._next_token` (one shifted copy, one float32 inverse CDF).

Both in the same run, on the same logits, alternated; the model's forward is not included
(`benchmarks/rlp_step.py` measures whole steps).

    python benchmarks/rollout_sampler.py                  # 16 rows (4 positions x G = 4), T = 0.7
    python benchmarks/rollout_sampler.py --rows 64 --temperature 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=16, help="rows decoded together (positions x G)")
    ap.add_argument("--group", type=int, default=4, help="rows per generator (G)")
    ap.add_argument("--vocab", type=int, default=262144)
    ap.add_argument("--temperature", type=float, default=0.7, help="experio rlp train's default")
    ap.add_argument("--repeats", type=int, default=30, help="timed calls per round (3 rounds, alternated)")
    args = ap.parse_args()

    import torch

    from experio.train.rollout import _next_token

    torch.manual_seed(0)
    logits = (torch.randn(args.rows, args.vocab) * 3).to(torch.bfloat16).float()
    gens = [torch.Generator().manual_seed(i) for i in range(args.rows // args.group)]

    def baseline():
        nxt = torch.multinomial(torch.softmax(logits / args.temperature, dim=-1), 1)[:, 0]
        return nxt, logits.gather(1, nxt[:, None])[:, 0] - torch.logsumexp(logits, dim=-1)

    def float64_cdf():
        probs = torch.softmax(logits / args.temperature, dim=-1)
        u = torch.cat([torch.rand(args.group, 1, generator=gen, dtype=torch.float64) for gen in gens])
        cdf = probs.double().cumsum(dim=-1)
        nxt = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)[:, 0].clamp_max(args.vocab - 1)
        return nxt, logits.gather(1, nxt[:, None])[:, 0] - torch.logsumexp(logits, dim=-1)

    variants = {"torch (softmax + multinomial)": baseline, "float64 inverse CDF": float64_cdf,
                "experio _next_token": lambda: _next_token(logits, args.temperature, gens, args.group)}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(3):
        for name, run in variants.items():
            run()  # warm-up
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                run()
            times[name].append((time.perf_counter() - t0) / args.repeats * 1000)
    print(f"{args.rows} rows x {args.vocab} entries, T = {args.temperature:g}, {torch.get_num_threads()} threads; "
          f"median of 3 rounds of {args.repeats} calls\n")
    base = statistics.median(times["torch (softmax + multinomial)"])
    print(f"{'variant':<32} {'ms / step':>10} {'x torch':>8}")
    for name, ts in times.items():
        print(f"{name:<32} {statistics.median(ts):>10.1f} {statistics.median(ts) / base:>8.2f}")


if __name__ == "__main__":
    main()
