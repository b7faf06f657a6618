"""Copy a trained LoRA adapter into the package as the embedded agent's (weights in float16).

    python scripts/ship_agent_adapter.py runs/agent-sft      (scripts/train_agent.sh's "ship" phase)

Writes src/experio/train/agent_adapter/: adapter_config.json (the base named by its model name,
not this machine's cache path), adapter_model.safetensors (float16: half the size; the merged
model is re-quantised to Q8_0 anyway) and README.md (where it came from: the run's settings,
data summary, losses and the evaluation table when the report exists).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DEST = ROOT / "src" / "experio" / "train" / "agent_adapter"


def main(run: Path) -> None:
    from safetensors.torch import load_file, save_file

    from experio.train.export import base_name

    adapter = run / "sft" / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = base_name(config.get("base_model_name_or_path") or "gemma-3-270m-q4_k_m")
    if isinstance(config.get("target_modules"), list):  # peft writes a set's order: sorted, so a reship diffs clean
        config["target_modules"] = sorted(config["target_modules"])
    weights = {k: v.half().contiguous() for k, v in load_file(str(adapter / "adapter_model.safetensors")).items()}
    DEST.mkdir(parents=True, exist_ok=True)
    (DEST / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    save_file(weights, str(DEST / "adapter_model.safetensors"), metadata={"format": "pt"})
    (DEST / "README.md").write_text(readme(run))
    print(f"{DEST}: {sum(p.stat().st_size for p in DEST.iterdir()) / 1e6:.1f} MB")


def readme(run: Path) -> str:
    sft = json.loads((run / "sft" / "config.json").read_text())["sft"]
    metrics = json.loads((run / "sft" / "metrics.json").read_text())
    keep = ("lora", "r", "alpha", "dropout", "lr", "epochs", "max_len", "batch_size", "grad_accum", "schedule",
            "warmup", "seed", "precision", "gradient_checkpointing")
    lines = ["# The embedded agent's LoRA adapter", "",
             "experio's own training output: `scripts/train_agent.sh` (expert TextWorld trajectories from",
             "`experio agent expert` -> `experio train sft` on the embedded Gemma 3 270M), copied here by",
             "`scripts/ship_agent_adapter.py` with its weights in float16. `experio.train.agent_model`",
             "merges it into the base at install time. Rerun the script to regenerate it.", "",
             "## Training", "",
             *[f"- {k}: {sft[k]}" for k in keep if k in sft],
             f"- data: {', '.join(Path(d).parent.name for d in sft['data'])} "
             f"(digest {sft['data_summary']['data_digest']}; {sft['data_summary']['train_examples']} train / "
             f"{sft['data_summary']['eval_examples']} eval examples)",
             f"- steps: {metrics.get('steps')}, tokens: {metrics.get('tokens')}, "
             f"train loss {metrics.get('first_train_loss'):.3f} -> {metrics.get('last_train_loss'):.3f}, "
             f"eval loss {metrics.get('first_eval_loss'):.3f} -> {metrics.get('last_eval_loss'):.3f}", ""]
    report = run / "report.md"
    if report.is_file():
        lines += ["## Evaluation (held-out seeds)", "", report.read_text().strip(), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/agent-sft"))
