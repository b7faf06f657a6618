"""Verifiable tasks for GRPO: prompts with a known answer and a reward that checks it.

    >>> task = get_task("addition")
    >>> train, held_out = task.split(n_eval=100)         # disjoint (checked)
    >>> task.reward(" 44\\n", train[0].answer)            # 1.0 or 0.0

`addition`: a two-digit plus a one-digit number, after three worked lines (few-shot, so the
embedded base model, which is not instruction-tuned, knows the format). Chosen because the base
model gets it right sometimes but not always (a probe at temperature 1: about 4 in 10), so
GRPO's groups have both rewards to compare and room to improve; two-digit plus two-digit it
almost never gets, single digits it nearly always gets.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from .errors import RLSettingsError, SplitOverlapError


@dataclass(frozen=True)
class Problem:
    """One prompt and the answer its completion must start with."""

    id: str
    prompt: str
    answer: str


class Addition:
    """a + b = ? for a in 10..99, b in 1..9 (810 problems); reward 1.0 when the completion's first number is a + b."""

    name = "addition"
    shots = "12 + 7 = 19\n35 + 41 = 76\n8 + 26 = 34\n"

    def problems(self) -> list[Problem]:
        return [Problem(f"{a}+{b}", f"{self.shots}{a} + {b} =", str(a + b)) for a in range(10, 100) for b in range(1, 10)]

    def split(self, n_eval: int = 100, seed: int = 0) -> tuple[list[Problem], list[Problem]]:
        """(train, held out): a seeded shuffle, the first `n_eval` held out; never overlapping."""
        problems = self.problems()
        if not 0 < n_eval < len(problems):
            raise RLSettingsError(f"held-out problems must be between 1 and {len(problems) - 1}, got {n_eval}")
        random.Random(seed).shuffle(problems)
        held, train = problems[:n_eval], problems[n_eval:]
        overlap = {p.id for p in held} & {p.id for p in train}
        if overlap:
            raise SplitOverlapError(f"addition problems in both train and held-out: {sorted(overlap)[:5]}")
        return train, held

    def stop_ids(self, tokenizer) -> set[int]:
        """Tokens that end an answer (a line end): nothing after it is sampled or trained."""
        return {i for text in ("\n", "\n\n") for i in tokenizer(text, add_special_tokens=False)["input_ids"]}

    def reward(self, completion: str, answer: str) -> float:
        m = re.match(r"\s*(-?\d+)", completion)
        return float(bool(m) and m.group(1) == answer)


TASKS = {"addition": Addition}


def get_task(name: str) -> Addition:
    if name not in TASKS:
        raise RLSettingsError(f"unknown GRPO task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name]()
