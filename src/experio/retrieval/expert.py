"""Tool-use trajectories for SFT: each question's plan executed through the agent loop.

    >>> result = plan_episode(env, question, "react", AgentConfig(max_steps=6))   # doctest: +SKIP
    >>> result.success, [s for s in result.trajectory.content][:3]               # doctest: +SKIP

MARAG-R1 fine-tunes on tool-use trajectories before RL; the paper's come from a stronger model.
experio makes them from the benchmark generator's own plans (`Question.plan`): `PlanExpert` is a
policy with the `LLM` protocol, so the episode runs through the same `run_episode`, prompts,
response schema and context manager as a model's episode, and is recorded the same way (ADP,
same tools, same observations). Only the response is not a model's:

- action: the plan's next tool call (`format_call`), then `answer(text=...)` with what the plan's
  last result says (`bench.answer_from`), so a plan that does not reproduce the gold answer fails;
- thinking: written by a rule from the call (`thinking_for_call`); explanation (AgentFold):
  "So I call <tool>.";
- fold directive (AgentFold, from turn 2): `experio.agent.fold_directive`, the agent's stated
  rule (each step its own block, "<action>: <first sentence of its result>").

Details say so: "policy" is "expert-plan", "rules" names the rule-written parts. An episode that
does not reach an exact match raises ExpertError and nothing of it is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from experio.agent import (EXPERT_KIND, AgentConfig, EpisodeResult, ExpertError, clip_to_schema, format_call,
                           fold_directive,
                           make_context, run_episode, run_episodes)
from experio.llm import BaseLLM, Completion, GenerationParams, NotSupportedError

from .bench import Question, answer_from, check_disjoint, run_plan
from .env import ACTION_CHARS, RetrievalEnv, question_task
from .tools import RetrievalTools

POLICY = "expert-plan"
RULES_NOTE = ("actions: the benchmark generator's plan, then the gold answer; thinking, explanations and fold "
              "directives are written by rules (experio.retrieval.expert), not by a model")


def thinking_for_call(tool: str, args: dict[str, Any]) -> str:
    """The rule-written thought before a tool call.

        >>> thinking_for_call("filter", {"field": "year", "op": "eq", "value": 1995, "within": "R1"})
        'I keep the documents of R1 whose year eq 1995.'
        >>> thinking_for_call("aggregate", {"op": "count", "over": "R2"})
        'Counting R2 answers the question.'
    """
    if tool == "filter":
        where = f"of {args['within']} " if args.get("within") else ""
        verb = "keep" if where else "need"
        return f"I {verb} the documents {where}whose {args['field']} {args['op']} {args['value']}."
    if tool == "aggregate":
        over = args.get("over") or "the corpus"
        if args["op"] == "count":
            return f"Counting {over} answers the question."
        return f"The {args['op']} of {args.get('field')} over {over} answers the question."
    if tool == "answer":
        return "The last result answers the question."
    return f"I search for {args.get('query')!r}."


@dataclass
class PlanExpert(BaseLLM):
    """An `LLM` that answers each turn with the plan's next call, then the gold answer."""

    question: Question | None = None
    answer: str = ""  # what the plan's last result says (`answer_from`), not the gold answer
    context: Any = None
    name: str = POLICY
    policy: str = POLICY
    calls: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)  # every prompt it was given, in order
    texts: list[str] = field(default_factory=list)  # every response it wrote

    def _complete(self, text: str, params: GenerationParams, json_schema: dict | None) -> Completion:
        if self.question is None:
            raise ExpertError("the plan expert needs a question")
        props = (json_schema or {}).get("properties") or {"thinking": {}, "action": {}}
        plan = self.question.plan
        turn = len(self.calls) + 1
        if turn <= len(plan):
            tool, args = plan[turn - 1]["tool"], dict(plan[turn - 1]["args"])
        else:
            tool, args = "answer", {"text": self.answer}
        action = format_call(tool, args)
        response: dict[str, Any] = {}
        for key, schema in props.items():
            if key == "thinking":
                response[key] = clip_to_schema(thinking_for_call(tool, args), schema)
            elif key == "fold":
                d = fold_directive(turn, self.context, self.calls)
                response[key] = {**d, "summary": clip_to_schema(d["summary"], schema["properties"]["summary"])}
            elif key == "explanation":
                response[key] = clip_to_schema(f"So I call {tool}.", schema)
            elif key == "action":
                if len(action) > schema.get("maxLength", len(action)):
                    raise ExpertError(f"the call {action[:60]}... is longer than the {schema['maxLength']} characters "
                                      "an action may have; raise AgentConfig.action_chars")
                response[key] = action
            elif key == "answer":
                response[key] = self.answer
            else:
                raise ExpertError(f"the plan expert cannot write response field {key!r}")
        out = json.dumps(response, ensure_ascii=False)
        self.prompts.append(text)
        self.texts.append(out)
        self.calls.append(action)
        return Completion(out, "stop", self.count_tokens(text), self.count_tokens(out))

    def _stream(self, text: str, params: GenerationParams):
        raise NotSupportedError("the plan expert answers agent turns only (generate with a JSON schema)")

    def score(self, prompt: str, continuation: str):
        raise NotSupportedError("the plan expert has no probabilities to score with")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def plan_episode(env: RetrievalEnv, question: Question, context: str, config: AgentConfig) -> EpisodeResult:
    """One expert episode of `question` (ExpertError unless it ends in an exact match)."""
    if len(question.plan) + 1 > config.max_steps:
        raise ExpertError(f"the plan of {question.id} has {len(question.plan)} calls and an answer, more than "
                          f"max_steps {config.max_steps}; raise --max-steps")
    _, answer, _ = answer_from(run_plan(env.retrieval, question.plan), env.retrieval.corpus, question.family)
    ctx = make_context(context)
    result = run_episode(PlanExpert(question=question, answer=answer, context=ctx), env, question_task(question), ctx,
                         config)
    if result.invalid_actions:
        raise ExpertError(f"a call of the plan of {question.id} was invalid ({result.invalid_actions} in all); "
                          "nothing of it was written")
    if not result.success:
        raise ExpertError(f"the plan of {question.id} did not reproduce its gold answer ({answer!r} vs "
                          f"{question.answer_text!r}); nothing of it was written")
    result.trajectory.details.update({"rules": RULES_NOTE, "question": question.question})
    return result


def run_plan_experts(questions: Sequence[Question], tools: RetrievalTools, context: str, out: Path, *,
                     max_steps: int = 8, eval_questions: Sequence[Question] | None = None, resume: bool = False,
                     progress: bool = True) -> dict[str, Any]:
    """Expert episodes of every question into `out` (kind "agent expert": `experio train sft` reads it).

    With `eval_questions` (the test split), a question text or gold set shared with it is refused
    before anything runs. Returns the context's metrics (success rate 1.0: every episode is exact).
    """
    if eval_questions is not None:
        check_disjoint(questions, eval_questions)
    make_context(context)
    config = AgentConfig(max_steps=max_steps, temperature=0.0, action_chars=ACTION_CHARS)
    settings = {"llm": POLICY, "policy": POLICY, "rules": RULES_NOTE, "corpus": tools.corpus.name}
    env = RetrievalEnv(tools, questions)
    metrics = run_episodes(out, EXPERT_KIND, env, [question_task(q) for q in questions], context, config, settings,
                           lambda e, task: plan_episode(e, e.questions[task.name], context, config),
                           resume=resume, progress=progress)
    return {"episodes": metrics[context]["episodes"], **metrics[context]}


def train_agent(questions: Sequence[Question], tools: RetrievalTools, out: Path, *, context: str = "react",
                max_steps: int = 8, eval_questions: Sequence[Question] | None = None, resume: bool = False,
                progress: bool = True, gguf: bool = True, **sft_settings: Any) -> dict[str, Any]:
    """MARAG-R1's first stage in one call: expert trajectories of `questions` into `out/expert`,
    SFT (LoRA, `experio.train.sft`) into `out/sft`, the tuned model exported to `out/sft/model.gguf`
    (unless `gguf=False`: a base that is not a GGUF file has no GGUF to merge into).

    Each stage is skipped when its output is there (rerun with `resume=True` to continue a stopped
    run). Returns the paths and the SFT figures; RL is the next stage (`retrieval_rl`,
    `init_adapter=out/sft/adapter`).
    """
    from experio.train import export, sft

    out = Path(out)
    run_plan_experts(questions, tools, context, out / "expert", max_steps=max_steps, eval_questions=eval_questions,
                     resume=resume or (out / "expert").exists(), progress=progress)
    adapter = out / "sft" / "adapter"
    if not adapter.exists():
        resume_sft = (out / "sft" / "checkpoints").exists()
        sft([out / "expert" / "trajectories.jsonl"], out=out / "sft", resume=resume_sft, progress=progress,
            **sft_settings)
    model = out / "sft" / "model.gguf"
    if gguf and not model.exists():
        export(out / "sft", hf=False)
    return {"expert": str(out / "expert" / "trajectories.jsonl"), "adapter": str(adapter),
            "gguf": str(model) if gguf else None}
