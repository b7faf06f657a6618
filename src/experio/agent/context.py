"""What the agent sees each turn: the full history (ReAct) or folded summaries (AgentFold).

AgentFold (Tongyi Lab, arXiv 2510.24699) rebuilds the context every turn as
C_t = (Q, T, S_{t-2}, I_{t-1}): the question, the tools, an ordered list of non-overlapping
summary blocks of steps 1..t-2, and the latest interaction (step t-1) verbatim. Each response
carries a folding directive {"range": [k, t-1], "summary": ...}:
  k = t-1  granular condensation: the latest interaction becomes one compact block;
  k < t-1  deep consolidation: blocks starting in [k, t-1] and the latest interaction fuse.
A directive is valid when it ends at t-1 and starts on a block boundary; an invalid one is
repaired here (never allowed to corrupt the history) and every repair is counted.

A context manager is a whole strategy: it declares the fields its responses carry (the
schema), the instruction that asks for them, and how their directive is validated and
repaired, so the agent loop treats ReAct and AgentFold alike (see `ContextManager`).

    >>> ctx = FoldContext()
    >>> ctx.reset("Find the key.", "go north, take key")
    >>> ctx.record(1, Interaction(1, "look around", "go north", "You are in a kitchen."), None)
    []
    >>> ctx.record(2, Interaction(2, "grab it", "take key", "Taken."), {"range": [1, 1], "summary": "went north to kitchen"})
    []
    >>> [b.label for b in ctx.blocks]
    ['[Compressed Step 1]']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from experio.errors import unknown_name

from . import prompts
from .errors import UnknownContextError

# Observations are shown verbatim in the latest interaction; a cap keeps one huge page from
# swamping a small model's context (both managers use the same cap, so comparisons are fair).
MAX_OBSERVATION_CHARS = 2000


@dataclass(frozen=True)
class Interaction:
    """One step: why (explanation / thought), what (action), and what came back."""

    step: int
    explanation: str
    action: str
    observation: str

    def render(self) -> str:
        obs = self.observation[:MAX_OBSERVATION_CHARS]
        return f"[Step {self.step}]\nReason: {self.explanation}\nAction: {self.action}\nObservation: {obs}"


@dataclass(frozen=True)
class Block:
    """A summary of steps start..end (inclusive)."""

    start: int
    end: int
    summary: str

    @property
    def label(self) -> str:
        if self.start == self.end:
            return f"[Compressed Step {self.start}]"
        return f"[Compressed Step {self.start} to {self.end}]"


class ContextManager(Protocol):
    """What the agent loop asks of a context strategy, each turn: ask -> act -> record.

        reset(question, tools)              a new episode
        history() -> str                    the prompt's history section for the coming turn
        instruction(turn, max_turns) -> str the prompt's closing line: which JSON to write
        response_fields(turn, constrain)    JSON-schema properties the response carries between
                                            "thinking" and the action, in order (`constrain`:
                                            admit only valid directives where the schema can)
        directive(response) -> Any          the part of a parsed response the strategy consumes
        validate(turn, directive) -> list   problems with it (empty: usable; else the loop re-asks)
        record(turn, interaction, directive) -> list
                                            take the step, repairing a still-invalid directive;
                                            return the problems it had
    """

    name: str

    def reset(self, question: str, tools: str) -> None: ...

    def render(self) -> str:
        """The history itself (without heading)."""
        ...

    def history(self) -> str: ...

    def instruction(self, turn: int, max_turns: int) -> str: ...

    def response_fields(self, turn: int, constrain: bool) -> dict[str, dict]: ...

    def directive(self, response: dict) -> Any: ...

    def validate(self, turn: int, directive: Any) -> list[str]: ...

    def record(self, turn: int, interaction: Interaction, directive: Any) -> list[str]: ...


@dataclass
class ReActContext:
    """Full history: every step verbatim, in order (the ReAct baseline). Responses carry no directive."""

    name: str = "react"
    steps: list[Interaction] = field(default_factory=list)

    def reset(self, question: str, tools: str) -> None:
        self.steps = []

    def render(self) -> str:
        return "\n\n".join(s.render() for s in self.steps) or "(no steps yet)"

    def history(self) -> str:
        return prompts.HISTORY["react"].format(history=self.render())

    def instruction(self, turn: int, max_turns: int) -> str:
        return prompts.INSTRUCTION["react"].format(turn=turn, max_turns=max_turns)

    def response_fields(self, turn: int, constrain: bool) -> dict[str, dict]:
        return {}

    def directive(self, response: dict) -> None:
        return None

    def validate(self, turn: int, directive: Any) -> list[str]:
        return []

    def record(self, turn: int, interaction: Interaction, directive: Any) -> list[str]:
        self.steps.append(interaction)
        return []


@dataclass
class FoldContext:
    """AgentFold's multi-scale summaries plus the latest interaction verbatim."""

    name: str = "fold"
    blocks: list[Block] = field(default_factory=list)
    latest: Interaction | None = None

    def reset(self, question: str, tools: str) -> None:
        self.blocks, self.latest = [], None

    def render(self) -> str:
        parts = [f"{b.label} {b.summary}" for b in self.blocks]
        if self.latest is not None:
            parts.append(self.latest.render())
        return "\n".join(parts) or "(no steps yet)"

    def history(self) -> str:
        return prompts.HISTORY["fold"].format(history=self.render())

    def instruction(self, turn: int, max_turns: int) -> str:
        if turn == 1:
            return prompts.INSTRUCTION["fold_first"].format(turn=turn, max_turns=max_turns)
        starts = ", ".join(str(s) for s in self.boundaries())
        return prompts.INSTRUCTION["fold"].format(turn=turn, max_turns=max_turns, last=turn - 1, starts=starts)

    def response_fields(self, turn: int, constrain: bool) -> dict[str, dict]:
        """From turn 2 a folding directive; always an explanation of the next action."""
        fields: dict[str, dict] = {}
        if turn > 1:
            if constrain:  # only [a block boundary, t-1]: on backends that enforce schemas, always valid
                rng = {"type": "array", "prefixItems": [{"enum": self.boundaries()}, {"const": turn - 1}],
                       "items": False, "minItems": 2, "maxItems": 2}
            else:  # bounded so that a runaway number cannot eat the token budget
                rng = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9999},
                       "minItems": 2, "maxItems": 2}
            fields["fold"] = {
                "type": "object",
                "properties": {"range": rng, "summary": {"type": "string", "maxLength": prompts.SUMMARY_CHARS}},
                "required": ["range", "summary"],
            }
        fields["explanation"] = {"type": "string", "maxLength": prompts.EXPLANATION_CHARS}
        return fields

    def directive(self, response: dict) -> Any:
        return response.get("fold")

    def boundaries(self) -> list[int]:
        """Valid starts k for a directive at this turn: block starts and the latest step."""
        starts = [b.start for b in self.blocks]
        return starts + ([self.latest.step] if self.latest else [])

    def validate(self, turn: int, directive: Any) -> list[str]:
        """Problems with a directive at `turn` (empty when valid)."""
        if self.latest is None:
            return []  # turn 1: nothing to fold, any directive is ignored
        t1 = turn - 1
        if not isinstance(directive, dict):
            return [f"missing folding directive: expected {{\"range\": [k, {t1}], \"summary\": ...}}"]
        problems = []
        rng = directive.get("range")
        if not (isinstance(rng, (list, tuple)) and len(rng) == 2 and all(isinstance(x, int) for x in rng)):
            return [f"range must be two integers [k, {t1}], got {rng!r}"]
        k, end = rng
        if end != t1:
            problems.append(f"range must end at the latest step {t1}, got {end}")
        if k not in self.boundaries():
            problems.append(f"range start {k} is not a block boundary; choose one of {self.boundaries()}")
        if not str(directive.get("summary") or "").strip():
            problems.append("summary is empty")
        return problems

    def repair(self, turn: int, directive: Any) -> dict:
        """The nearest valid directive: end at t-1, start snapped down to a boundary."""
        t1 = turn - 1
        d = directive if isinstance(directive, dict) else {}
        rng = d.get("range")
        k = rng[0] if isinstance(rng, (list, tuple)) and rng and isinstance(rng[0], int) else t1
        valid = self.boundaries()
        k = max([b for b in valid if b <= k], default=t1)
        summary = str(d.get("summary") or "").strip() or _mechanical_summary(self.latest)
        return {"range": [k, t1], "summary": summary}

    def record(self, turn: int, interaction: Interaction, directive: dict | None) -> list[str]:
        problems = self.validate(turn, directive)
        if self.latest is not None:
            d = self.repair(turn, directive) if problems else directive
            k, t1 = d["range"]
            # Fold: every block starting in [k, t-1] and the latest interaction become one block.
            self.blocks = [b for b in self.blocks if b.start < k] + [Block(k, t1, d["summary"].strip())]
        self.latest = interaction
        return problems


def _mechanical_summary(latest: Interaction | None) -> str:
    """A summary the model did not write: the action and the start of what it returned."""
    if latest is None:
        return ""
    obs = " ".join(latest.observation.split())[:120]
    return f"did '{latest.action}' -> {obs}"


CONTEXTS: dict[str, type] = {"react": ReActContext, "fold": FoldContext}


def make_context(name: str) -> ContextManager:
    """A fresh context manager by name: "react" (full history) or "fold" (AgentFold)."""
    if name not in CONTEXTS:
        raise UnknownContextError(str(unknown_name("context manager", name, CONTEXTS)))
    return CONTEXTS[name]()
