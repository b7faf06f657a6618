"""The agent loop and context managers with the scripted model on a small in-memory environment."""

import json

import pytest

from experio.adp import read_trajectories
from experio.agent import (
    AgentConfig, Block, FoldContext, Interaction, ReActContext, build_prompt,
    response_schema, run_agent, run_episode,
)
from experio.envs import InvalidActionError, Step, Task, ToolSpec
from experio.errors import ResumeRequired
from experio.llm import ScriptedLLM


class Corridor:
    """Rooms 0..length; start in 0, succeed on reaching the last. Admissible actions known."""

    name = "corridor"
    tools = [ToolSpec("go", "Walk east or west.", {"type": "object", "properties": {"direction": {"type": "string", "enum": ["east", "west"]}}, "required": ["direction"]})]

    def __init__(self, length=3, answers=False, admissible=True):
        self.length, self.answers, self.show_admissible = length, answers, admissible
        self.closed = False

    def _step(self, text, reward=0.0):
        done = self.room == self.length
        adm = ["go east", "go west"] if self.show_admissible else None
        return Step(text, reward, done, done, adm, {"goal": f"Reach room {self.length}."})

    def reset(self, task):
        self.room = 0
        return self._step("You are in room 0.")

    def parse_action(self, action):
        parts = action.split()
        if len(parts) != 2 or parts[0] != "go" or parts[1] not in ("east", "west"):
            raise InvalidActionError(f"unknown action {action!r}; try go east")
        return "go", {"direction": parts[1]}

    def step(self, action):
        _, kw = self.parse_action(action)
        self.room = max(0, self.room + (1 if kw["direction"] == "east" else -1))
        return self._step(f"You are in room {self.room}.", reward=1.0 if self.room == self.length else 0.0)

    def submit_answer(self, text):
        ok = text.strip() == "42"
        return Step("answer received", 1.0 if ok else 0.0, True, ok, None, {})

    def format_action(self, function, kwargs):
        return f"{function} {kwargs['direction']}"

    def close(self):
        self.closed = True


def reply(action, fold=None, thinking="go on", explanation="closer to the goal"):
    out = {"thinking": thinking}
    if fold is not None:
        out["fold"] = fold
    out["explanation"] = explanation
    out["action"] = action
    return json.dumps(out)


TASK = Task("corridor", "c3", seed=0)


# -- folding semantics -----------------------------------------------------------------
def fold_through(directives):
    ctx = FoldContext()
    ctx.reset("goal", "tools")
    problems = []
    for t, d in enumerate(directives, start=1):
        problems.append(ctx.record(t, Interaction(t, f"e{t}", f"a{t}", f"o{t}"), d))
    return ctx, problems


def test_granular_condensation_keeps_one_block_per_step():
    ctx, problems = fold_through([None, {"range": [1, 1], "summary": "s1"}, {"range": [2, 2], "summary": "s2"}])
    assert ctx.blocks == [Block(1, 1, "s1"), Block(2, 2, "s2")]
    assert ctx.latest.step == 3 and problems == [[], [], []]
    assert ctx.render().splitlines()[:2] == ["[Compressed Step 1] s1", "[Compressed Step 2] s2"]
    assert "[Step 3]" in ctx.render() and "Observation: o3" in ctx.render()


def test_deep_consolidation_fuses_blocks_and_latest():
    ctx, problems = fold_through([None, {"range": [1, 1], "summary": "s1"}, {"range": [2, 2], "summary": "s2"},
                                  {"range": [1, 3], "summary": "steps 1-3 explored the hall"}])
    assert ctx.blocks == [Block(1, 3, "steps 1-3 explored the hall")]
    assert ctx.blocks[0].label == "[Compressed Step 1 to 3]"
    assert all(p == [] for p in problems)


def test_invalid_ranges_are_detected_and_repaired_without_corrupting_history():
    ctx, _ = fold_through([None, {"range": [1, 1], "summary": "s1"}, {"range": [2, 2], "summary": "s2"}])
    assert ctx.validate(4, {"range": [1, 2], "summary": "x"}) == ["range must end at the latest step 3, got 2"]
    assert "not a block boundary" in ctx.validate(4, {"range": [0, 3], "summary": "x"})[0]
    assert ctx.validate(4, {"range": "1-3"})[0].startswith("range must be two integers")
    assert ctx.validate(4, None)[0].startswith("missing folding directive")
    # start 2.5 is impossible, start 0 snaps down to... nothing below 1: repaired to the latest step
    assert ctx.repair(4, {"range": [0, 7], "summary": "x"}) == {"range": [3, 3], "summary": "x"}
    problems = ctx.record(4, Interaction(4, "e4", "a4", "o4"), {"range": [2, 9], "summary": "two and three"})
    assert problems and ctx.blocks == [Block(1, 1, "s1"), Block(2, 3, "two and three")]
    # a missing summary gets a mechanical one from the latest interaction; steps stay covered
    ctx.record(5, Interaction(5, "e5", "a5", "o5"), {"range": [4, 4], "summary": ""})
    assert ctx.blocks[-1] == Block(4, 4, "did 'a4' -> o4")
    covered = [s for b in ctx.blocks for s in range(b.start, b.end + 1)]
    assert covered == [1, 2, 3, 4]


def test_react_keeps_everything_verbatim():
    ctx = ReActContext()
    ctx.reset("g", "t")
    for t in (1, 2):
        ctx.record(t, Interaction(t, f"e{t}", f"a{t}", f"o{t}"), None)
    assert ctx.render().count("[Step") == 2


# -- the loop --------------------------------------------------------------------------
def test_react_episode_succeeds_and_records_adp():
    llm = ScriptedLLM(replies=[json.dumps({"thinking": "east", "action": "go east"})] * 3)
    r = run_episode(llm, Corridor(), TASK, ReActContext(), AgentConfig(max_steps=10))
    assert r.success and r.steps == 3 and r.reward == 1.0
    assert len(r.prompt_tokens) == 3 and r.prompt_tokens[2] > r.prompt_tokens[0]  # history grows
    items = r.trajectory.content
    assert [i.class_ for i in items[:4]] == ["text_observation", "text_observation", "api_action", "text_observation"]
    assert items[2].function == "go" and items[2].kwargs == {"direction": "east"}
    assert json.loads(r.trajectory.details["rewards"]) == [0.0, 0.0, 1.0]
    # the prompt lists the admissible actions and the action schema only allows them
    assert "Valid actions now: go east, go west" in llm.prompts[0]


def test_fold_episode_counts_invalid_directives_and_repairs():
    replies = [
        reply("go east"),                                            # turn 1: no directive
        reply("go east", {"range": [1, 5], "summary": "walked"}),    # invalid: end != 1
        reply("go east", {"range": [1, 5], "summary": "walked"}),    # retry: still invalid -> repaired
        reply("go east", {"range": [1, 2], "summary": "walked east twice"}),  # deep consolidation
    ]
    llm = ScriptedLLM(replies=replies)
    r = run_episode(llm, Corridor(), TASK, FoldContext(), AgentConfig(max_steps=10, retries=1, constrain_fold=False))
    assert r.success and r.steps == 3
    assert r.invalid_directives == 1 and r.directive_repairs == 1 and r.retries == 1
    assert "Your previous response was invalid: range must end at the latest step 1" in llm.prompts[2]
    assert '"range": [k, 2]' in llm.prompts[3] and "k is 1, 2" in llm.prompts[3]


def test_fold_prompt_stays_flat_while_react_grows():
    def run(ctx, n):
        replies = [reply("go west", None if t == 1 else {"range": [1, t - 1], "summary": "went west, still room 0"}) for t in range(1, n + 1)]
        if ctx.name == "react":
            replies = [json.dumps({"thinking": "west", "action": "go west"})] * n
        return run_episode(ScriptedLLM(replies=replies), Corridor(), TASK, ctx, AgentConfig(max_steps=n))
    react, fold = run(ReActContext(), 20), run(FoldContext(), 20)
    assert react.prompt_tokens[-1] > react.prompt_tokens[1] + 100
    assert fold.prompt_tokens[-1] < 0.5 * react.prompt_tokens[-1]
    assert max(fold.prompt_tokens[2:]) - min(fold.prompt_tokens[2:]) <= 3  # deep consolidation: flat
    assert not react.success and react.steps == 20


def test_invalid_action_policy_without_admissible_list():
    replies = [json.dumps({"thinking": "?", "action": "fly up"})] + [json.dumps({"thinking": "e", "action": "go east"})] * 3
    llm = ScriptedLLM(replies=replies)
    r = run_episode(llm, Corridor(admissible=False), TASK, ReActContext(), AgentConfig(max_steps=10))
    assert r.success and r.invalid_actions == 1 and r.steps == 4
    assert "Invalid action: unknown action 'fly up'" in llm.prompts[1]
    assert r.trajectory.content[2].class_ == "message_action"


def test_unreadable_response_is_retried_then_counted():
    llm = ScriptedLLM(replies=["not json", "still not json"] + [json.dumps({"thinking": "e", "action": "go east"})] * 3)
    r = run_episode(llm, Corridor(), TASK, ReActContext(), AgentConfig(max_steps=10, retries=1))
    assert r.success and r.invalid_actions == 1 and r.retries == 1 and r.steps == 4


def test_last_turn_asks_for_the_final_answer():
    env = Corridor(length=5, answers=True)
    replies = [reply("go east"), reply("go east", {"range": [1, 1], "summary": "s"}),
               json.dumps({"thinking": "done", "fold": {"range": [2, 2], "summary": "s"}, "explanation": "answer", "answer": "42"})]
    llm = ScriptedLLM(replies=replies)
    r = run_episode(llm, env, TASK, FoldContext(), AgentConfig(max_steps=3))
    assert "This is your last turn" in llm.prompts[2] and "Valid actions now" not in llm.prompts[2]
    assert r.answer == "42" and r.success and r.steps == 3
    assert r.trajectory.content[-1].class_ == "message_action"
    schema = response_schema(FoldContext(), 3, Step("x"), last_turn=True, answers=True)
    assert "answer" in schema["properties"] and "action" not in schema["properties"]


# -- runs: resume ----------------------------------------------------------------------
def test_resume_after_an_interrupted_run_loses_nothing(tmp_path):
    tasks = [Task("corridor", f"c{i}", seed=i) for i in range(4)]
    ok = json.dumps({"thinking": "e", "action": "go east"})
    calls = {"n": 0}

    def stop_after_two(result):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    env = Corridor()
    with pytest.raises(KeyboardInterrupt):
        run_agent(ScriptedLLM(responder=lambda p: ok), env, tasks, "react", tmp_path, progress=False, on_episode=stop_after_two)
    assert len(list(read_trajectories(tmp_path / "trajectories.jsonl"))) == 2
    with pytest.raises(ResumeRequired, match="pass --resume"):
        run_agent(ScriptedLLM(responder=lambda p: ok), env, tasks, "react", tmp_path, progress=False)
    metrics = run_agent(ScriptedLLM(responder=lambda p: ok), env, tasks, "react", tmp_path, resume=True, progress=False)
    ids = [t.id for t in read_trajectories(tmp_path / "trajectories.jsonl")]
    assert sorted(ids) == sorted(f"react/{t.id}" for t in tasks) and len(ids) == 4
    assert metrics["react"]["episodes"] == 4 and metrics["react"]["success_rate"] == 1.0
    assert (tmp_path / "report.md").read_text().count("| react |") == 1
    assert (tmp_path / "prompt_tokens.png").stat().st_size > 1000


def test_constrained_fold_schema_admits_only_valid_directives():
    import jsonschema

    ctx, _ = fold_through([None, {"range": [1, 1], "summary": "s1"}, {"range": [2, 2], "summary": "s2"}])
    schema = response_schema(ctx, 4, Step("x", admissible=["go east"]), last_turn=False, answers=False, constrain_fold=True)
    ok = {"thinking": "t", "fold": {"range": [2, 3], "summary": "s"}, "explanation": "e", "action": "go east"}
    jsonschema.validate(ok, schema)
    for bad_range in ([0, 3], [2, 2], [1, 3, 4]):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**ok, "fold": {"range": bad_range, "summary": "s"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**ok, "action": "fly"}, schema)


def test_guidance_is_asked_once_with_the_goal_and_shown_every_turn():
    seen = []
    llm = ScriptedLLM(replies=[json.dumps({"thinking": "e", "action": "go east"})] * 3)
    r = run_episode(llm, Corridor(), TASK, ReActContext(), AgentConfig(max_steps=5),
                    guidance=lambda goal: seen.append(goal) or "Memory: walking east worked before.")
    assert seen == ["Reach room 3."] and r.success
    assert all("Memory: walking east worked before." in p for p in llm.prompts)
    assert r.trajectory.details["goal"] == "Reach room 3."


def test_unreadable_fold_turn_is_not_counted_as_a_directive_repair():
    replies = [reply("go east"), "not json", "still not json",
               reply("go east", {"range": [1, 2], "summary": "went east"}), reply("go east", {"range": [1, 3], "summary": "east"})]
    r = run_episode(ScriptedLLM(replies=replies), Corridor(), TASK, FoldContext(),
                    AgentConfig(max_steps=10, retries=1, constrain_fold=False))
    assert r.success and r.steps == 4
    assert r.unreadable_responses == 1 and r.directive_repairs == 0 and r.invalid_actions == 1
    assert r.trajectory.details["unreadable_responses"] == "1"


# -- the context strategy: what the loop asks of it ----------------------------------------
def test_context_managers_declare_their_schema_fields_and_instruction():
    react, fold = ReActContext(), FoldContext()
    assert react.response_fields(3, constrain=True) == {}
    assert list(fold.response_fields(1, constrain=True)) == ["explanation"]
    assert list(fold.response_fields(2, constrain=False)) == ["fold", "explanation"]
    schema = response_schema(fold, 2, Step("x", admissible=["go east"]), last_turn=False, answers=False)
    assert list(schema["properties"]) == ["thinking", "fold", "explanation", "action"]
    assert '"fold": {"range": [k, 1]' in fold.instruction(2, 5) and "fold" not in react.instruction(2, 5)
    assert react.directive({"fold": {"range": [1, 1]}}) is None and react.validate(2, None) == []
    assert fold.directive({"fold": {"range": [1, 1]}}) == {"range": [1, 1]}


def test_loop_runs_any_context_strategy_without_knowing_it():
    class Notes(ReActContext):
        """A strategy the loop has never heard of: each response must carry a one-word note."""

        name = "notes"

        def response_fields(self, turn, constrain):
            return {"note": {"type": "string"}}

        def directive(self, response):
            return response.get("note")

        def validate(self, turn, directive):
            return [] if directive and " " not in directive else ["note must be one word"]

    replies = [json.dumps({"thinking": "e", "note": "two words", "action": "go east"}),
               json.dumps({"thinking": "e", "note": "east", "action": "go east"})] + \
              [json.dumps({"thinking": "e", "note": "east", "action": "go east"})] * 2
    llm = ScriptedLLM(replies=replies)
    r = run_episode(llm, Corridor(), TASK, Notes(), AgentConfig(max_steps=5, retries=1))
    assert r.success and r.steps == 3 and r.invalid_directives == 1 and r.retries == 1 and r.directive_repairs == 0
    assert "Your previous response was invalid: note must be one word" in llm.prompts[1]
    assert json.loads(r.trajectory.details["fold_directives"]) == ["east", "east", "east"]


# -- episode details: one typed record --------------------------------------------------
def test_episode_details_round_trip_through_the_trajectory():
    from experio.agent import EpisodeDetails

    llm = ScriptedLLM(replies=[json.dumps({"thinking": "east", "action": "go east"})] * 3)
    r = run_episode(llm, Corridor(), TASK, ReActContext(), AgentConfig(max_steps=10))
    back = EpisodeDetails.from_details(r.trajectory.details)
    assert back == r.details
    assert back.task == TASK and back.success and back.steps == 3 and back.rewards == [0.0, 0.0, 1.0]
    assert back.prompt_tokens == r.prompt_tokens and back.goal == "Reach room 3." and back.llm == llm.name
    assert all(isinstance(v, str) for v in r.trajectory.details.values())


def test_old_records_without_newer_keys_still_read():
    from experio.agent import EpisodeDetails, EpisodeRecordError

    llm = ScriptedLLM(replies=[json.dumps({"thinking": "east", "action": "go east"})] * 3)
    details = dict(run_episode(llm, Corridor(), TASK, ReActContext(), AgentConfig(max_steps=10)).trajectory.details)
    for newer in ("unreadable_responses", "goal", "invalid_directives"):
        del details[newer]
    old = EpisodeDetails.from_details(details)
    assert old.unreadable_responses == 0 and old.goal == "" and old.steps == 3 and old.success
    del details["prompt_tokens"]
    with pytest.raises(EpisodeRecordError, match="no 'prompt_tokens'"):
        EpisodeDetails.from_details(details)
    with pytest.raises(EpisodeRecordError, match="'steps' cannot be read"):
        EpisodeDetails.from_details({**old.to_details(), "steps": "three"})


# -- available_apis: the trajectories name their tools ------------------------------------
def test_agent_trajectories_validate_with_their_own_available_apis(tmp_path):
    from experio.adp import validate_file
    from experio.agent import available_apis

    tasks = [Task("corridor", f"c{i}", seed=i) for i in range(2)]
    replies = [json.dumps({"thinking": "?", "action": "fly up"})] + [json.dumps({"thinking": "e", "action": "go east"})] * 7
    run_agent(ScriptedLLM(replies=replies), Corridor(admissible=False), tasks, "react", tmp_path, progress=False)
    lines = [json.loads(line) for line in (tmp_path / "trajectories.jsonl").read_text().splitlines()]
    assert all(line["schema_version"] == "1.2.0" for line in lines)
    assert lines[0]["available_apis"] == available_apis(Corridor.tools)
    assert lines[0]["available_apis"][0].startswith("go(direction: str)\n    Walk east or west.")
    calls = [i for line in lines for i in line["content"] if i["class_"] == "api_action"]
    assert {c["function"] for c in calls} == {"go"} and all(set(c["kwargs"]) == {"direction"} for c in calls)
    report = validate_file(tmp_path / "trajectories.jsonl")
    assert report.rows == 2 and report.errors == 0 and report.warnings == 0, "\n".join(report.lines())
    # the check is real: a trajectory calling a tool it does not list fails
    lines[0]["available_apis"] = ["walk(direction: str)\n    Walk.\n"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert validate_file(bad).errors > 0


# -- run folders: bad input --------------------------------------------------------------
def ok_llm():
    return ScriptedLLM(responder=lambda p: json.dumps({"thinking": "e", "action": "go east"}))


def test_report_refuses_another_commands_folder_and_writes_nothing(tmp_path):
    from experio.agent import write_report
    from experio.errors import RunFolderError

    game = tmp_path / "game"
    game.mkdir()
    (game / "config.json").write_text(json.dumps({"kind": "game"}))
    (game / "trajectories.jsonl").write_text('{"id": "g1", "content": [], "details": {}}\n')
    with pytest.raises(RunFolderError, match="`experio game`"):
        write_report(game)
    assert sorted(p.name for p in game.iterdir()) == ["config.json", "trajectories.jsonl"]


def test_report_refuses_a_legacy_memory_folder_before_writing(tmp_path):
    from experio.agent import NotAnAgentRunError, write_report

    run_agent(ok_llm(), Corridor(), [TASK], "react", tmp_path / "agent", progress=False)
    line = json.loads((tmp_path / "agent" / "trajectories.jsonl").read_text())
    legacy = tmp_path / "memory"
    legacy.mkdir()  # made before folders named their kind: no config.json "kind"
    line["details"] |= {"method": "reasoningbank", "counted": "true"}
    (legacy / "trajectories.jsonl").write_text(json.dumps(line) + "\n")
    with pytest.raises(NotAnAgentRunError, match="memory-run records.*experio memory report"):
        write_report(legacy)
    with pytest.raises(NotAnAgentRunError):
        run_agent(ok_llm(), Corridor(), [TASK], "react", legacy, progress=False)
    assert [p.name for p in legacy.iterdir()] == ["trajectories.jsonl"]


def test_unknown_context_lists_the_valid_ones(tmp_path):
    from experio.agent import UnknownContextError, make_context
    from experio.errors import UsageError

    with pytest.raises(UnknownContextError, match="unknown context manager 'flod'; choose one of: fold, react"):
        run_agent(ok_llm(), Corridor(), [TASK], "flod", tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()
    with pytest.raises(UsageError):
        make_context("")
