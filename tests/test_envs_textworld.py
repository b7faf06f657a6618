"""TextWorld on real generated games (small ones: a few seconds per new game, cached per module)."""

from __future__ import annotations

import json
import shutil
import time

import pytest

pytest.importorskip("textworld")

from experio.envs import (  # noqa: E402
    Environment,
    EpisodeStateError,
    InvalidActionError,
    Task,
    TaskError,
    TaskFileError,
    TextWorldEnv,
    load_tasks,
    make_env,
    task_stream,
)
from experio.envs.textworld_env import clean_text, generate_game  # noqa: E402

SMALL = {"world_size": 3, "nb_objects": 4, "quest_length": 3}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("textworld-cache")


@pytest.fixture(scope="module")
def env(cache):
    with TextWorldEnv(cache_dir=cache) as env:
        yield env


def test_is_an_environment(env):
    assert isinstance(env, Environment)
    assert env.name == "textworld"
    assert {t.name for t in env.tools} >= {"go", "take", "open", "unlock", "put", "insert", "look", "inventory"}


@pytest.mark.parametrize("seed", [0, 1])
def test_walkthrough_replay_wins_with_full_score(env, seed):
    task = task_stream("textworld", 1, seed=seed, world_size=5, nb_objects=10, quest_length=5)[0]
    step = env.reset(task)
    assert step.reward == 0.0 and not step.done and not step.success
    assert step.info["score"] == 0 and step.info["max_score"] >= 1
    walkthrough = env.walkthrough
    assert len(walkthrough) == 5
    total = 0.0
    for i, command in enumerate(walkthrough):
        assert command in step.admissible, f"walkthrough step {i} {command!r} not admissible: {step.admissible}"
        assert not step.done
        step = env.step(command)
        total += step.reward
    assert step.done and step.success and step.info["won"] and not step.info["lost"]
    assert total == step.info["score"] == step.info["max_score"]
    assert step.info["moves"] == len(walkthrough)
    assert step.admissible == []
    assert "Would you like to RESTART" not in step.observation and "*** The End ***" not in step.observation
    with pytest.raises(EpisodeStateError, match="episode is over"):
        env.step("look")


def test_unwinnable_generated_game_is_replaced_deterministically(env):
    # seed 0 of ws5-no10-ql5 first yields a game whose walkthrough hits "Which do you mean ...?"
    task = task_stream("textworld", 1, seed=0, world_size=5, nb_objects=10, quest_length=5)[0]
    meta = json.loads((env.game_file(task).parent / "meta.json").read_text())
    assert meta["seed"] == 0 and meta["generator_seed"] == 1_000_003
    env.reset(task)
    assert meta["walkthrough"] == env.walkthrough


def test_long_quest_game(env):
    task = task_stream("textworld", 1, seed=0, world_size=8, nb_objects=15, quest_length=15)[0]
    step = env.reset(task)
    assert len(env.walkthrough) == 15
    for command in env.walkthrough:
        step = env.step(command)
    assert step.success and step.info["moves"] == 15


def test_observation_is_compact_and_clean(env):
    step = env.reset(task_stream("textworld", 1, seed=2, **SMALL)[0])
    text = step.observation
    assert "$$" not in text and "\n\n\n" not in text and not text.startswith("\n")
    assert step.info["objective"].split(".")[0] in text  # the objective comes first
    assert "-= " in text  # then the room
    assert not any(line.startswith(">") for line in text.splitlines())
    assert step.info["inventory"].startswith("You are carrying")
    assert step.admissible == sorted(step.admissible) and "look" in step.admissible


def test_same_seed_same_game_other_seed_other_game(tmp_path):
    first, second = TextWorldEnv(cache_dir=tmp_path / "a"), TextWorldEnv(cache_dir=tmp_path / "b")
    task = task_stream("textworld", 1, seed=11, **SMALL)[0]
    a, b = first.reset(task), second.reset(task)
    assert a.observation == b.observation and a.admissible == b.admissible
    assert first.walkthrough == second.walkthrough
    other = first.reset(task_stream("textworld", 1, seed=12, **SMALL)[0])
    assert (other.observation, first.walkthrough) != (a.observation, second.walkthrough)
    first.close(), second.close()


def test_games_are_cached_atomically_and_keyed_by_settings(cache):
    started = time.perf_counter()
    path = generate_game(SMALL, 21, cache)
    first = time.perf_counter() - started
    started = time.perf_counter()
    assert generate_game(SMALL, 21, cache) == path
    assert time.perf_counter() - started < 0.2 < first
    assert path.parent.name.startswith("ws3-no4-ql3-seed21-")
    assert {p.name for p in path.parent.iterdir()} >= {"game.z8", "game.json", "meta.json"}
    assert generate_game({**SMALL, "nb_objects": 5}, 21, cache) != path
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_experio_home_sets_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPERIO_HOME", str(tmp_path))
    path = generate_game(SMALL, 0)
    assert path.is_relative_to(tmp_path / "textworld")


def test_invalid_actions_raise_and_change_nothing(env):
    step = env.reset(task_stream("textworld", 1, seed=2, **SMALL)[0])
    cases = [
        ("dance wildly", "unknown command verb 'dance'.*commands start with one of look, inventory, go"),
        ("", "empty action"),
        ("put apple", r"does not fit the 'put' command; write it as 'put <obj> on <supporter>'"),
        ("go up", 'direction must be one of "north", "south", "east", "west"'),
        ("click(ref=3)", r"unknown action 'click'; the actions are: look\(\), inventory\(\), go\(direction: str\)"),
        ("take(source='box')", r"take\(\) needs 'obj'"),
    ]
    for action, message in cases:
        with pytest.raises(InvalidActionError, match=message):
            env.step(action)
    after = env.step("look")
    assert after.info["moves"] == 1  # none of the invalid actions took a turn
    assert after.admissible == step.admissible


def test_text_commands_and_tool_calls_are_the_same_action(env):
    step = env.reset(task_stream("textworld", 1, seed=0, world_size=5, nb_objects=10, quest_length=5)[0])
    seen = set(step.admissible) | set(env.walkthrough)
    for command in sorted(seen):
        function, kwargs = env.parse_action(command)
        assert env.format_action(function, kwargs) == command
    assert env.parse_action("take keyboard from type D locker") == ("take", {"obj": "keyboard", "source": "type D locker"})
    assert env.parse_action("Go  North") == ("go", {"direction": "north"})
    assert env.parse_action("take Rusty Key") == ("take", {"obj": "Rusty Key"})  # names keep their case
    assert env.parse_action('take(obj="key", source="chest")') == ("take", {"obj": "key", "source": "chest"})
    assert env.format_action("go", {"direction": "north"}) == "go north"
    assert env.format_action("take", {"obj": "key"}) == "take key"
    first = env.walkthrough[0]
    by_call = env.step(env.format_action(*env.parse_action(first)))
    env.reset(env.task)
    by_text = env.step(first)
    assert by_call.observation == by_text.observation


def test_unknown_object_is_game_feedback_not_an_error(env):
    env.reset(task_stream("textworld", 1, seed=2, **SMALL)[0])
    step = env.step("take unicorn")
    assert step.reward == 0 and not step.done
    assert "can't see any such thing" in step.observation  # the game answers in text


def test_step_before_reset_and_wrong_env_task(cache):
    env = make_env("textworld", cache_dir=cache)
    with pytest.raises(EpisodeStateError, match="call reset"):
        env.step("look")
    with pytest.raises(TaskError, match="is for 'miniwob'"):
        env.reset(Task("miniwob", "click-test", 0))


def test_game_file_task_from_a_task_file(env, tmp_path):
    source = generate_game(SMALL, 5, env.cache_dir)
    games = tmp_path / "games"
    games.mkdir()
    shutil.copy(source, games / "mygame.z8")
    shutil.copy(source.with_suffix(".json"), games / "mygame.json")
    (tmp_path / "tasks.jsonl").write_text(
        '{"env": "textworld", "settings": {"game_file": "games/mygame.z8"}}\n'
        '{"env": "textworld", "game_file": "games/missing.z8", "seed": 1}\n'
    )
    tasks = load_tasks(tmp_path / "tasks.jsonl")
    assert tasks[0].id == "textworld/mygame/seed0"
    assert tasks[0].settings["game_file"] == str((games / "mygame.z8").resolve())
    step = env.reset(tasks[0])
    for command in env.walkthrough:
        step = env.step(command)
    assert step.success
    with pytest.raises(TaskError, match="missing.z8 does not exist"):
        env.reset(tasks[1])
    (games / "mygame.json").unlink()
    with pytest.raises(TaskError, match="needs the game's .json"):
        env.reset(tasks[0])
    (tmp_path / "bad.jsonl").write_text('{"env": "textworld", "game_file": "games/mygame.z8", "world_size": 3}\n')
    with pytest.raises(TaskFileError, match="bad.jsonl:1: a TextWorld task with game_file takes no other settings"):
        load_tasks(tmp_path / "bad.jsonl")


def test_clean_text_strips_banner_prompt_and_ending():
    raw = (
        "\n\n  ________  __\n |  $$ \\$$|\n\nWelcome! Your task.\n\n\n\n-= Room =-\nA room.\n\n"
        ">                      -= Room =-0/1\n"
    )
    assert clean_text(raw) == "Welcome! Your task.\n\n-= Room =-\nA room."
    ending = "You win.\n\n\n                *** The End ***\n\nYou scored 1.\n\nWould you like to RESTART, RESTORE?"
    assert clean_text(ending) == "You win.\n\nYou scored 1."


def test_environments_in_threads_play_at_once(cache):
    """MaTTS parallel runs one environment per thread; textworld's parser is not thread-safe by itself."""
    import threading

    tasks = task_stream("textworld", 3, seed=2, **SMALL)
    errors: list[BaseException] = []
    start = threading.Barrier(len(tasks))

    def play(task):
        try:
            with TextWorldEnv(cache_dir=cache) as env:
                start.wait(timeout=60)
                for _ in range(2):  # reset twice: the second reset reuses the loaded game
                    step = env.reset(task)
                    for _ in range(3):
                        if step.done:
                            break
                        step = env.step(step.admissible[0])
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=play, args=(t,)) for t in tasks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
