"""Expert episodes: each game's walkthrough replayed through the agent loop, recorded as ADP.

    >>> from pathlib import Path
    >>> from experio.agent import run_expert
    >>> from experio.envs import task_stream
    >>> tasks = task_stream("textworld", 50, seed=1000, world_size=3, nb_objects=4, quest_length=2)  # doctest: +SKIP
    >>> run_expert("textworld", tasks, "fold", Path("runs/expert-ql2"))["fold"]["success_rate"]      # doctest: +SKIP
    1.0

The expert is a policy object with the `LLM` protocol (`WalkthroughExpert`), so an expert
episode goes through the very `run_episode`, `build_prompt`, `response_schema` and context
manager that `experio agent run` uses, and is recorded the same way (same tools as
`available_apis`, same observations, same details). Only the response is not a model's:

- action: the game's next walkthrough command, mapped to the admissible command it names
  (`walkthrough_action`: the same text, else the only admissible command that extends it);
- thinking: written by a rule from the command (`thinking_for`, e.g. "go east" -> "The way to
  the goal leads east."), and for AgentFold the explanation "So I <action>.";
- fold directive (AgentFold, from turn 2): the deterministic rule `fold_directive`
  (FOLD_RULE below): consecutive moves are one sub-goal (reaching a room) and fuse into one
  block "Walked east, north; now in the Kitchen."; every other step becomes its own block
  "<action>: <first sentence of what it returned>".

Every trajectory says so: details "policy" is "expert-walkthrough", "walkthrough" holds the
commands, "rules" says who wrote the text; config.json holds the rules in full. An episode
that does not win raises ExpertError and nothing of it is written. The run folder's kind is
"agent expert", not "agent": `experio agent run` refuses to resume into it (a resume would
skip every game the expert played), while `experio agent report` reads both kinds.
Environments without a walkthrough (MiniWoB++) raise NoWalkthroughError listing those with one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from experio.envs import Environment, Task
from experio.llm import BaseLLM, Completion, GenerationParams, NotSupportedError

from .context import ContextManager, make_context
from .errors import ExpertError, NoWalkthroughError
from .loop import AgentConfig, EpisodeResult, run_episode
from .records import EXPERT_KIND
from .runner import run_episodes

POLICY = "expert-walkthrough"
EXPERT_ENVS = ("textworld",)  # environments whose games carry a walkthrough (`env.walkthrough`)
THINKING_RULE = ("thinking: a sentence per command verb (experio.agent.expert.thinking_for); explanation "
                 "(AgentFold): 'So I <action>.'")
FOLD_RULE = ("from turn 2 the latest step t-1 is folded: a move ('go ...') right after a block of moves fuses "
             "with it (range [that block's start, t-1], summary 'Walked <directions>; now in <room>.'); any other "
             "step becomes its own block (range [t-1, t-1], summary '<action>: <first sentence of its observation>').")
RULES_NOTE = "thinking, explanations and fold directives are written by rules (see config.json), not by a model"

_THOUGHTS = [
    (r"go (\w+)", "The way to the goal leads {0}."),
    (r"take (.+) from (.+)", "I need the {0} from the {1}."),
    (r"take (.+)", "I need the {0}."),
    (r"open (.+)", "The {0} is closed; opening it gets me further."),
    (r"unlock (.+) with (.+)", "The {0} is locked and the {1} opens it."),
    (r"insert (.+) into (.+)", "The goal wants the {0} in the {1}."),
    (r"put (.+) on (.+)", "The goal wants the {0} on the {1}."),
    (r"drop (.+)", "The goal wants the {0} dropped here."),
    (r"close (.+)", "The goal wants the {0} closed."),
    (r"lock (.+) with (.+)", "The goal wants the {0} locked with the {1}."),
    (r"eat (.+)", "The goal wants me to eat the {0}."),
    (r"examine (.+)", "I should look closely at the {0}."),
]


def thinking_for(command: str) -> str:
    """The rule-written thought before a command.

        >>> thinking_for("unlock safe with passkey")
        'The safe is locked and the passkey opens it.'
    """
    for pattern, template in _THOUGHTS:
        m = re.fullmatch(pattern, command.strip(), re.I)
        if m:
            return template.format(*m.groups())
    return f"Next toward the goal: {command}."


def walkthrough_action(command: str, admissible: Sequence[str] | None) -> str:
    """The admissible command a walkthrough command names (as is when nothing is listed).

        >>> walkthrough_action("Take key", ["go east", "take key from table"])
        'take key from table'
    """
    if not admissible:
        return command
    norm = " ".join(command.lower().split())
    same = [a for a in admissible if " ".join(a.lower().split()) == norm]
    longer = [a for a in admissible if " ".join(a.lower().split()).startswith(norm + " ")]
    if same or len(longer) == 1:
        return (same or longer)[0]
    raise ExpertError(f"the walkthrough command {command!r} is not admissible here (admissible: "
                      f"{', '.join(admissible[:12])}{' ...' if len(admissible) > 12 else ''})")


def fold_directive(turn: int, context: Any, actions: Sequence[str]) -> dict:
    """FOLD_RULE for `turn` >= 2, from the fold context's blocks and the actions of turns 1..t-1.

        >>> from experio.agent import FoldContext, Interaction
        >>> ctx = FoldContext(); ctx.reset("goal", "tools")
        >>> _ = ctx.record(1, Interaction(1, "e", "go east", "-= Hall =-\\nA hall."), None)
        >>> fold_directive(2, ctx, ["go east"])
        {'range': [1, 1], 'summary': 'Walked east; now in the Hall.'}
    """
    t1 = turn - 1
    latest, blocks = context.latest, context.blocks
    if _direction(actions[t1 - 1]) is None:
        first = re.split(r"(?<=[.!?])\s", " ".join(latest.observation.split()), maxsplit=1)[0]
        return {"range": [t1, t1], "summary": f"{actions[t1 - 1]}: {first}"}
    k = t1
    if blocks and all(_direction(actions[s - 1]) for s in range(blocks[-1].start, blocks[-1].end + 1)):
        k = blocks[-1].start  # deep consolidation: the moves since that block are one sub-goal
    room = re.search(r"-= (.+?) =-", latest.observation)
    where = f"; now in the {room.group(1)}" if room else ""
    return {"range": [k, t1], "summary": f"Walked {', '.join(_direction(actions[s - 1]) for s in range(k, turn))}{where}."}


def _direction(action: str) -> str | None:
    m = re.fullmatch(r"go (\w+)", action.strip(), re.I)
    return m.group(1).lower() if m else None


def clip_to_schema(text: str, schema: dict) -> str:
    """`text` cut to the schema's `maxLength` (ending in "..."), as a constrained model's field would be."""
    limit = schema.get("maxLength")
    return text if limit is None or len(text) <= limit else text[: limit - 3].rstrip() + "..."


@dataclass
class WalkthroughExpert(BaseLLM):
    """An `LLM` that answers each turn with the next walkthrough command, in the schema asked for.

    `context` is the context manager of the episode (AgentFold's blocks feed the fold rule).
    `prompts` and `texts` hold every prompt it was given and every response it wrote.
    Token counts are whitespace-separated words (it has no tokenizer).
    """

    walkthrough: list[str] = field(default_factory=list)
    context: ContextManager | None = None
    name: str = POLICY
    policy: str = POLICY
    prompts: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    def _complete(self, text: str, params: GenerationParams, json_schema: dict | None) -> Completion:
        props = (json_schema or {}).get("properties") or {"thinking": {}, "action": {}}
        turn = len(self.actions) + 1
        if turn > len(self.walkthrough):
            raise ExpertError(f"the walkthrough ({len(self.walkthrough)} commands) ended before the game was won")
        if "answer" in props:
            raise ExpertError("a walkthrough has no final answer; the expert plays games won by acting")
        action = walkthrough_action(self.walkthrough[turn - 1], props.get("action", {}).get("enum"))
        response: dict[str, Any] = {}
        for key, schema in props.items():
            if key == "thinking":
                response[key] = clip_to_schema(thinking_for(action), schema)
            elif key == "fold":
                if not hasattr(self.context, "blocks"):
                    raise ExpertError("the response asks for a fold directive but the expert has no fold context")
                d = fold_directive(turn, self.context, self.actions)
                response[key] = {**d, "summary": clip_to_schema(d["summary"], schema["properties"]["summary"])}
            elif key == "explanation":
                response[key] = clip_to_schema(f"So I {action}.", schema)
            elif key == "action":
                response[key] = action
            else:
                raise ExpertError(f"the expert cannot write response field {key!r}")
        out = json.dumps(response, ensure_ascii=False)
        self.prompts.append(text)
        self.texts.append(out)
        self.actions.append(action)
        return Completion(out, "stop", self.count_tokens(text), self.count_tokens(out))

    def _stream(self, text: str, params: GenerationParams):
        raise NotSupportedError("the walkthrough expert answers agent turns only (generate with a JSON schema)")

    def score(self, prompt: str, continuation: str):
        raise NotSupportedError("the walkthrough expert has no probabilities to score with")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def check_expert_env(env: str | Environment) -> None:
    """NoWalkthroughError unless the environment's games carry a walkthrough."""
    name = env if isinstance(env, str) else env.name
    if (env not in EXPERT_ENVS) if isinstance(env, str) else not hasattr(type(env), "walkthrough"):
        raise NoWalkthroughError(f"environment {name!r} has no walkthrough to replay; expert episodes work "
                                 f"with: {', '.join(EXPERT_ENVS)}")


def expert_episode(env: Environment, task: Task, context: str, config: AgentConfig, on_turn=None) -> EpisodeResult:
    """One expert episode: reset to read the walkthrough, replay it through `run_episode`, check the win."""
    env.reset(task)
    walkthrough = list(env.walkthrough)
    if not walkthrough:
        raise ExpertError(f"task {task.id} has an empty walkthrough; nothing to replay")
    if len(walkthrough) > config.max_steps:
        raise ExpertError(f"the walkthrough of {task.id} has {len(walkthrough)} commands, more than max_steps "
                          f"{config.max_steps}; raise --max-steps")
    ctx = make_context(context)
    result = run_episode(WalkthroughExpert(walkthrough=walkthrough, context=ctx), env, task, ctx, config, on_turn=on_turn)
    if not result.success:
        raise ExpertError(f"the walkthrough of {task.id} did not win its game ({result.steps} steps, reward "
                          f"{result.reward}); nothing of it was written")
    result.trajectory.details.update({"walkthrough": json.dumps(walkthrough), "rules": RULES_NOTE})
    return result


def run_expert(env: str | Environment, tasks: Sequence[Task], context: str, out: Path, *,
               max_steps: int = 40, resume: bool = False, env_options: dict[str, Any] | None = None,
               progress: bool = True, on_episode=None) -> dict[str, Any]:
    """Expert episodes of every task into the run folder `out` (kind "agent expert"); its metrics.

    Same folder layout, resume and report as `run_agent`. `max_steps` is the step budget the
    prompts show ("Turn t of max_steps"): use the one the tuned agent will run with.
    """
    check_expert_env(env)
    make_context(context)  # fail fast on an unknown name
    config = AgentConfig(max_steps=max_steps, temperature=0.0)
    settings = {"llm": POLICY, "policy": POLICY, "thinking_rule": THINKING_RULE,
                "fold_rule": FOLD_RULE if context == "fold" else None}
    return run_episodes(out, EXPERT_KIND, env, tasks, context, config, settings,
                        lambda e, task: expert_episode(e, task, context, config),
                        resume=resume, env_options=env_options, progress=progress, on_episode=on_episode)
