"""Mix ADP datasets with sampling weights, streaming.

A weight ``w`` keeps each row ``floor(w)`` times plus once more with
probability ``w - floor(w)``: ``2`` doubles a dataset, ``0.01`` keeps one row
in a hundred (the paper mixed e.g. orca 0.001, synatra 0.01, swe-gym x3,
agenttuning x2). Inputs are read round-robin, so the output interleaves them
without holding any in memory; shuffle at training time for a full shuffle.

>>> parse_weights("a=2,b=0.01")
{'a': 2.0, 'b': 0.01}
"""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path
from typing import Iterator

from experio.adp.io import Row, RowWriter, read_rows
from experio.adp.pipeline import ProgressFn, RunSummary, _Rejects, guess_dataset


def parse_weights(text: str) -> dict[str, float]:
    """``"a=2,b=0.01"`` -> ``{"a": 2.0, "b": 0.01}``; ValueError on a bad entry."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"weight {part!r} is not NAME=NUMBER")
        try:
            w = float(value)
        except ValueError:
            raise ValueError(f"weight {part!r}: {value!r} is not a number") from None
        if w < 0 or math.isnan(w):
            raise ValueError(f"weight {part!r} must be >= 0")
        out[name.strip()] = w
    return out


def name_inputs(inputs: list[str]) -> dict[str, str]:
    """``NAME=PATH`` or plain paths (named by their dataset folder or file stem)."""
    out: dict[str, str] = {}
    for spec in inputs:
        if "=" in spec and not os.path.exists(spec):
            name, _, path = spec.partition("=")
        else:
            path = spec
            name = guess_dataset(spec) or Path(spec).name.split(".")[0]
        if name in out:
            raise ValueError(f"two inputs are both named {name!r}; name them NAME=PATH")
        out[name] = path
    return out


def copies(weight: float, rng: random.Random) -> int:
    whole = math.floor(weight)
    return whole + (1 if rng.random() < weight - whole else 0)


def mix(
    inputs: dict[str, str | os.PathLike],
    weights: dict[str, float],
    output: str | os.PathLike,
    seed: int = 0,
    tag_source: bool = False,
    progress: ProgressFn | None = None,
) -> RunSummary:
    """Write the weighted mix of ``inputs`` (name -> path) to ``output``.

    Inputs without a weight get 1. ``tag_source`` adds ``details["mix_source"]``.
    Unreadable rows go to ``OUTPUT.rejects.jsonl``.
    """
    unknown = sorted(set(weights) - set(inputs))
    if unknown:
        raise ValueError(f"weights name inputs that were not given: {unknown}; inputs: {sorted(inputs)}")
    summary = RunSummary("mix", ", ".join(f"{k}={v}" for k, v in inputs.items()), str(output))
    t0 = time.perf_counter()
    rng = random.Random(seed)
    rej = _Rejects(output, summary)
    iters: dict[str, Iterator[Row]] = {k: read_rows(v) for k, v in inputs.items()}
    try:
        with RowWriter(output, json_columns=("content", "details")) as w:
            while iters:
                for name in list(iters):
                    row = next(iters[name], None)
                    if row is None:
                        del iters[name]
                        continue
                    summary.rows_in += 1
                    if progress is not None:
                        progress(1)
                    if row.error is not None or not isinstance(row.value, dict):
                        rej.add((row.line,), f"{name}: {row.error or 'not an object'}", row.raw)
                        continue
                    summary.rows_ok += 1
                    value = row.value
                    if tag_source:
                        value = dict(value, details={**(value.get("details") or {}), "mix_source": name})
                    for _ in range(copies(weights.get(name, 1.0), rng)):
                        w.write(value)
                        summary.rows_out += 1
    except BaseException:  # the output is not kept either: leave no partial pair
        rej.abort()
        raise
    rej.commit()
    summary.seconds = time.perf_counter() - t0
    return summary
