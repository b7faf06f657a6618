"""MARAG-R1's three rewards, combined into the one reward an episode is trained on.

    >>> r = trajectory_reward(f1=1.0, recall=0.5, calls=['filter(field="year", op="eq", value=1995)',
    ...                                                  'aggregate(op="count", over="R1")'])
    >>> r["reward"], r["exploration"]
    (0.875, 1.0)

The paper rewards the answer, the coverage of the gold documents, and useful tool exploration
with a penalty for redundant calls; it gives neither formulas nor weights. experio's choices:

    answer       F1 of the answer against the gold answer (SQuAD-style tokens)
    coverage     share of the gold documents the tools returned to the agent (in any result set)
    exploration  1 if the agent called at least one tool, minus `repeat_penalty` per call that repeats
                 an earlier call exactly (same tool, same arguments), floored at 0
    reward = answer_weight * answer + coverage_weight * coverage + exploration_weight * exploration

Weights 0.5 / 0.25 / 0.25 by default: the answer is what is asked for, so it weighs most; the two
process rewards together weigh as much as it, so an agent that searched well but answered
wrongly still gets a signal (the paper's reason for them) and one that answered right without
looking cannot get the full reward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from experio.errors import UsageError


@dataclass(frozen=True)
class RewardWeights:
    """The weights of the three rewards and the penalty per repeated call (see the module docstring)."""

    answer: float = 0.5
    coverage: float = 0.25
    exploration: float = 0.25
    repeat_penalty: float = 0.5

    def __post_init__(self) -> None:
        for name in ("answer", "coverage", "exploration", "repeat_penalty"):
            if getattr(self, name) < 0:
                raise UsageError(f"reward weight {name} must be >= 0, got {getattr(self, name)}")


def exploration_reward(calls: Sequence[str], repeat_penalty: float = 0.5) -> float:
    """1 for using the tools at all, minus `repeat_penalty` per exact repeat of an earlier call.

        >>> exploration_reward([]), exploration_reward(["a()", "a()", "b()"])
        (0.0, 0.5)
    """
    if not calls:
        return 0.0
    repeats = len(calls) - len(set(calls))
    return max(0.0, 1.0 - repeat_penalty * repeats)


def trajectory_reward(f1: float, recall: float, calls: Sequence[str],
                      weights: RewardWeights | None = None) -> dict[str, float]:
    """The parts and the weighted sum (`reward`) for one episode."""
    w = weights or RewardWeights()
    exploration = exploration_reward(calls, w.repeat_penalty)
    total = w.answer * f1 + w.coverage * recall + w.exploration * exploration
    return {"reward": round(total, 6), "answer_reward": f1, "coverage": recall, "exploration": exploration}
