"""`experio agent run | report` on bad input, interrupted runs and other commands' folders (no model)."""

import json

import pytest
from typer.testing import CliRunner

import experio.cli.agent as agent_cli
from experio.cli import app
from experio.envs import EnvSpec, Step, Task, ToolSpec, register_env
from experio.llm import ScriptedLLM

runner = CliRunner()


class Line:
    """Walk east to room 1 (one step per task); registered as the "line" environment."""

    name = "line"
    answers = False
    tools = [ToolSpec("go", "Walk east.", {"type": "object", "properties": {"direction": {"type": "string", "enum": ["east"]}},
                                            "required": ["direction"]})]

    def reset(self, task):
        return Step("You are in room 0.", admissible=["go(direction=\"east\")"], info={"goal": "Reach room 1."})

    def step(self, action):
        return Step("You are in room 1.", 1.0, True, True, [], {})

    def parse_action(self, action):
        return "go", {"direction": "east"}

    def format_action(self, function, kwargs):
        return 'go(direction="east")'

    def submit_answer(self, answer):
        raise AssertionError("not asked")

    def close(self):
        pass


register_env(EnvSpec("line", Line, lambda n, seed, **s: [Task("line", "l", seed + i) for i in range(n)],
                     lambda t: t, settings=("length",)))

REPLY = json.dumps({"thinking": "east", "action": 'go(direction="east")'})


def invoke(*args):
    result = runner.invoke(app, ["agent", *args])
    return result, " ".join(result.output.split())


@pytest.mark.parametrize("args, message", [
    (["--env", "webshop"], "unknown environment 'webshop'; choose one of"),
    (["--env", "textworld", "--setting", "quest_lenght=3"],
     "unknown textworld setting 'quest_lenght'; choose one of: game_file, nb_objects, quest_breadth, quest_length, theme, world_size"),
    (["--env", "miniwob", "--setting", "difficulty=2"], "unknown miniwob setting 'difficulty'; choose one of: tasks"),
    (["--env", "textworld", "--tasks", "0"], "--tasks must be at least 1, got 0"),
    (["--env", "textworld", "--tasks", "-3"], "--tasks must be at least 1, got -3"),
    (["--env", "textworld", "--context", "flod"], "unknown context manager 'flod'; choose one of: fold, react"),
    (["--env", "miniwob", "--tasks", "tests/data/envs/tasks.jsonl"], "has tasks for another environment than 'miniwob'"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, monkeypatch, args, message):
    monkeypatch.setattr(agent_cli, "open_llm", lambda *a, **k: pytest.fail("the model is loaded after the checks"))
    out = tmp_path / "run"
    result, text = invoke("run", *args, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert message in text and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 3  # one line, folded at most by the terminal width
    assert not out.exists()


def test_miniwob_example_task_file_holds_only_miniwob_tasks():
    from experio.envs import load_tasks

    tasks = load_tasks("tests/data/envs/miniwob_tasks.jsonl")
    assert tasks and {t.env for t in tasks} == {"miniwob"}


def test_interrupted_run_needs_resume_and_resume_loses_nothing(tmp_path, monkeypatch):
    calls = {"n": 0}

    def responder(prompt):
        calls["n"] += 1
        if calls["n"] == 3:  # Ctrl-C during the third episode
            raise KeyboardInterrupt
        return REPLY

    seen = {}

    def fake_open_llm(llm, model, base_url, api_key=None, **options):
        seen["api_key"] = api_key
        assert options == {"agent": True}  # an unset --model means the embedded agent
        return ScriptedLLM(responder=responder)

    monkeypatch.setattr(agent_cli, "open_llm", fake_open_llm)
    out = tmp_path / "run"
    args = ["run", "--env", "line", "--tasks", "4", "--context", "react", "--out", str(out), "--api-key", "k-123"]
    first, text = invoke(*args)
    assert first.exit_code == 130 and "--resume" in text and seen["api_key"] == "k-123"
    assert len((out / "trajectories.jsonl").read_text().splitlines()) == 2
    again, text = invoke(*args)
    assert again.exit_code == 1 and "already has 2 finished episode(s) with context 'react'; pass --resume" in text
    resumed, text = invoke(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    ids = [json.loads(line)["id"] for line in (out / "trajectories.jsonl").read_text().splitlines()]
    assert sorted(ids) == [f"react/line/l/seed{i}" for i in range(4)]
    assert json.loads((out / "metrics.json").read_text())["react"]["episodes"] == 4
    assert "react" in text and "100.0 %" in text  # the table's cells are not cut


def test_report_refuses_a_memory_folder_and_writes_nothing(tmp_path):
    memory = tmp_path / "mem"
    memory.mkdir()
    (memory / "config.json").write_text(json.dumps({"kind": "memory"}))
    (memory / "trajectories.jsonl").write_text("")
    result, text = invoke("report", str(memory))
    assert result.exit_code == 1 and "is a run folder of `experio memory`" in text
    assert sorted(p.name for p in memory.iterdir()) == ["config.json", "trajectories.jsonl"]
    missing, text = invoke("report", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "does not exist" in text
    empty = tmp_path / "empty"
    empty.mkdir()
    result, text = invoke("report", str(empty))
    assert result.exit_code == 1 and "no trajectories.jsonl: not an agent run folder" in text


def test_settings_are_typed_and_comma_lists_become_lists(monkeypatch, tmp_path):
    import experio.agent

    seen = {}
    monkeypatch.setattr(agent_cli, "open_llm", lambda *a, **k: ScriptedLLM(replies=["{}"]))
    monkeypatch.setattr(experio.agent, "run_agent", lambda llm, env, tasks, *a, **k: seen.setdefault("tasks", tasks) and {})
    result, text = invoke("run", "--env", "miniwob", "--tasks", "3", "--setting", "tasks=click-test, click-link",
                          "--out", str(tmp_path / "mw"))
    assert result.exit_code == 0, result.output
    assert [t.id for t in seen["tasks"]] == ["miniwob/click-test/seed0", "miniwob/click-link/seed0", "miniwob/click-test/seed1"]
    assert agent_cli.parse_settings("textworld", ["quest_length=12", "theme=house"]) == {"quest_length": 12, "theme": "house"}
