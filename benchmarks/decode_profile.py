"""Where the time of RL sampling goes on a CPU: `sample_groups` on the embedded model, profiled.

The sampling of `experio rlp train`'s defaults (bf16 base under LoRA r = 16; 4 prefixes of 128
tokens of the builtin corpus, G = 4, 24 new tokens, temperature 0.7) timed two ways, alternated
in one process: with the LoRA adapters (as `experio rlp train` samples) and switched off (peft's
`disable_adapter`: the plain base, what merging the adapters into it for sampling could reach at
best; commit 4e150b7 tried that merge and measured no gain); and once under torch's profiler, whose
table (self time by operator and input shapes) shows what a decode step spends: the 262k-entry
output layer, the layers' matmuls, the sampler's passes over the logits.

    python benchmarks/decode_profile.py
    python benchmarks/decode_profile.py --tokens 8 --rows 20      # a shorter profile, more rows
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
    ap.add_argument("--prefixes", type=int, default=4, help="positions decoded together")
    ap.add_argument("--group", type=int, default=4, help="G: thoughts per position")
    ap.add_argument("--context", type=int, default=128, help="prefix tokens")
    ap.add_argument("--tokens", type=int, default=24, help="new tokens (the thought's length)")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per variant, alternated")
    ap.add_argument("--rows", type=int, default=15, help="rows of the profile table (0: no profile)")
    args = ap.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile

    from experio.rlp import load_corpus
    from experio.train import load_base, sample_groups, trainable

    llm = load_base("embedded", "bf16")
    torch.manual_seed(0)
    model = trainable(llm.model, lora=True, r=16, alpha=32, checkpointing=False)
    ids = llm.tokenizer(" ".join(d.text for d in load_corpus("builtin")[:3]))["input_ids"]
    prompts = [ids[i * args.context:(i + 1) * args.context] for i in range(args.prefixes)]

    with torch.no_grad():  # trained adapters are not zero: B starts at 0, so give it some weight
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.01)

    def sample() -> None:
        sample_groups(model, llm.tokenizer, prompts, args.group, max_new_tokens=args.tokens, temperature=0.7,
                      seeds=list(range(args.prefixes)), stop_ids=set())  # no stop: every row decodes every token

    def plain() -> None:
        with model.disable_adapter():
            sample()

    variants = {"LoRA adapters (as trained)": sample, "adapters off (the plain base)": plain}
    sample()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, run in variants.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    rows = args.prefixes * args.group
    print(f"{args.prefixes} prefixes of {args.context} tokens x G = {args.group} = {rows} rows, {args.tokens} new "
          f"tokens, bf16, {torch.get_num_threads()} threads; median of {args.repeats}\n")
    for name, ts in times.items():
        s = statistics.median(ts)
        print(f"{name:<32} median {s:5.2f} s, fastest {min(ts):5.2f} s   ({1000 * s / args.tokens:.0f} ms a token "
              "at the median, prefill included)")
    if not args.rows:
        return
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        sample()
    print(f"\nOne call under the profiler (1 prefill + {args.tokens - 1} decode forwards):")
    print(prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=args.rows,
                                                             max_name_column_width=36, max_shapes_column_width=48))


if __name__ == "__main__":
    main()
