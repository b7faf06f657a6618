"""Cost of one RLP step against one SFT step on the same documents and model, with and without prefix reuse.

All three run in one process on the embedded model with LoRA r=16 (CPU), on the same
`--docs` positions of the builtin corpus (drawn by `experio.rlp.run.step_positions`):

- SFT: next-token loss over each position's window (bos + x_<t + x_t), the windows as one batch,
  forward + backward + AdamW;
- RLP, prefix reused: `experio.rlp.run.train_step` as `experio rlp train` runs it (the shared
  prefix once for the G thoughts, in sampling and in the training forward);
- RLP, no reuse: the same step with the prefix run G times (`--no-share-prefix`).

Each variant starts from the same LoRA weights, optimizer state and EMA teacher, so both RLP
variants sample the same thoughts and differ only in how the prefix is computed. All three run
in each `--precision` given (default: fp32 and bf16, the frozen base in bfloat16 under fp32 LoRA,
which `--precision auto` picks on a CPU with AVX512-BF16); each ratio is against the SFT step in
the same precision. An RLP row also shows where its time went: the teacher's pass, sampling the
thoughts, the update (the forward with gradient, backward, optimizer and EMA steps).

    python benchmarks/rlp_step.py                      # experio rlp train's defaults, fp32 and bf16
    python benchmarks/rlp_step.py --context 512 --thought-tokens 16 --precision bf16

Target (issue 12): an RLP step at most 2.0x an SFT step (the paper reports about 2.25x).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def sft_step(model, opt, marks, positions) -> None:
    import torch

    from experio.train import labelled_loss

    opt.zero_grad(set_to_none=True)
    rows = [[*marks.bos, *pos.context, *pos.target] for pos, _ in positions]  # one batch, right-padded
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, 0] = -100
    loss, n = labelled_loss(model, ids, mask, labels)
    (loss / n).backward()
    opt.step()


def measure(args, precision: str) -> dict[str, float]:
    """Median seconds per step of each variant, the model loaded in `precision`."""
    import torch

    from experio.rlp import Markers, RLPConfig, load_corpus, tokenize_documents
    from experio.rlp.run import step_positions, train_step
    from experio.train import EMA, load_base, trainable

    llm = load_base("embedded", precision)
    cfg = RLPConfig(out="-", docs_per_step=args.docs, group=args.group, thought_tokens=args.thought_tokens,
                    context=args.context)
    docs = tokenize_documents(llm.tokenizer, load_corpus("builtin")[:40], cfg.context)
    torch.manual_seed(0)
    model = trainable(llm.model, lora=True, r=cfg.r, alpha=cfg.alpha, checkpointing=False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    marks, state = Markers.of(llm.tokenizer), {"ema": EMA(cfg.tau)}
    start = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    opt_start = copy.deepcopy(opt.state_dict())

    def reset() -> None:  # every variant starts from the same weights, optimizer and teacher: the same thoughts
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in start:
                    p.copy_(start[n])
        opt.load_state_dict(copy.deepcopy(opt_start))
        state["ema"] = EMA(cfg.tau)

    def rlp(share: bool):
        def run(step: int) -> None:
            cfg.share_prefix = share
            return train_step(model, llm.tokenizer, opt, state["ema"], marks, docs, step, cfg)
        return run

    variants = {"SFT (next-token loss)": lambda step: sft_step(model, opt, marks, step_positions(docs, step, cfg)),
                "RLP, prefix reused": rlp(True), "RLP, no reuse": rlp(False)}
    seconds, parts = {}, {}
    for name, run in variants.items():
        reset()
        run(0)  # warm-up
        times, records = [], []
        for step in range(1, args.steps + 1):
            t0 = time.perf_counter()
            records.append(run(step))
            times.append(time.perf_counter() - t0)
        seconds[name] = statistics.median(times)
        if records[0]:  # an RLP step's record: where its time went
            parts[name] = {k: statistics.median(r[f"{k}_seconds"] for r in records) for k in ("teacher", "sample", "update")}
    return seconds, parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=4, help="positions a step (one per document)")
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--thought-tokens", type=int, default=24)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per variant (after one warm-up step)")
    ap.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    args = ap.parse_args()

    import torch

    print(f"{args.docs} positions a step, G = {args.group}, thoughts up to {args.thought_tokens} tokens, context "
          f"{args.context} tokens; median of {args.steps} steps, {torch.get_num_threads()} threads\n")
    print(f"{'precision':<10} {'step':<24} {'s / step':>9} {'x SFT':>7}")
    verdicts = []
    for precision in args.precision:
        seconds, parts = measure(args, precision)
        sft = seconds["SFT (next-token loss)"]
        for name, s in seconds.items():
            where = parts.get(name)
            split = f"   (teacher {where['teacher']:.2f}, sampling {where['sample']:.2f}, update {where['update']:.2f})" if where else ""
            print(f"{precision:<10} {name:<24} {s:>9.2f} {s / sft:>7.2f}{split}", flush=True)
        reused = seconds["RLP, prefix reused"]
        verdicts.append(f"{precision}: reuse saves {1 - reused / seconds['RLP, no reuse']:.0%} of an RLP step; "
                        f"RLP {reused / sft:.2f}x SFT, target <= 2.0x {'met' if reused <= 2.0 * sft else 'not met'}")
    print("\n" + "\n".join(verdicts))


if __name__ == "__main__":
    main()
