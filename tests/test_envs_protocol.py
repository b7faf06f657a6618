"""The environment protocol without a game or a browser: tasks, task files, tool calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experio.envs import (
    MINIWOB_TASKS,
    Step,
    Task,
    TaskError,
    TaskFileError,
    ToolSpec,
    InvalidActionError,
    bind_call,
    check_task,
    env_names,
    format_call,
    load_tasks,
    make_env,
    parse_call,
    save_tasks,
    task_stream,
)

DATA = Path(__file__).parent / "data" / "envs"


# -- tasks ---------------------------------------------------------------------------------


def test_task_id_and_json_round_trip():
    task = Task("textworld", "ws5-no10-ql5", 3, {"world_size": 5, "quest_length": 5})
    assert task.id == "textworld/ws5-no10-ql5/seed3"
    again = Task.from_dict(json.loads(task.to_json()))
    assert again == task and again.id == task.id
    assert len({task, again, Task("textworld", "ws5-no10-ql5", 4)}) == 2  # hashable despite the dict


def test_task_from_dict_accepts_top_level_settings_and_default_seed():
    task = Task.from_dict({"env": "textworld", "quest_length": 10, "settings": {"world_size": 6}})
    assert task.seed == 0
    assert task.settings == {"world_size": 6, "quest_length": 10}


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "click-test"}, '"env"'),
        ({"env": "miniwob", "seed": "3"}, '"seed" must be an integer'),
        ({"env": "miniwob", "seed": True}, '"seed" must be an integer'),
        ({"env": "miniwob", "settings": [1]}, '"settings" must be an object'),
        ([1, 2], "JSON object"),
    ],
)
def test_task_from_dict_errors(data, message):
    with pytest.raises(TaskError, match=message):
        Task.from_dict(data)


def test_env_names_and_unknown_env():
    # other test modules may register their own environments; the built-ins are always there
    assert {"miniwob", "textworld"} <= set(env_names()) and env_names() == sorted(env_names())
    with pytest.raises(TaskError, match="unknown environment 'webshop'; choose one of .*miniwob, textworld"):
        make_env("webshop")


def test_textworld_task_stream_has_consecutive_seeds_and_full_settings():
    tasks = task_stream("textworld", 5, seed=10, world_size=8, quest_length=15)
    assert [t.seed for t in tasks] == [10, 11, 12, 13, 14]
    assert {t.name for t in tasks} == {"ws8-no10-ql15"}
    assert tasks[0].settings == {"world_size": 8, "nb_objects": 10, "quest_length": 15, "quest_breadth": 1, "theme": "house"}
    assert tasks[0].id == "textworld/ws8-no10-ql15/seed10"
    assert len({t.id for t in tasks}) == 5


def test_miniwob_task_stream_cycles_tasks_then_seeds():
    assert len(MINIWOB_TASKS) >= 10 and len(set(MINIWOB_TASKS)) == len(MINIWOB_TASKS)
    tasks = task_stream("miniwob", 30, tasks=MINIWOB_TASKS[:10])
    assert [t.name for t in tasks[:10]] == MINIWOB_TASKS[:10]
    assert [t.seed for t in tasks] == [0] * 10 + [1] * 10 + [2] * 10
    assert len({t.id for t in tasks}) == 30
    default = task_stream("miniwob", len(MINIWOB_TASKS) + 1, seed=5)
    assert default[-1] == Task("miniwob", MINIWOB_TASKS[0], 6)


@pytest.mark.parametrize(
    "env, settings, message",
    [
        ("textworld", {"world_sise": 5}, r"unknown TextWorld setting\(s\) \['world_sise'\]"),
        ("textworld", {"quest_length": 0}, "quest_length must be an integer >= 1, got 0"),
        ("textworld", {"world_size": "5"}, "world_size must be an integer >= 1"),
        ("miniwob", {"tasks": ["click-tset"]}, "unknown MiniWoB\\+\\+ task 'click-tset'; did you mean click-test"),
        ("miniwob", {"difficulty": 2}, "no settings besides tasks"),
    ],
)
def test_task_stream_rejects_bad_settings(env, settings, message):
    with pytest.raises(TaskError, match=message):
        task_stream(env, 2, **settings)


# -- task files ------------------------------------------------------------------------------


def test_example_task_file_loads_with_defaults_filled():
    tasks = load_tasks(DATA / "tasks.jsonl")
    assert [t.id for t in tasks] == [
        "miniwob/click-test-2/seed0",
        "miniwob/choose-list/seed4",
        "textworld/ws5-no10-ql5/seed3",
        "textworld/long/seed7",
    ]
    assert tasks[3].settings["quest_length"] == 15 and tasks[3].settings["nb_objects"] == 10


def test_save_and_load_round_trip(tmp_path):
    tasks = task_stream("textworld", 3, quest_length=12) + task_stream("miniwob", 4)
    path = save_tasks(tasks, tmp_path / "sub" / "tasks.jsonl")
    assert load_tasks(path) == tasks
    assert [p.name for p in path.parent.iterdir()] == ["tasks.jsonl"]  # no temporary file left


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"env": "miniwob", "name": "click-test"}', "{not json"], r"tasks.jsonl:2: not valid JSON"),
        (['', '{"env": "miniwob", "name": "click-tset"}'], r"tasks.jsonl:2: unknown MiniWoB\+\+ task 'click-tset'"),
        (['{"env": "alfworld", "seed": 1}'], r"tasks.jsonl:1: unknown environment 'alfworld'"),
        (['{"env": "textworld", "seed": 1, "quest_lenght": 4}'], r"tasks.jsonl:1: unknown TextWorld setting"),
        (['{"env": "textworld", "game_file": "../outside.z8"}'], r"tasks.jsonl:1: path '../outside.z8' leads outside"),
        (['{"env": "textworld", "game_file": "/etc/passwd"}'], r"tasks.jsonl:1: path '/etc/passwd' must be relative"),
        ([""], r"holds no tasks"),
    ],
)
def test_load_tasks_errors_name_file_and_line(tmp_path, lines, message):
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TaskFileError, match=message):
        load_tasks(path)


def test_load_tasks_missing_file(tmp_path):
    with pytest.raises(TaskFileError, match="does not exist"):
        load_tasks(tmp_path / "nope.jsonl")


def test_game_file_symlink_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "g.z8").write_bytes(b"")
    base = tmp_path / "tasks"
    base.mkdir()
    (base / "games").symlink_to(outside)
    (base / "tasks.jsonl").write_text('{"env": "textworld", "game_file": "games/g.z8"}\n')
    with pytest.raises(TaskFileError, match="leads outside"):
        load_tasks(base / "tasks.jsonl")


def test_check_task_fills_textworld_defaults():
    task = check_task(Task("textworld", "", 2, {"quest_length": 7}))
    assert task.name == "ws5-no10-ql7" and task.settings["world_size"] == 5


# -- tool calls ------------------------------------------------------------------------------

CLICK = ToolSpec("click", "Click.", {"type": "object", "properties": {"ref": {"type": "integer"}}, "required": ["ref"]})
SCROLL = ToolSpec("scroll", "Scroll.", {
    "type": "object",
    "properties": {"direction": {"type": "string", "enum": ["up", "down"]}, "ref": {"type": "integer"}},
    "required": ["direction"],
})


def test_parse_and_format_call_round_trip():
    for function, kwargs in [("click", {"ref": 12}), ("type", {"ref": 3, "text": 'say "hi", then \\ leave'}),
                             ("select", {"ref": 4, "option": "Ré d'or"}), ("look", {})]:
        text = format_call(function, kwargs)
        assert parse_call(text) == (function, [], kwargs)
    assert format_call("look", {}) == "look()"
    assert parse_call("  click(12) ") == ("click", [12], {})


@pytest.mark.parametrize(
    "text, message",
    [
        ("click the button", "cannot parse action 'click the button'"),
        ("ref=12", "cannot parse"),
        ("12", "is not a tool call"),
        ("env.click(ref=1)", "is not a tool call"),
        ("click(ref=x)", "must be literals"),
        ("click(**{'ref': 1})", r"\*\*kwargs"),
    ],
)
def test_parse_call_errors(text, message):
    with pytest.raises(InvalidActionError, match=message):
        parse_call(text)


def test_bind_call_names_positional_args_and_checks_types():
    assert bind_call([CLICK], "click", [7], {}) == {"ref": 7}
    assert bind_call([CLICK], "click", [], {"ref": "7"}) == {"ref": 7}  # a quoted number is accepted
    assert bind_call([SCROLL], "scroll", ["down"], {"ref": None}) == {"direction": "down"}
    cases = [
        ("hover", [], {"ref": 1}, r"unknown action 'hover'; the actions are: click\(ref: int\), scroll"),
        ("click", [], {}, r"click\(\) needs 'ref'; use click\(ref: int\)"),
        ("click", [1, 2], {}, "takes at most 1 arguments"),
        ("click", [1], {"ref": 2}, "got 'ref' twice"),
        ("click", [], {"ref": 1, "x": 2}, "has no argument 'x'"),
        ("click", [], {"ref": "seven"}, "ref must be an integer, got 'seven'"),
        ("scroll", [], {"direction": "left"}, r'direction must be one of "up", "down", got \'left\''),
    ]
    for function, args, kwargs, message in cases:
        with pytest.raises(InvalidActionError, match=message):
            bind_call([CLICK, SCROLL], function, args, kwargs)


def test_toolspec_signature_and_openai_schema():
    assert SCROLL.signature() == "scroll(direction: str, ref: int = None)"
    schema = SCROLL.json_schema()
    assert schema["type"] == "function" and schema["function"]["name"] == "scroll"
    assert schema["function"]["parameters"]["required"] == ["direction"]


def test_step_defaults():
    step = Step("hello")
    assert (step.reward, step.done, step.success, step.admissible, step.info) == (0.0, False, False, None, {})


def test_registry_knows_each_environments_setting_keys():
    from experio.envs import check_settings, get_env_spec

    assert set(get_env_spec("textworld").settings) == {"world_size", "nb_objects", "quest_length", "quest_breadth",
                                                       "theme", "game_file"}
    assert get_env_spec("miniwob").settings == ("tasks",)
    check_settings("textworld", {"quest_length": 3, "world_size": 4})
    with pytest.raises(TaskError, match="unknown miniwob setting 'task'; choose one of: tasks"):
        check_settings("miniwob", {"task": "click-test"})
    with pytest.raises(TaskError, match="unknown environment 'web'"):
        check_settings("web", {})
    # one task name, as `--setting tasks=click-test` gives it, is a list of one
    assert [t.name for t in task_stream("miniwob", 2, tasks="click-test")] == ["click-test", "click-test"]


def test_environments_declare_how_an_episode_ends():
    from experio.envs import EpisodeStateError, MiniWoBEnv, TextWorldEnv

    for env in (TextWorldEnv(), MiniWoBEnv()):
        assert env.answers is False
        with pytest.raises(EpisodeStateError, match="not by an answer"):
            env.submit_answer("42")
