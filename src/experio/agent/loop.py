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

import time
from dataclasses import dataclass, field, replace
from typing import Any

from experio.adp import ApiAction, MessageAction, TextObservation, Trajectory
from experio.envs import Environment, InvalidActionError, Step, Task
from experio.llm import LLM, SchemaMismatchError

from . import prompts
from .context import ContextManager, Interaction
from .records import EpisodeDetails, available_apis


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
    # Longest free-text action, in characters (a retrieval answer lists several titles).
    action_chars: int = prompts.ACTION_CHARS


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
    details: EpisodeDetails | None = None  # what the trajectory's details say, typed


def response_schema(context: ContextManager, turn: int, step: Step, last_turn: bool, answers: bool,
                    constrain_fold: bool = False, action_chars: int = prompts.ACTION_CHARS) -> dict:
    """The JSON schema of this turn's response: thinking, the context's fields, then the action."""
    props: dict[str, Any] = {"thinking": {"type": "string", "maxLength": prompts.THINKING_CHARS}}
    props.update(context.response_fields(turn, constrain_fold))
    if last_turn and answers:
        props["answer"] = {"type": "string", "maxLength": prompts.ANSWER_CHARS}
    elif step.admissible:
        props["action"] = {"enum": list(step.admissible)}
    else:
        props["action"] = {"type": "string", "maxLength": action_chars}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def build_prompt(task_goal: str, tools: str, context: ContextManager, turn: int, max_turns: int,
                 step: Step, last_turn: bool, answers: bool, config: AgentConfig, problems: list[str],
                 advice: str = "") -> str:
    parts = [prompts.HEADER.format(goal=task_goal, tools=tools)]
    if advice:
        parts.append(advice.rstrip() + "\n")
    parts.append(context.history())
    shown = shown_actions(step, last_turn, answers, config)
    if shown:
        parts.append(prompts.ADMISSIBLE.format(actions=", ".join(shown)))
    if last_turn and answers:
        parts.append(prompts.LAST_TURN)
    if problems:
        parts.append(prompts.RETRY.format(problems="; ".join(problems)))
    parts.append(context.instruction(turn, max_turns) + "\nJSON: ")
    return "\n".join(parts)


def describe_tools(env: Environment) -> str:
    return "\n".join(f"- {tool.signature()}: {tool.description}" for tool in env.tools)


@dataclass
class Reply:
    """One turn's response: parsed (None when unreadable even after retries), and its problems."""

    response: dict | None
    problems: list[str] = field(default_factory=list)
    raw: str = ""

    @property
    def thinking(self) -> str:
        return (self.response or {}).get("thinking", "")

    @property
    def explanation(self) -> str:
        return (self.response or {}).get("explanation", self.thinking)


@dataclass
class _Episode:
    """The state of one episode between turns."""

    env: Environment
    context: ContextManager
    goal: str
    tools: str
    advice: str
    step: Step
    result: EpisodeResult
    content: list[Any]
    rewards: list[float] = field(default_factory=list)
    directives: list[Any] = field(default_factory=list)
    # What re-renders every turn's prompt (`training_examples`): the raw response text of the
    # attempt that was used (None: unreadable), the admissible actions the prompt listed
    # (None: no list), and the problems of the earlier attempt shown in that prompt.
    responses: list[str | None] = field(default_factory=list)
    shown: list[list[str] | None] = field(default_factory=list)
    problems: list[list[str]] = field(default_factory=list)


def run_episode(llm: LLM, env: Environment, task: Task, context: ContextManager,
                config: AgentConfig | None = None, on_turn=None, guidance=None) -> EpisodeResult:
    """Run one episode: each turn ask the model, act in the environment, record the step.

    `on_turn(turn, action, observation, result)` is called after each step. `guidance(goal)`
    returns text put in every prompt after the goal (e.g. memory items retrieved for this
    task); it is called once, after `reset`, when the goal is known.
    """
    config = config or AgentConfig()
    t0 = time.perf_counter()
    ep = _start(env, task, context, guidance)
    for turn in range(1, config.max_steps + 1):
        reply = _ask(llm, ep, turn, config)
        action, observation, step = _act(ep, reply, last_turn=turn == config.max_steps)
        directive = context.directive(reply.response) if reply.response is not None else None
        ep.directives.append(directive)
        context.record(turn, Interaction(turn, reply.explanation or reply.thinking, action, observation), directive)
        ep.rewards.append(step.reward)
        ep.result.reward += step.reward
        ep.result.steps, ep.step = turn, step
        if on_turn:
            on_turn(turn, action, observation, ep.result)
        if step.done or step.success:
            ep.result.success = step.success
            break
    ep.result.seconds = round(time.perf_counter() - t0, 2)
    return _finish(ep, task, llm, config.max_steps)


def _start(env: Environment, task: Task, context: ContextManager, guidance) -> _Episode:
    step = env.reset(task)
    goal = step.info.get("goal") or task.name
    tools = describe_tools(env)
    context.reset(goal, tools)
    result = EpisodeResult(task_id=task.id, context=context.name, success=False, reward=0.0, steps=0)
    content: list[Any] = [TextObservation(source="user", content=goal),
                          TextObservation(source="environment", content=step.observation)]
    return _Episode(env, context, goal, tools, guidance(goal) if guidance else "", step, result, content)


def _ask(llm: LLM, ep: _Episode, turn: int, config: AgentConfig) -> Reply:
    """The model's response for this turn, re-asked (up to `config.retries`) while unusable.

    Counts on `ep.result`: retries; invalid directives (first attempt); a readable response
    whose directive is still invalid after the retries is a repair (the context repairs it).
    """
    result, context, last_turn = ep.result, ep.context, turn == config.max_steps
    schema = response_schema(context, turn, ep.step, last_turn, ep.env.answers, config.constrain_fold,
                             config.action_chars)
    reply = Reply(None)
    ep.shown.append(shown_actions(ep.step, last_turn, ep.env.answers, config))
    for attempt in range(config.retries + 1):
        asked_with = reply.problems
        prompt = build_prompt(ep.goal, ep.tools, context, turn, config.max_steps, ep.step, last_turn,
                              ep.env.answers, config, asked_with, ep.advice)
        if attempt == 0:
            result.prompt_tokens.append(llm.count_tokens(prompt))
        seed = None if config.seed is None else config.seed * 1000 + turn * 10 + attempt
        try:
            completion = llm.generate(prompt, max_tokens=400, temperature=config.temperature,
                                      seed=seed, json_schema=schema)[0]
        except SchemaMismatchError as e:
            reply = Reply(None, [f"response was not valid JSON for the schema ({e})"], e.text)
        else:
            response = completion.parsed
            reply = Reply(response, context.validate(turn, context.directive(response)), completion.text)
            if not reply.problems:
                break
            result.invalid_directives += attempt == 0
        result.retries += attempt < config.retries
    else:
        if reply.response is not None:
            result.directive_repairs += 1
    ep.responses.append(None if reply.response is None else reply.raw)
    ep.problems.append(list(asked_with))
    return reply


def shown_actions(step: Step, last_turn: bool, answers: bool, config: AgentConfig) -> list[str] | None:
    """The admissible actions a turn's prompt lists (None when it lists none); `build_prompt` shows these."""
    if step.admissible and not (last_turn and answers):
        return list(step.admissible)[: config.max_admissible_shown]
    return None


def _act(ep: _Episode, reply: Reply, last_turn: bool) -> tuple[str, str, Step]:
    """Carry out the reply: (the action as text, the observation, the Step it gave).

    Error policy: an unreadable reply or an invalid action costs the turn, is counted in
    `invalid_actions`, and its message becomes the observation; the environment is unchanged.
    """
    result, env, response = ep.result, ep.env, reply.response
    wasted = dict(reward=0.0, done=False, success=False, admissible=ep.step.admissible, info=ep.step.info)
    if response is None:
        result.unreadable_responses += 1
        result.invalid_actions += 1
        observation = "Your response could not be read. Respond with the JSON asked for."
        ep.content.append(MessageAction(content=reply.raw or "(empty response)",
                                        description="unreadable: " + "; ".join(reply.problems)))
        ep.content.append(TextObservation(source="environment", content=observation))
        return "(none)", observation, Step(observation, **wasted)
    if "answer" in response:  # the last turn of an environment that takes a final answer
        result.answer = response["answer"]
        ep.content.append(MessageAction(content=result.answer, description=reply.thinking or None))
        step = env.submit_answer(result.answer)
        return f"answer: {result.answer}", step.observation, replace(step, done=True)
    action, description = response["action"], _join(reply.thinking, reply.explanation)
    try:
        function, kwargs = env.parse_action(action)
        step = env.step(action)
    except InvalidActionError as e:  # unparsable, or rejected by the environment: one item either way
        result.invalid_actions += 1
        ep.content.append(MessageAction(content=action, description=description))
        step = Step(f"Invalid action: {e}", **wasted)
    else:
        ep.content.append(ApiAction(function=function, kwargs=kwargs, description=description))
    ep.content.append(TextObservation(source="environment", content=step.observation))
    return action, step.observation, step


def _finish(ep: _Episode, task: Task, llm: LLM, max_steps: int) -> EpisodeResult:
    """The episode's trajectory: its content, its typed details, and the tools it could call."""
    r = ep.result
    r.details = EpisodeDetails(
        task=task, context=ep.context.name, success=r.success, reward=r.reward, steps=r.steps,
        rewards=ep.rewards, prompt_tokens=r.prompt_tokens, invalid_actions=r.invalid_actions,
        invalid_directives=r.invalid_directives, directive_repairs=r.directive_repairs,
        unreadable_responses=r.unreadable_responses, retries=r.retries, seconds=r.seconds,
        fold_directives=ep.directives, llm=getattr(llm, "name", type(llm).__name__), goal=ep.goal,
        policy=getattr(llm, "policy", "model"), max_steps=max_steps, answers=bool(ep.env.answers), tools=ep.tools,
        advice=ep.advice, responses=ep.responses, admissible=ep.shown, problems=ep.problems,
    )
    r.trajectory = Trajectory(id=f"{ep.context.name}/{task.id}", content=ep.content, details=r.details.to_details(),
                              available_apis=available_apis(ep.env.tools))
    return r


def _join(thinking: str, explanation: str) -> str | None:
    parts = [p.strip() for p in (thinking, explanation) if p and p.strip()]
    return " | ".join(dict.fromkeys(parts)) or None
