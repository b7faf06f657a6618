"""Corpus-level questions as an environment of the agent loop: the four tools, then an answer.

    >>> env = RetrievalEnv(RetrievalTools(corpus), questions)                    # doctest: +SKIP
    >>> result = run_episode(llm, env, question_task(questions[0]), ReActContext())  # doctest: +SKIP
    >>> result.reward, result.details.success                                    # doctest: +SKIP

Each question is one task (`question_task`: env "retrieval", name = the question id). The
agent's actions are tool calls written like Python calls, `filter(field="year", op="eq",
value=1995, within="R1")`, checked against `TOOL_SPECS`; a call that cannot run (an unknown
field, a wrong type, an unknown set) is an invalid action whose message the agent reads. The
episode ends with `answer(text="...")`, or with the final answer the loop asks for on the last
turn. The answer is scored against the gold answer (`metrics.score`): the step's reward is the
training reward of `rewards.trajectory_reward` (answer F1, gold-document recall, tool
exploration), success is an exact match, and `info` holds every part.
"""

from __future__ import annotations

from typing import Any, Sequence

from experio.agent import InvalidActionError, Step, Task, ToolSpec, bind_call, format_call, parse_call

from .bench import Question
from .errors import QuestionFileError, ToolError
from .metrics import score
from .rewards import RewardWeights, trajectory_reward
from .session import SPECS, ToolSession
from .tools import RetrievalTools

ENV_NAME = "retrieval"
ACTION_CHARS = 400  # the longest action: an answer may list several titles (AgentConfig.action_chars)
ANSWER_SPEC = ToolSpec("answer", "Give the final answer and end: the number, the title, or the titles in order, "
                       "separated by commas.", {"type": "object", "properties": {
                           "text": {"type": "string", "description": "the answer"}}, "required": ["text"]})
TOOL_SPECS = [ToolSpec(s["name"], s["description"], s["parameters"]) for s in SPECS] + [ANSWER_SPEC]


def question_task(question: Question) -> Task:
    """The task of one question (its id is the task name)."""
    return Task(ENV_NAME, question.id, 0, {"family": question.family})


class RetrievalEnv:
    """The `Environment` of corpus-level questions over one corpus (see the module docstring)."""

    name = ENV_NAME
    answers = True

    def __init__(self, tools: RetrievalTools, questions: Sequence[Question], *, show: int = 10,
                 weights: RewardWeights | None = None):
        self.retrieval = tools
        self.questions = {q.id: q for q in questions}
        self.tools = list(TOOL_SPECS)
        self.show, self.weights = show, weights or RewardWeights()
        self.session: ToolSession | None = None
        self.question: Question | None = None
        self.calls: list[str] = []
        self.last_answer: dict[str, Any] | None = None  # the scores of the open question's answer

    def reset(self, task: Task) -> Step:
        question = self.questions.get(task.name)
        if question is None:
            raise QuestionFileError(f"no question {task.name!r} in this environment's {len(self.questions)} questions")
        self.question, self.calls, self.last_answer = question, [], None
        self.session = ToolSession(self.retrieval, show=self.show)
        corpus = self.retrieval.corpus
        observation = (f"The corpus {corpus.name!r} has {len(corpus)} documents, each with a title, a text and "
                       f"the fields: {self.session.fields}.")
        return Step(observation, info={"goal": question.question, "question_id": question.id,
                                       "family": question.family})

    def step(self, action: str) -> Step:
        function, kwargs = self.parse_action(action)
        if function == "answer":
            return self.submit_answer(kwargs["text"])
        self.calls.append(format_call(function, kwargs))
        try:
            observation = self._session().call(function, kwargs)
        except ToolError as e:
            raise InvalidActionError(str(e)) from None
        return Step(observation, info={"tool": function})

    def submit_answer(self, answer: str) -> Step:
        question, session = self._question(), self._session()
        parts = score(str(answer), question, session.seen)
        reward = trajectory_reward(parts["f1"], parts["recall"], self.calls, self.weights)
        info = {**parts, **reward, "answer": str(answer), "gold": question.answer_text, "tool_calls": len(self.calls)}
        self.last_answer = info
        return Step(f"Answer given: {answer}", reward=reward["reward"], done=True, success=parts["em"] == 1.0,
                    info=info)

    def parse_action(self, action: str) -> tuple[str, dict[str, Any]]:
        try:
            function, args, kwargs = parse_call(action)
        except InvalidActionError:
            raise InvalidActionError(f"cannot read {action[:80]!r} as a tool call; write it like "
                                     'filter(field="year", op="eq", value=1995) or answer(text="...")') from None
        return function, bind_call(self.tools, function, args, kwargs)

    def format_action(self, function: str, kwargs: dict[str, Any]) -> str:
        return format_call(function, kwargs)

    def close(self) -> None:
        self.session = None

    def _session(self) -> ToolSession:
        if self.session is None:
            raise InvalidActionError("no question is open; call reset(task) first")
        return self.session

    def _question(self) -> Question:
        if self.question is None:
            raise InvalidActionError("no question is open; call reset(task) first")
        return self.question
