"""Contract A: `training_examples` re-renders every turn byte for byte as the loop prompted it.

Episodes run with the scripted model on a small in-memory environment (retries, repaired
directives, unreadable responses, rejected actions, final answers, memory guidance), the
exact prompts passed to `llm.generate` are captured, and the examples made from the recorded
trajectory (read back from the run folder's JSONL) must equal them. Other ADP trajectories
(the official converted samples) become chats.
"""

import json
import re
from pathlib import Path

import pytest

from experio.adp import Trajectory, read_trajectories
from experio.agent import (AgentConfig, AgentError, FoldContext, NoAssistantTurnError, ReActContext,
                           TrainingDataError, TrainingExample, make_context, run_agent, run_episode,
                           training_examples)
from experio.envs import InvalidActionError, Step, Task, ToolSpec
from experio.llm import ScriptedLLM, SchemaMismatchError, render_transcript

ADP_SAMPLES = sorted((Path(__file__).parent / "data" / "adp").glob("*/sample_std.json"))


from test_agent import Corridor  # noqa: E402  (the shared test environment)


class Recorder:
    """Wraps a model and records every (prompt, response text, readable) passed through generate."""

    def __init__(self, llm):
        self.llm, self.name, self.calls = llm, "recorder", []

    def generate(self, prompt, **kw):
        try:
            out = self.llm.generate(prompt, **kw)
        except SchemaMismatchError as e:
            self.calls.append((prompt, e.text, False))
            raise
        self.calls.append((prompt, out[0].text, True))
        return out

    def count_tokens(self, text):
        return self.llm.count_tokens(text)

    def expected(self, source_prefix):
        """The prompt of the attempt each turn used, with its text, for readable turns."""
        last = {}
        for prompt, text, ok in self.calls:
            last[int(re.search(r"Turn (\d+) of", prompt).group(1))] = (prompt, text, ok)
        return [TrainingExample(p, t, f"{source_prefix}#turn{turn}") for turn, (p, t, ok) in sorted(last.items()) if ok]


def r(action, fold=None, thinking="go on", explanation="closer"):
    out = {"thinking": thinking}
    if fold is not None:
        out["fold"] = fold
    out["explanation"] = explanation
    out["action"] = action
    return json.dumps(out)


FOLD_REPLIES = [
    r("go east"),                                                    # turn 1
    r("go east", {"range": [0, 1], "summary": "bad start"}),         # turn 2: invalid directive ...
    r("go west", {"range": [1, 1], "summary": "went east"}),         # ... retried, valid
    "not json at all", "{still not",                                 # turn 3: unreadable twice -> lost turn
    r("go east", {"range": [5, 3], "summary": "x"}),                 # turn 4: invalid ...
    r("go east", {"range": [9, 3], "summary": ""}),                  # ... and again: repaired
    r("go east", {"range": [1, 4], "summary": "walked east twice"}),  # turn 5: deep consolidation
    r("go east", {"range": [5, 5], "summary": "east"}),
    r("go east", {"range": [6, 6], "summary": "east"}),
]
REACT_REPLIES = [json.dumps({"thinking": t, "action": a}) for t, a in
                 [("start", "go east"), ("oops", "fly up"), ("back", "go west"), ("on", "go east"),
                  ("on", "go east"), ("on", "go east")]]


@pytest.mark.parametrize("context, replies, admissible", [
    ("fold", FOLD_REPLIES, True), ("react", REACT_REPLIES, False), ("fold", FOLD_REPLIES, False)])
def test_training_prompts_are_byte_equal_to_the_prompts_the_loop_used(tmp_path, context, replies, admissible):
    llm = Recorder(ScriptedLLM(replies=replies))
    task = Task("corridor", "c3", seed=0)
    config = AgentConfig(max_steps=7, constrain_fold=False)
    run_agent(llm, Corridor(admissible=admissible), [task], context, tmp_path, config=config, progress=False)
    (traj,) = read_trajectories(tmp_path / "trajectories.jsonl")  # through the wire format and back
    examples = training_examples(traj)
    expected = llm.expected(traj.id)
    assert examples == expected
    assert len(examples) >= 4 and all(isinstance(e.prompt, str) for e in examples)
    if context == "fold":  # the episode really had a retry, a lost turn and a repair, replayed alike
        d = traj.details
        assert d["unreadable_responses"] == "1" and d["directive_repairs"] == "1" and d["retries"] == "3"
        assert len(examples) == json.loads(d["steps"]) - 1
        assert "Your previous response was invalid" in examples[1].prompt
        assert "[Compressed Step 1 to 4] walked east twice" in examples[-1].prompt


def test_final_answer_turns_and_memory_guidance_are_re_rendered_too():
    llm = ScriptedLLM(replies=[json.dumps({"thinking": "w", "action": "go west"})] * 2
                      + [json.dumps({"thinking": "done", "answer": "42"})])
    task = Task("corridor", "c9", seed=1)
    r = run_episode(llm, Corridor(length=9, answers=True), task, ReActContext(), AgentConfig(max_steps=3),
                    guidance=lambda goal: f"Memory for '{goal}': walk east.")
    examples = training_examples(r.trajectory)
    assert [e.prompt for e in examples] == llm.prompts
    assert [e.completion for e in examples][-1] == json.dumps({"thinking": "done", "answer": "42"})
    assert "Memory for 'Reach room 9.': walk east." in examples[0].prompt
    assert "last turn" in examples[-1].prompt and r.trajectory.details["advice"].startswith("Memory for")


def test_each_context_strategy_replays_with_its_own_manager():
    for ctx in (FoldContext(), ReActContext()):
        replies = [r("go east")] + [r("go east", {"range": [t, t], "summary": f"s{t}"}) for t in (1, 2)]
        if ctx.name == "react":
            replies = [json.dumps({"thinking": "t", "action": "go east"})] * 3
        llm = ScriptedLLM(replies=replies)
        res = run_episode(llm, Corridor(), Task("corridor", "c3", 0), ctx, AgentConfig(max_steps=5))
        assert res.success and [e.prompt for e in training_examples(res.trajectory)] == llm.prompts
        assert [e.completion for e in training_examples(res.trajectory)] == replies
        assert make_context(res.trajectory.details["context"]).name == ctx.name


def test_records_made_before_responses_were_recorded_are_rendered_as_a_chat():
    llm = ScriptedLLM(replies=[json.dumps({"thinking": "east it is", "action": "go east"})] * 3)
    res = run_episode(llm, Corridor(), Task("corridor", "c3", 0), ReActContext(), AgentConfig(max_steps=5))
    old = res.trajectory.model_copy(deep=True)
    for key in ("responses", "admissible", "problems", "tools", "advice", "max_steps", "answers", "policy"):
        old.details.pop(key)
    examples = training_examples(old)
    assert len(examples) == 3 and all(isinstance(e.prompt, list) for e in examples)
    assert examples[0].prompt[0]["role"] == "system" and "go(direction: str)" in examples[0].prompt[0]["content"]
    assert examples[0].completion == 'east it is\n\ngo(direction="east")'
    assert [m["role"] for m in examples[1].prompt] == ["system", "user", "tool", "assistant", "tool"]


def test_a_damaged_record_is_a_clear_error():
    llm = ScriptedLLM(replies=[json.dumps({"thinking": "t", "action": "go east"})] * 3)
    res = run_episode(llm, Corridor(), Task("corridor", "c3", 0), ReActContext(), AgentConfig(max_steps=5))
    res.trajectory.details["responses"] = json.dumps(["{}"])
    with pytest.raises(TrainingDataError, match="'responses' has 1 entries for 3 steps"):
        training_examples(res.trajectory)


@pytest.mark.parametrize("path", ADP_SAMPLES, ids=lambda p: p.parent.name)
def test_converted_datasets_become_chats_with_one_example_per_assistant_turn(path):
    trajectories = list(read_trajectories(path))
    assert trajectories
    for traj in trajectories:
        examples = training_examples(traj)
        turns = [i for i in traj.content if i.class_.endswith("_action")
                 or (i.class_ == "text_observation" and i.source == "agent")]
        assert len(examples) == len(turns)
        for k, e in enumerate(examples, 1):
            assert e.source == f"{traj.id}#turn{k}" and e.completion.strip()
            assert all(set(m) == {"role", "content"} and isinstance(m["content"], str) for m in e.prompt)
            assert {m["role"] for m in e.prompt} <= {"system", "user", "assistant", "tool"}
            assert render_transcript(e.prompt).endswith("Assistant:")  # the llm layer renders it
        first = turns[0]
        if first.class_ == "code_action":
            assert f"```{first.language}\n{first.content}\n```" in examples[0].completion
        # each later prompt is the earlier prompt, its completion, and what came back
        if len(examples) > 1:
            nxt = examples[1].prompt
            assert nxt[: len(examples[0].prompt)] == examples[0].prompt
            assert nxt[len(examples[0].prompt)] == {"role": "assistant", "content": examples[0].completion}


def test_a_trajectory_without_an_assistant_turn_is_a_clear_error():
    traj = Trajectory.model_validate({"id": "only-talk", "details": {}, "content": [
        {"class_": "text_observation", "content": "hello", "name": None, "source": "user"},
        {"class_": "text_observation", "content": "a page", "name": None, "source": "environment"}]})
    with pytest.raises(NoAssistantTurnError, match="'only-talk' has no assistant turn") as e:
        training_examples(traj)
    assert isinstance(e.value, AgentError) and isinstance(e.value, ValueError)
