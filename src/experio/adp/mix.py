"""Mix ADP datasets with sampling weights, streaming.

A weight ``w`` keeps each row ``floor(w)`` times plus once more with
probability ``w - floor(w)``: ``2`` doubles a dataset, ``0.01`` keeps one row
in a hundred (the paper mixed e.g. orca 0.001, synatra 0.01, swe-gym x3,
agenttuning x2). Inputs are read round-robin, so the output interleaves them
without holding any in memory; shuffle at training time for a full shuffle.

Ids stay unique: a row whose id was already written (a copy made by a weight above 1, or
the same id in two inputs) gets the first free ``#N`` suffix (``os_1``, ``os_1#2``, ...),
so the mix passes ``experio adp validate``; the balance says how many were renamed.

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

from experio.adp.pipeline import guess_dataset
from experio.adp.readers import Row, read_rows
from experio.adp.summary import ProgressFn, RunSummary
from experio.adp.writers import RowWriter
from experio.errors import UsageError
from experio.runs import RejectsFile


def parse_weights(text: str) -> dict[str, float]:
    """``"a=2,b=0.01"`` -> ``{"a": 2.0, "b": 0.01}``; UsageError (a ValueError) on a bad entry."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"weight {part!r} is not NAME=NUMBER")
        try:
            w = float(value)
        except ValueError:
            raise UsageError(f"weight {part!r}: {value!r} is not a number") from None
        if w < 0 or math.isnan(w):
            raise UsageError(f"weight {part!r} must be >= 0")
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
            raise UsageError(f"two inputs are both named {name!r}; name them NAME=PATH")
        out[name] = path
    return out


def copies(weight: float, rng: random.Random) -> int:
    """How many times to keep a row of an input with this weight (seeded by ``rng``)."""
    whole = math.floor(weight)
    return whole + (1 if rng.random() < weight - whole else 0)


class UniqueIds:
    """Makes each id unique: the second ``x`` becomes ``x#2``, the next free suffix after that."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.next: dict[str, int] = {}
        self.renamed = 0

    def __call__(self, tid: str) -> str:
        if tid not in self.seen:
            self.seen.add(tid)
            return tid
        k = self.next.get(tid, 2)
        while f"{tid}#{k}" in self.seen:
            k += 1
        self.next[tid] = k + 1
        self.seen.add(f"{tid}#{k}")
        self.renamed += 1
        return f"{tid}#{k}"


def mix(
    inputs: dict[str, str | os.PathLike],
    weights: dict[str, float],
    output: str | os.PathLike,
    seed: int = 0,
    tag_source: bool = False,
    progress: ProgressFn | None = None,
) -> RunSummary:
    """Write the weighted mix of ``inputs`` (name -> path) to ``output``.

    Inputs without a weight get 1. ``tag_source`` adds ``details["mix_source"]``. Repeated
    ids get a ``#N`` suffix. Unreadable rows go to ``OUTPUT.rejects.jsonl``.
    """
    unknown = sorted(set(weights) - set(inputs))
    if unknown:
        raise UsageError(f"weights name inputs that were not given: {unknown}; inputs: {sorted(inputs)}")
    summary = RunSummary("mix", ", ".join(f"{k}={v}" for k, v in inputs.items()), str(output))
    t0 = time.perf_counter()
    rng = random.Random(seed)
    rejects = RejectsFile(output)
    unique = UniqueIds()
    iters: dict[str, Iterator[Row]] = {k: read_rows(v) for k, v in inputs.items()}
    try:
        with RowWriter(output, json_columns=("content", "details")) as w:
            for name, row in _round_robin(iters):
                summary.rows_in += 1
                if progress is not None:
                    progress(1)
                if row.error is not None or not isinstance(row.value, dict):
                    rejects.add(row.line, f"{name}: {row.error or 'not an object'}", row.raw)
                    continue
                summary.rows_ok += 1
                value = row.value
                if tag_source:
                    value = dict(value, details={**(value.get("details") or {}), "mix_source": name})
                for _ in range(copies(weights.get(name, 1.0), rng)):
                    w.write(value if "id" not in value else dict(value, id=unique(str(value["id"]))))
                    summary.rows_out += 1
    except BaseException:  # the output is not kept either: leave no partial pair
        rejects.abort()
        raise
    rejects.commit()
    summary.rejected, summary.reasons, summary.renamed = rejects.count, dict(rejects.reasons), unique.renamed
    summary.seconds = time.perf_counter() - t0
    return summary


def _round_robin(iters: dict[str, Iterator[Row]]) -> Iterator[tuple[str, Row]]:
    """One row of each input in turn, until all are exhausted."""
    while iters:
        for name in list(iters):
            row = next(iters[name], None)
            if row is None:
                del iters[name]
                continue
            yield name, row
