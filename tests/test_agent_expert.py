"""Expert episodes: walkthroughs replayed through the agent loop, on real TextWorld games.

Small games (3 rooms, 4 objects, quest length 2 and 4) generate locally in a few seconds and
are cached. The rules (mapping, thoughts, folding) are also checked without TextWorld.
"""

import json

import pytest
from typer.testing import CliRunner

from experio.adp import read_trajectories, validate_file
from experio.agent import (AgentConfig, ExpertError, FoldContext, Interaction, NoWalkthroughError, SeedOverlapError,
                           WalkthroughExpert, check_disjoint, check_expert_env, fold_directive, make_context,
                           run_episode, run_expert, thinking_for, training_examples, walkthrough_action)
from experio.cli import app
from experio.envs import Step, Task, ToolSpec, make_env, task_stream
from experio.errors import RunFolderError

runner = CliRunner()
SMALL = {"world_size": 3, "nb_objects": 4}
SMALL_ARGS = ["--setting", "world_size=3", "--setting", "nb_objects=4"]


# -- the rules, without TextWorld -------------------------------------------------------------
def test_walkthrough_commands_map_to_the_admissible_command_they_name():
    assert walkthrough_action("go east", ["go east", "go west"]) == "go east"
    assert walkthrough_action("Take  Key", ["take key from table", "go west"]) == "take key from table"
    assert walkthrough_action("open door", None) == "open door"  # nothing listed: as is
    with pytest.raises(ExpertError, match="'eat apple' is not admissible here"):
        walkthrough_action("eat apple", ["go east"])
    with pytest.raises(ExpertError):  # two longer commands: ambiguous, not guessed
        walkthrough_action("take key", ["take key from table", "take key from box"])


def test_thoughts_are_written_by_a_rule_per_verb():
    assert thinking_for("go north") == "The way to the goal leads north."
    assert thinking_for("take bug from coffer") == "I need the bug from the coffer."
    assert thinking_for("insert worm into box") == "The goal wants the worm in the box."
    assert thinking_for("xyzzy") == "Next toward the goal: xyzzy."


def test_the_fold_rule_fuses_runs_of_moves_and_condenses_every_other_step():
    ctx, actions = FoldContext(), []
    ctx.reset("goal", "tools")
    steps = [("go south", "-= Spare Room =-\nA room."), ("go east", "-= Studio =-\nA studio."),
             ("open coffer", "You open the coffer, revealing a bug. Nice."), ("go west", "-= Spare Room =-\nBack.")]
    directives = []
    for turn, (action, obs) in enumerate(steps, 1):
        d = fold_directive(turn, ctx, actions) if turn > 1 else None
        directives.append(d)
        assert ctx.record(turn, Interaction(turn, "e", action, obs), d) == []  # always valid
        actions.append(action)
    directives.append(fold_directive(5, ctx, actions))
    assert directives[1:] == [
        {"range": [1, 1], "summary": "Walked south; now in the Spare Room."},
        {"range": [1, 2], "summary": "Walked south, east; now in the Studio."},  # a run of moves: one block
        {"range": [3, 3], "summary": "open coffer: You open the coffer, revealing a bug."},
        {"range": [4, 4], "summary": "Walked west; now in the Spare Room."},  # after a non-move: a new block
    ]


class Line:
    """Walk east to room `length`; its walkthrough is given (and may be too short to win)."""

    name = "line"
    answers = False
    tools = [ToolSpec("go", "Walk east.", {"type": "object", "properties": {"direction": {"type": "string"}},
                                            "required": ["direction"]})]

    def __init__(self, walkthrough, length=2):
        self._walkthrough, self.length = walkthrough, length

    @property
    def walkthrough(self):
        return list(self._walkthrough)

    def reset(self, task):
        self.room = 0
        return Step("Room 0.", admissible=["go east"], info={"goal": f"Reach room {self.length}."})

    def step(self, action):
        self.room += 1
        won = self.room == self.length
        return Step(f"Room {self.room}.", float(won), won, won, [] if won else ["go east"], {})

    def parse_action(self, action):
        return "go", {"direction": "east"}

    def format_action(self, function, kwargs):
        return "go east"

    def submit_answer(self, answer):
        raise AssertionError("not asked")

    def close(self):
        pass


def test_an_expert_that_does_not_win_writes_nothing(tmp_path):
    tasks = [Task("line", "l", 0)]
    with pytest.raises(ExpertError, match="walkthrough .*1 commands.* ended before the game was won"):
        run_expert(Line(["go east"]), tasks, "react", tmp_path / "x", progress=False)
    assert not (tmp_path / "x" / "trajectories.jsonl").exists() or not (tmp_path / "x" / "trajectories.jsonl").read_text()
    with pytest.raises(ExpertError, match="more than max_steps 1; raise --max-steps"):
        run_expert(Line(["go east"] * 2), tasks, "react", tmp_path / "y", max_steps=1, progress=False)
    metrics = run_expert(Line(["go east"] * 2), tasks, "fold", tmp_path / "z", progress=False)
    assert metrics["fold"]["success_rate"] == 1.0


def test_environments_without_a_walkthrough_are_refused_with_the_list_that_works():
    with pytest.raises(NoWalkthroughError, match="'miniwob' has no walkthrough to replay; .* with: textworld"):
        check_expert_env("miniwob")

    class Pages:  # an environment instance with no walkthrough
        name = "pages"

    with pytest.raises(NoWalkthroughError, match="'pages' has no walkthrough"):
        check_expert_env(Pages())
    check_expert_env(Line([]))  # one with a walkthrough passes


# -- real TextWorld --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tw():
    pytest.importorskip("textworld")
    env = make_env("textworld")
    yield env
    env.close()


@pytest.mark.parametrize("context", ["react", "fold"])
@pytest.mark.parametrize("quest_length, seed", [(2, 0), (4, 1)])
def test_expert_episodes_win_and_training_prompts_equal_the_prompts_it_was_given(tw, context, quest_length, seed):
    task = task_stream("textworld", 1, seed=seed, quest_length=quest_length, **SMALL)[0]
    tw.reset(task)
    ctx = make_context(context)
    expert = WalkthroughExpert(walkthrough=tw.walkthrough, context=ctx)
    result = run_episode(expert, tw, task, ctx, AgentConfig(max_steps=10))
    assert result.success and result.steps == len(expert.walkthrough) == quest_length
    assert result.invalid_actions == result.invalid_directives == result.directive_repairs == result.retries == 0
    examples = training_examples(result.trajectory)
    assert [e.prompt for e in examples] == expert.prompts  # byte-equal, every turn
    assert [e.completion for e in examples] == expert.texts
    first = json.loads(examples[0].completion)
    assert list(first) == (["thinking", "explanation", "action"] if context == "fold" else ["thinking", "action"])
    assert result.trajectory.details["policy"] == "expert-walkthrough"


def test_expert_run_folder_records_adp_like_an_agent_run_and_keeps_model_runs_out(tmp_path, tw):
    tasks = task_stream("textworld", 2, seed=0, quest_length=4, **SMALL)
    out = tmp_path / "expert"
    for context in ("react", "fold"):
        metrics = run_expert(tw, tasks, context, out, max_steps=10, progress=False)
        assert metrics[context]["success_rate"] == 1.0 and metrics[context]["episodes"] == 2
    trajs = list(read_trajectories(out / "trajectories.jsonl"))
    assert len(trajs) == 4
    report = validate_file(out / "trajectories.jsonl")
    assert report.rows == 4 and report.errors == 0 and report.warnings == 0, "\n".join(report.lines())
    for t in trajs:
        d = t.details
        assert d["policy"] == "expert-walkthrough" and "written by rules" in d["rules"]
        assert json.loads(d["walkthrough"]) and d["success"] == "true"
        assert t.available_apis and t.available_apis[0].startswith("look()")
        if d["context"] == "fold":
            assert all(f is None or set(f) == {"range", "summary"} for f in json.loads(d["fold_directives"]))
        assert len(training_examples(t)) == int(d["steps"])
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "agent expert" and "Walked" in config["fold"]["fold_rule"]
    assert [t["seed"] for t in config["fold"]["tasks"]] == [0, 1]
    assert "Expert run" in (out / "report.md").read_text()
    from experio.agent import run_agent
    from experio.llm import ScriptedLLM
    with pytest.raises(RunFolderError, match="run folder of `experio agent expert`"):
        run_agent(ScriptedLLM(replies=["{}"]), tw, tasks, "react", out, resume=True, progress=False)
    # train and evaluation seeds: an overlap is refused, disjoint seeds pass
    with pytest.raises(SeedOverlapError, match=r"2 task\(s\) use textworld seeds .* \(0, 1; it holds seeds 0..1\)"):
        check_disjoint(task_stream("textworld", 3, seed=0), [out])
    check_disjoint(task_stream("textworld", 3, seed=2), [out, out / "trajectories.jsonl"])


def test_cli_expert_report_and_the_seed_check_of_agent_run(tmp_path, tw):
    out = tmp_path / "ex"
    args = ["agent", "expert", "--env", "textworld", "--tasks", "2", "--seed", "0", *SMALL_ARGS,
            "--setting", "quest_length=2", "--context", "fold", "--max-steps", "8", "--out", str(out)]
    ran = runner.invoke(app, args)
    assert ran.exit_code == 0, ran.output
    assert "100.0 %" in ran.output and "expert-walkthrough" in ran.output
    assert len(list(read_trajectories(out / "trajectories.jsonl"))) == 2
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "pass --resume" in again.output
    assert runner.invoke(app, args + ["--resume"]).exit_code == 0
    assert runner.invoke(app, ["agent", "report", str(out)]).exit_code == 0
    clash = runner.invoke(app, ["agent", "run", "--env", "textworld", "--tasks", "5", "--seed", "1", *SMALL_ARGS,
                                "--train-data", str(out), "--out", str(tmp_path / "eval")])
    assert clash.exit_code == 2 and "seeds that" in clash.output and "must not overlap" in clash.output
    assert not (tmp_path / "eval").exists()  # refused before any model or folder
    back = runner.invoke(app, ["agent", "expert", "--env", "textworld", "--tasks", "1", "--seed", "1", *SMALL_ARGS,
                               "--eval-data", str(out), "--out", str(tmp_path / "ex2")])
    assert back.exit_code == 2 and "must not overlap" in back.output


@pytest.mark.parametrize("args, message", [
    (["--env", "miniwob"], "no walkthrough to replay; expert episodes work with: textworld"),
    (["--env", "nethack"], "unknown environment 'nethack'; choose one of"),
    (["--env", "textworld", "--setting", "quest_lenght=2"], "unknown textworld setting 'quest_lenght'"),
    (["--env", "textworld", "--tasks", "0"], "--tasks must be at least 1, got 0"),
    (["--env", "textworld", "--context", "flod"], "unknown context manager 'flod'; choose one of: fold, react"),
    (["--env", "textworld", "--eval-data", "no/such/run"], "--eval-data no/such/run does not exist; pass a run folder"),
])
def test_cli_expert_bad_input_is_one_clear_line(tmp_path, args, message):
    res = runner.invoke(app, ["agent", "expert", *args, "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and message in " ".join(res.output.split()), res.output
    assert "Traceback" not in res.output and not (tmp_path / "o").exists()
