"""Training examples from ADP trajectories: every assistant turn as (prompt, completion).

    >>> from experio.adp import read_trajectories
    >>> from experio.agent import training_examples
    >>> traj = next(read_trajectories("runs/expert/trajectories.jsonl"))        # doctest: +SKIP
    >>> ex = training_examples(traj)[0]                                         # doctest: +SKIP
    >>> ex.source, ex.completion[:12]                                           # doctest: +SKIP
    ('fold/textworld/ws3-no4-ql2/seed1000#turn1', '{"thinking":')

Two renderings, chosen by the trajectory's `details`:

- experio's own records (`experio agent run`, `experio agent expert`, memory runs: the
  details are an `EpisodeDetails` with the per-turn `responses`) are replayed through the
  same context manager (`make_context`) and the same `build_prompt` as at inference, so
  `prompt` is byte for byte the string the loop passed to `llm.generate` on that turn (the
  attempt whose response was used, retry notes included) and `completion` the exact JSON
  text the model (or the expert) wrote. Unreadable turns (no JSON for the schema even after
  the retry) give no example.
- any other ADP trajectory (converted datasets; experio records made before the per-turn
  responses were recorded) becomes a chat: `prompt` is the list of messages before an
  assistant turn ({"role", "content"}: "system" with the trajectory's `available_apis`,
  "user" for the task and user text, "tool" for environment observations, "assistant" for
  earlier actions) and `completion` that assistant turn's text: its thought (`description`),
  a blank line, then the action (`name(arg="value")`, a fenced code block, or the message).

A `str` prompt is used as is by every backend; a message list is rendered by the backend's
`render` (experio.llm), so training renders it with the same code as inference does.
A trajectory with no assistant turn raises NoAssistantTurnError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from experio.adp import Trajectory
from experio.envs import Step, format_call

from .context import Interaction, make_context
from .errors import EpisodeRecordError, NoAssistantTurnError, TrainingDataError
from .loop import AgentConfig, build_prompt
from .records import EpisodeDetails

@dataclass(frozen=True)
class TrainingExample:
    """One assistant turn: what the model saw, what it wrote (or should write), and where it is from."""

    prompt: str | list[dict]  # exactly what run_episode passes to llm.generate at that turn
    completion: str  # the assistant text that the model produced / should produce
    source: str  # "<trajectory id>#turn<k>"


def training_examples(traj: Trajectory) -> list[TrainingExample]:
    """Every assistant turn of an ADP trajectory as (prompt, completion); see the module docstring."""
    details = traj.details or {}
    if "responses" in details and "context" in details and "task" in details:
        examples = replay_examples(traj)
    else:
        examples = chat_examples(traj)
    if not examples:
        raise NoAssistantTurnError(
            f"trajectory {traj.id!r} has no assistant turn (no action or message of the agent, or only "
            "unreadable responses): nothing to train on; drop it from the data")
    return examples


# ----------------------------------------------------------------- experio's own records

def replay_examples(traj: Trajectory) -> list[TrainingExample]:
    """Re-render each turn's prompt by replaying the episode through its context manager."""
    try:
        d = EpisodeDetails.from_details(traj.details)
    except EpisodeRecordError as e:
        raise TrainingDataError(f"trajectory {traj.id!r}: {e}") from None
    _check_lengths(traj, d)
    context = make_context(d.context)
    context.reset(d.goal, d.tools)
    config = AgentConfig(max_steps=d.max_steps, max_admissible_shown=1 << 30)
    observations = _observations(traj)
    examples = []
    for turn in range(1, d.steps + 1):
        raw, shown, problems = d.responses[turn - 1], d.admissible[turn - 1], d.problems[turn - 1]
        last_turn = turn == d.max_steps
        step = Step("", admissible=shown)
        prompt = build_prompt(d.goal, d.tools, context, turn, d.max_steps, step, last_turn, d.answers, config,
                              list(problems), d.advice)
        response = _parse(raw, traj.id, turn)
        if response is not None:
            examples.append(TrainingExample(prompt, raw, f"{traj.id}#turn{turn}"))
            if "answer" in response:
                break  # the final answer ends the episode: no later prompt
        r = response or {}
        explanation = r.get("explanation", r.get("thinking", "")) or r.get("thinking", "")  # as Reply's
        action = r.get("action", "(none)")  # as the loop's `_act` ("(none)": an unreadable turn)
        directive = context.directive(response) if response is not None else None
        context.record(turn, Interaction(turn, explanation, action, observations[turn - 1]), directive)
    return examples


def _check_lengths(traj: Trajectory, d: EpisodeDetails) -> None:
    for name in ("responses", "admissible", "problems"):
        if len(getattr(d, name)) < d.steps:
            raise TrainingDataError(f"trajectory {traj.id!r}: details {name!r} has {len(getattr(d, name))} "
                                    f"entries for {d.steps} steps; the record is damaged")
    if d.max_steps < d.steps:
        raise TrainingDataError(f"trajectory {traj.id!r}: max_steps {d.max_steps} < steps {d.steps}")


def _observations(traj: Trajectory) -> list[str]:
    """The observation after each turn's action: content is goal, first observation, then
    (action, observation) per turn (a final answer has no observation after it)."""
    items = traj.content[2:]
    return [items[i + 1].content if i + 1 < len(items) and items[i + 1].class_ == "text_observation" else ""
            for i in range(0, len(items), 2)]


def _parse(raw: Any, traj_id: str, turn: int) -> dict | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw, strict=False)  # as experio.llm parses a schema-constrained response
    except (TypeError, json.JSONDecodeError) as e:
        raise TrainingDataError(f"trajectory {traj_id!r} turn {turn}: the recorded response is not JSON ({e})") from None
    if not isinstance(value, dict):
        raise TrainingDataError(f"trajectory {traj_id!r} turn {turn}: the recorded response is not a JSON object")
    return value


# ----------------------------------------------------------------------- any ADP trajectory

def chat_examples(traj: Trajectory) -> list[TrainingExample]:
    """A chat of the trajectory; one example per assistant message, the messages before it the prompt."""
    messages: list[dict] = []
    if traj.available_apis:
        messages.append({"role": "system", "content": "Available tools:\n\n" + "\n".join(traj.available_apis).strip()})
    examples = []
    for item in traj.content:
        role, text = _chat_turn(item)
        if role == "assistant":
            examples.append(TrainingExample([dict(m) for m in messages], text, f"{traj.id}#turn{len(examples) + 1}"))
        messages.append({"role": role, "content": text})
    return examples


def _chat_turn(item: Any) -> tuple[str, str]:
    """(role, content) of one ADP item."""
    c = item.class_
    if c == "text_observation":
        return {"user": "user", "agent": "assistant"}.get(item.source, "tool"), item.content
    if c == "web_observation":
        page = item.axtree if item.axtree is not None else (item.html or "")
        return "tool", f"URL: {item.url}\n{page}" if item.url else page
    if c == "image_observation":
        return "tool", f"[Image: {item.content}]"
    if c == "api_action":
        action = format_call(item.function, item.kwargs)
    elif c == "code_action":
        action = f"```{item.language}\n{item.content}\n```"
    else:  # message_action
        action = item.content
    thought = (item.description or "").strip()
    return "assistant", f"{thought}\n\n{action}" if thought else action
