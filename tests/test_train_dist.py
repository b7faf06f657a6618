"""Two CPU processes (torchrun, gloo) take the same optimizer steps as one process.

A tiny randomly initialised Gemma 3 (the embedded model's tokenizer; conftest's `tiny_base`) keeps it to
seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from experio.adp import MessageAction, TextObservation, Trajectory, to_wire

pytestmark = pytest.mark.model


def run_cli(cmd, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]


def test_two_gloo_processes_take_the_steps_of_one(tiny_base, tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(to_wire(Trajectory(id=f"t{i}", content=[
        TextObservation(source="user", content=f"Count to {i}."),
        MessageAction(content=" ".join(str(k) for k in range(i + 1)))]))) + "\n" for i in range(8)))
    args = ["train", "sft", str(data), "--base", str(tiny_base), "--batch-size", "1", "--grad-accum", "2",
            "--eval-fraction", "0.25", "--lr", "1e-2", "--quiet"]
    run_cli([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "experio.cli", *args,
          "--out", str(tmp_path / "two")], tmp_path)
    run_cli([sys.executable, "-m", "experio.cli", *args, "--out", str(tmp_path / "one")], tmp_path)
    two, one = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("two", "one"))
    assert two["processes"] == 2 and one["processes"] == 1
    assert two["steps"] == one["steps"] == 3
    assert [s["loss"] for s in two["train"]] == pytest.approx([s["loss"] for s in one["train"]], rel=1e-4)
    assert [s["loss"] for s in two["eval"]] == pytest.approx([s["loss"] for s in one["eval"]], rel=1e-4)
    assert two["train"][-1]["loss"] != two["train"][0]["loss"]
