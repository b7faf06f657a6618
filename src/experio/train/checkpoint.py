"""Checkpoints of a training run (SFT, GRPO, RLP): `checkpoints/step-N/`, the last `KEEP` kept.

    step-N/
      adapter/          the LoRA adapter so far (peft save_pretrained), or
      model.safetensors the trainable weights so far (full fine-tuning)
      optimizer.pt      AdamW state        scheduler.pt   learning-rate schedule
      rng.pt            torch / python / numpy random states
      state.json        step, settings fingerprint, data position, metrics so far
      NAME.pt           a method's own state, if any (RLP: ema.pt, the EMA teacher)

A checkpoint is written under `step-N.tmp` and renamed when complete, so a killed run leaves
either the whole checkpoint or none; `--resume` loads the newest complete one.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

from experio.runs import read_json, write_json

KEEP = 2
_STEP = re.compile(r"^step-(\d+)$")


def checkpoints(out: str | os.PathLike) -> list[tuple[int, Path]]:
    """(step, folder) of every complete checkpoint of a run, oldest first."""
    root = Path(out) / "checkpoints"
    found = []
    for d in root.glob("step-*") if root.is_dir() else ():
        m = _STEP.match(d.name)
        if m and (d / "state.json").is_file():
            found.append((int(m.group(1)), d))
    return sorted(found)


def latest(out: str | os.PathLike) -> Path | None:
    found = checkpoints(out)
    return found[-1][1] if found else None


def save(out: str | os.PathLike, step: int, model: Any, optimizer: Any, scheduler: Any, state: dict,
         *, lora: bool, keep: int = KEEP, extra: dict[str, Any] | None = None) -> Path:
    """Write checkpoint `step` (atomically: a temporary folder, then rename) and drop all but the last `keep`.

    `extra` maps names to more torch-saveable state (RLP's EMA teacher): `NAME.pt`, read back
    with `load_extra`.
    """
    import numpy as np
    import torch

    final = Path(out) / "checkpoints" / f"step-{step}"
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_weights(model, tmp, lora=lora)
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save({"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()},
               tmp / "rng.pt")
    for name, value in (extra or {}).items():
        torch.save(value, tmp / f"{name}.pt")
    write_json(tmp / "state.json", state)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for _, old in checkpoints(out)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def save_weights(model: Any, folder: Path, *, lora: bool) -> None:
    if lora:
        model.save_pretrained(folder / "adapter")
    else:
        from safetensors.torch import save_model

        save_model(model, str(folder / "model.safetensors"))


def state(folder: Path) -> dict:
    return read_json(folder / "state.json")


def check_settings(folder: Path, cfg: Any, names: tuple[str, ...]) -> None:
    """Refuse to resume `folder` when a setting in `names` differs between its state.json and `cfg`."""
    from .errors import CheckpointMismatchError

    saved = state(folder).get("settings", {})
    diff = [k for k in names if k in saved and saved[k] != getattr(cfg, k)]
    if diff:
        what = "; ".join(f"{k}: checkpoint {saved[k]!r}, now {getattr(cfg, k)!r}" for k in diff)
        raise CheckpointMismatchError(f"cannot resume {folder}: it was made with other settings ({what}); "
                                      "rerun with the checkpoint's settings, or choose another --out")


def load_adapter(model: Any, adapter: Path) -> None:
    """Put the LoRA weights saved in `adapter` (a peft folder) into `model` (peft, same r and targets)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(adapter / "adapter_model.safetensors")))


def load_extra(folder: Path, name: str) -> Any:
    """The `extra` state `name` saved with checkpoint `folder`."""
    import torch

    return torch.load(folder / f"{name}.pt", weights_only=False)


def load(folder: Path, model: Any, optimizer: Any, scheduler: Any, *, lora: bool) -> dict:
    """Restore weights, optimizer, schedule and random states from `folder`; return its state.json."""
    import numpy as np
    import torch
    from safetensors.torch import load_model

    if lora:
        load_adapter(model, folder / "adapter")
    else:
        load_model(model, str(folder / "model.safetensors"))
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=False))
    scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=False))
    rng = torch.load(folder / "rng.pt", weights_only=False)
    torch.set_rng_state(rng["torch"])
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])
    return state(folder)
