"""The agent loop: any `LLM` on any `Environment`, one episode at a time.

Each turn the context manager renders the history (full, or folded as in AgentFold), the model
answers with JSON constrained by a schema, the action goes to the environment, and the step is
recorded. The episode ends on success, when the environment says done, or at the step budget.
Every episode becomes one ADP trajectory.

Action error policy: where the environment lists its admissible actions the schema only allows
those, so the action is always valid. Otherwise the action is parsed by the environment; an
unparsable or rejected action costs its turn, is counted in `invalid_actions`, and the error
message becomes the observation so the model can correct itself. A response that does not
parse at all (possible on servers without constrained decoding) is retried once, then counted
as an invalid action.

    >>> from experio.llm import load_llm                                     # doctest: +SKIP
    >>> result = run_episode(load_llm(), env, task, FoldContext(), max_steps=20)   # doctest: +SKIP
    >>> result.success, result.steps, result.prompt_tokens[-1]              # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from experio.adp import ApiAction, MessageAction, TextObservation, Trajectory
from experio.envs import Environment, InvalidActionError, Step, Task
from experio.llm import LLM, SchemaMismatchError

from . import prompts
from .context import ContextManager, Interaction


@dataclass
class AgentConfig:
    max_steps: int = 40
    temperature: float = 0.7  # ReasoningBank's acting temperature; AgentFold's official is 0.85
    seed: int | None = None
    max_admissible_shown: int = 40
    retries: int = 1  # re-asks after an unusable response (invalid JSON or fold directive)
    # Constrain the fold range in the schema to [a block boundary, t-1]. On backends that
    # enforce schemas (llamacpp) directives are then always valid; others are still checked
    # and repaired. Off: any [int, int] is allowed and validation/repair does the work.
    constrain_fold: bool = True


@dataclass
class EpisodeResult:
    task_id: str
    context: str
    success: bool
    reward: float
    steps: int
    invalid_actions: int = 0
    invalid_directives: int = 0
    directive_repairs: int = 0
    unreadable_responses: int = 0  # turns lost: no readable response even after retries
    retries: int = 0
    prompt_tokens: list[int] = field(default_factory=list)
    answer: str | None = None
    seconds: float = 0.0
    trajectory: Trajectory | None = None

    def record(self) -> dict[str, Any]:
        """A JSON-able summary (everything but the trajectory)."""
        out = {k: v for k, v in self.__dict__.items() if k != "trajectory"}
        return out


def response_schema(context: ContextManager, turn: int, step: Step, last_turn: bool, answers: bool,
                    constrain_fold: bool = False) -> dict:
    """The JSON schema of this turn's response."""
    props: dict[str, Any] = {"thinking": {"type": "string", "maxLength": prompts.THINKING_CHARS}}
    folding = context.folds and turn > 1
    if folding:
        if constrain_fold:
            rng = {"type": "array", "prefixItems": [{"enum": context.boundaries()}, {"const": turn - 1}],
                   "items": False, "minItems": 2, "maxItems": 2}
        else:  # bounded so that a runaway number cannot eat the token budget
            rng = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9999},
                   "minItems": 2, "maxItems": 2}
        props["fold"] = {
            "type": "object",
            "properties": {
                "range": rng,
                "summary": {"type": "string", "maxLength": prompts.SUMMARY_CHARS},
            },
            "required": ["range", "summary"],
        }
    if context.folds:
        props["explanation"] = {"type": "string", "maxLength": prompts.EXPLANATION_CHARS}
    if last_turn and answers:
        props["answer"] = {"type": "string", "maxLength": prompts.ANSWER_CHARS}
    elif step.admissible:
        props["action"] = {"enum": list(step.admissible)}
    else:
        props["action"] = {"type": "string", "maxLength": prompts.ACTION_CHARS}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def build_prompt(task_goal: str, tools: str, context: ContextManager, turn: int, max_turns: int,
                 step: Step, last_turn: bool, answers: bool, config: AgentConfig, problems: list[str],
                 advice: str = "") -> str:
    parts = [prompts.HEADER.format(goal=task_goal, tools=tools)]
    if advice:
        parts.append(advice.rstrip() + "\n")
    parts.append(prompts.HISTORY[context.name].format(history=context.render()))
    if step.admissible and not (last_turn and answers):
        shown = list(step.admissible)[: config.max_admissible_shown]
        parts.append(prompts.ADMISSIBLE.format(actions=", ".join(shown)))
    if last_turn and answers:
        parts.append(prompts.LAST_TURN)
    if problems:
        parts.append(prompts.RETRY.format(problems="; ".join(problems)))
    if context.folds and turn > 1:
        starts = ", ".join(str(s) for s in context.boundaries())
        instruction = prompts.INSTRUCTION["fold"].format(turn=turn, max_turns=max_turns, last=turn - 1, starts=starts)
    elif context.folds:
        instruction = prompts.INSTRUCTION["fold_first"].format(turn=turn, max_turns=max_turns)
    else:
        instruction = prompts.INSTRUCTION["react"].format(turn=turn, max_turns=max_turns)
    parts.append(instruction + "\nJSON: ")
    return "\n".join(parts)


def describe_tools(env: Environment) -> str:
    return "\n".join(f"- {tool.signature()}: {tool.description}" for tool in env.tools)


def run_episode(llm: LLM, env: Environment, task: Task, context: ContextManager,
                config: AgentConfig | None = None, on_turn=None, guidance=None) -> EpisodeResult:
    """Run one episode.

    `on_turn(turn, action, observation, result)` is called after each step. `guidance(goal)`
    returns text put in every prompt after the goal (e.g. memory items retrieved for this
    task); it is called once, after `reset`, when the goal is known.
    """
    config = config or AgentConfig()
    t0 = time.perf_counter()
    step = env.reset(task)
    answers = bool(getattr(env, "answers", False))
    tools = describe_tools(env)
    goal = step.info.get("goal") or task.name
    advice = guidance(goal) if guidance else ""
    context.reset(goal, tools)
    result = EpisodeResult(task_id=task.id, context=context.name, success=False, reward=0.0, steps=0)
    content: list[Any] = [TextObservation(source="user", content=goal),
                          TextObservation(source="environment", content=step.observation)]
    rewards: list[float] = []
    directives: list[dict | None] = []

    for turn in range(1, config.max_steps + 1):
        last_turn = turn == config.max_steps
        schema = response_schema(context, turn, step, last_turn, answers, config.constrain_fold)
        response, problems, raw = None, [], ""
        for attempt in range(config.retries + 1):
            prompt = build_prompt(goal, tools, context, turn, config.max_steps, step, last_turn, answers, config,
                                  problems, advice)
            if attempt == 0:
                result.prompt_tokens.append(llm.count_tokens(prompt))
            seed = None if config.seed is None else config.seed * 1000 + turn * 10 + attempt
            try:
                response = llm.generate(prompt, max_tokens=400, temperature=config.temperature,
                                        seed=seed, json_schema=schema)[0].parsed
            except SchemaMismatchError as e:
                problems, response, raw = [f"response was not valid JSON for the schema ({e})"], None, e.text
                result.retries += attempt < config.retries
                continue
            directive = response.get("fold")
            problems = context.validate(turn, directive) if context.folds and turn > 1 else []
            if not problems:
                break
            result.invalid_directives += attempt == 0
            result.retries += attempt < config.retries

        thinking = (response or {}).get("thinking", "")
        explanation = (response or {}).get("explanation", thinking)
        directive = (response or {}).get("fold")
        # Still invalid after retries: FoldContext.record repairs it. An unreadable response has
        # no directive at all and is counted as such, not as a repair.
        if response is not None and context.folds and turn > 1 and context.validate(turn, directive):
            result.directive_repairs += 1
        directives.append(directive)

        if response is None:  # unusable even after retries: the turn is lost
            result.unreadable_responses += 1
            result.invalid_actions += 1
            observation = "Your response could not be read. Respond with the JSON asked for."
            content.append(MessageAction(content=raw or "(empty response)", description="unreadable: " + "; ".join(problems)))
            content.append(TextObservation(source="environment", content=observation))
            context.record(turn, Interaction(turn, "", "(none)", observation), directive)
            result.steps = turn
            rewards.append(0.0)
            if on_turn:
                on_turn(turn, "(unreadable response)", observation, result)
            continue

        if "answer" in response:  # last turn of an answering environment
            result.answer = response["answer"]
            content.append(MessageAction(content=result.answer, description=thinking or None))
            step = env.submit_answer(result.answer)
            rewards.append(step.reward)
            result.reward += step.reward
            result.success = step.success
            result.steps = turn
            break

        action = response["action"]
        try:
            function, kwargs = env.parse_action(action)
            content.append(ApiAction(function=function, kwargs=kwargs, description=_join(thinking, explanation)))
            step = env.step(action)
            observation = step.observation
        except InvalidActionError as e:
            result.invalid_actions += 1
            content.append(MessageAction(content=action, description=_join(thinking, explanation)))
            observation = f"Invalid action: {e}"
            step = Step(observation=observation, reward=0.0, done=False, success=False,
                        admissible=step.admissible, info=step.info)
        content.append(TextObservation(source="environment", content=observation))
        context.record(turn, Interaction(turn, explanation or thinking, action, observation), directive)
        rewards.append(step.reward)
        result.reward += step.reward
        result.steps = turn
        if on_turn:
            on_turn(turn, action, observation, result)
        if step.success or step.done:
            result.success = step.success
            break

    result.seconds = round(time.perf_counter() - t0, 2)
    details = {
        "env": task.env, "task_id": task.id, "task": json.dumps(task.to_dict()), "context": context.name,
        "success": str(result.success).lower(), "reward": str(result.reward), "steps": str(result.steps),
        "rewards": json.dumps(rewards), "prompt_tokens": json.dumps(result.prompt_tokens),
        "invalid_actions": str(result.invalid_actions), "invalid_directives": str(result.invalid_directives),
        "directive_repairs": str(result.directive_repairs),
        "unreadable_responses": str(result.unreadable_responses), "retries": str(result.retries), "seconds": str(result.seconds),
        "fold_directives": json.dumps(directives), "llm": getattr(llm, "name", type(llm).__name__),
        "goal": goal,
    }
    result.trajectory = Trajectory(id=f"{context.name}/{task.id}", content=content, details=details)
    return result


def _join(thinking: str, explanation: str) -> str | None:
    parts = [p.strip() for p in (thinking, explanation) if p and p.strip()]
    return " | ".join(dict.fromkeys(parts)) or None
