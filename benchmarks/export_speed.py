"""Generation speed of an exported GGUF vs the base GGUF (run on demand: python benchmarks/export_speed.py).

Baseline: the embedded Gemma 3 270M (Q4_K_M). Target (issue 11): the exported model generates
at least 0.8x the base's tokens/s on the same prompts and settings.

    python benchmarks/export_speed.py --model runs/tuned/model.gguf
    python benchmarks/export_speed.py                  # exports a random LoRA (r=16, all linear
                                                       # layers, as `train sft` trains) first
    python benchmarks/export_speed.py --gguf-type f16

Greedy decoding with a fixed token budget and no stop strings, so both sides generate about as
many tokens; tokens/s counts the completion tokens over the whole call (prompt evaluation
included). Rounds alternate which model goes first; the table reports medians over rounds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from experio.llm import embedded_model_path, load_llm

PROMPTS = [
    "Once upon a time, in a small village by the sea,",
    "You are in a kitchen. There is a fridge and a table.\n> open fridge\n",
    "Instructions for making a cup of tea:\n1.",
    "Dear diary, today I learned that",
]


def random_export(gguf_type: str, folder: Path) -> Path:
    """Export a LoRA adapter with random non-zero weights (the shape of a `train sft` adapter)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from experio.train import export

    model = get_peft_model(load_llm("hf").model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    gen = torch.Generator().manual_seed(0)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.data = torch.randn(p.shape, generator=gen) * 0.01
    model.save_pretrained(folder / "adapter")
    return export(folder / "adapter", out=folder, gguf_type=gguf_type, hf=False).gguf_path


def tokens_per_s(llm, max_tokens: int) -> float:
    tokens, seconds = 0, 0.0
    for prompt in PROMPTS:
        t = time.perf_counter()
        c = llm.generate(prompt, max_tokens=max_tokens, temperature=0)[0]
        seconds += time.perf_counter() - t
        tokens += c.completion_tokens
    return tokens / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="an exported GGUF (default: export a random LoRA first)")
    ap.add_argument("--gguf-type", default="q8_0", choices=["q8_0", "f16"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory()
    model = args.model or random_export(args.gguf_type, Path(tmp.name))
    sides = {"base": load_llm("llamacpp"), "exported": load_llm("llamacpp", model=str(model))}
    for llm in sides.values():  # warm up: first calls pay for allocation
        llm.generate(PROMPTS[0], max_tokens=8, temperature=0)
    rates: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(args.rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for name in order:
            rates[name].append(tokens_per_s(sides[name], args.max_tokens))
    base, exported = (statistics.median(rates[n]) for n in ("base", "exported"))
    print(f"{'model':10s} {'file':60s} {'MiB':>7s} {'tokens/s':>9s}")
    for name, path, rate in (("base", embedded_model_path(), base), ("exported", model, exported)):
        print(f"{name:10s} {str(path)[-60:]:60s} {Path(path).stat().st_size / 2**20:7.1f} {rate:9.1f}")
    print(f"ratio exported/base: {exported / base:.2f} (target >= 0.80; {args.rounds} rounds, medians, "
          f"{len(PROMPTS)} prompts x {args.max_tokens} tokens)")


if __name__ == "__main__":
    main()
