"""LLM layer throughput on this machine (run on demand: `make bench` or python benchmarks/llm_throughput.py).

1. Generated tokens/s through experio's llamacpp backend vs direct `llama_cpp.Llama` calls on
   the same prompts and settings (baseline: direct calls; target: overhead at most 5 %).
2. JSON-schema constrained vs free generation on the same prompt.
3. `score` tokens/s, llamacpp vs hf.

Rounds alternate between the two sides (and which goes first) so that background load hits
both alike; the table reports medians over rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time

from experio.llm import embedded_model_path, load_llm

PROMPTS = [
    "Once upon a time, in a small village by the sea,",
    "The three most important ideas in physics are",
    "Instructions for making a cup of tea:\n1.",
    "Dear diary, today I learned that",
]
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 30},
        "age": {"type": "integer"},
        "hobbies": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 3},
    },
    "required": ["name", "age", "hobbies"],
}


def timed(fn):
    t = time.perf_counter()
    tokens = fn()
    return tokens, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--skip-hf", action="store_true")
    args = ap.parse_args()

    from llama_cpp import Llama

    llm = load_llm("llamacpp")
    direct = Llama(model_path=str(embedded_model_path()), n_ctx=llm.n_ctx, n_threads=llm.n_threads,
                   n_threads_batch=llm.n_threads, verbose=False)

    def run_experio():
        return sum(llm.generate(p, max_tokens=args.max_tokens, temperature=0)[0].completion_tokens for p in PROMPTS)

    def run_direct():
        return sum(direct.create_completion(p, max_tokens=args.max_tokens, temperature=0)["usage"]["completion_tokens"]
                   for p in PROMPTS)

    run_experio(), run_direct()  # warm-up
    rates = {"experio": [], "direct": []}
    sides = [("direct", run_direct), ("experio", run_experio)]
    for r in range(args.rounds):
        for name, fn in (sides if r % 2 == 0 else sides[::-1]):  # alternate who goes first
            n, dt = timed(fn)
            rates[name].append(n / dt)
    exp, base = statistics.median(rates["experio"]), statistics.median(rates["direct"])

    prompt = "A person described as JSON:\n"
    free, constrained = [], []
    for i in range(args.rounds):
        n, dt = timed(lambda: llm.generate(prompt, max_tokens=args.max_tokens, temperature=0.7, seed=i)[0].completion_tokens)
        free.append((dt, n))
        n, dt = timed(lambda: llm.generate(prompt, max_tokens=args.max_tokens, temperature=0.7, seed=i,
                                           json_schema=SCHEMA)[0].completion_tokens)
        constrained.append((dt, n))

    cont = " " + " ".join(["the quick brown fox jumps over the lazy dog"] * 20)
    n_cont = llm.count_tokens(cont)
    score_rates = {"llamacpp": statistics.median(n_cont / timed(lambda: llm.score("Story:", cont))[1] for _ in range(args.rounds))}
    if not args.skip_hf:
        hf = load_llm("hf")
        hf.score("Story:", cont)
        score_rates["hf"] = statistics.median(n_cont / timed(lambda: hf.score("Story:", cont))[1] for _ in range(args.rounds))

    print(f"\n## Generation ({len(PROMPTS)} prompts x {args.max_tokens} tokens, greedy, median of {args.rounds} rounds)")
    print("| path | tokens/s |\n|---|---|")
    print(f"| direct llama_cpp.Llama (baseline) | {base:.1f} |\n| experio llamacpp backend | {exp:.1f} |")
    print(f"overhead vs baseline: {100 * (base - exp) / base:+.1f} % (target <= 5 %)")

    f_dt = statistics.median(d for d, _ in free)
    c_dt = statistics.median(d for d, _ in constrained)
    f_tps = statistics.median(n / d for d, n in free)
    c_tps = statistics.median(n / d for d, n in constrained)
    print(f"\n## JSON schema constrained vs free (same prompt, median of {args.rounds})")
    print("| mode | s per call | tokens/s |\n|---|---|---|")
    print(f"| free | {f_dt:.2f} | {f_tps:.1f} |\n| constrained | {c_dt:.2f} | {c_tps:.1f} |")
    print(f"constrained/free time per token: {f_tps / c_tps:.2f}x")

    print(f"\n## score ({n_cont} continuation tokens, median of {args.rounds})")
    print("| backend | tokens/s |\n|---|---|")
    for k, v in score_rates.items():
        print(f"| {k} | {v:.0f} |")
    if "hf" in score_rates:
        print(f"llamacpp/hf: {score_rates['llamacpp'] / score_rates['hf']:.2f}x")


if __name__ == "__main__":
    main()
