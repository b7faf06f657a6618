"""The agent on the real embedded model, in both real environments, and through the CLI."""

import json

import pytest
from typer.testing import CliRunner

from experio.adp import read_trajectories
from experio.agent import AgentConfig, FoldContext, ReActContext, run_episode
from experio.cli import app
from experio.envs import make_env, task_stream

pytestmark = pytest.mark.model

SMALL_GAME = {"world_size": 3, "nb_objects": 4, "quest_length": 2}


def test_fold_episode_in_textworld(embedded_llm):
    env = make_env("textworld")
    task = task_stream("textworld", 1, seed=2, **SMALL_GAME)[0]
    try:
        r = run_episode(embedded_llm, env, task, FoldContext(), AgentConfig(max_steps=4))
    finally:
        env.close()
    assert 1 <= r.steps <= 4 and len(r.prompt_tokens) == r.steps
    assert r.directive_repairs == 0  # the schema only admits valid ranges on llama.cpp
    actions = [i for i in r.trajectory.content if i.class_ == "api_action"]
    assert len(actions) + r.invalid_actions == r.steps
    details = r.trajectory.details
    assert details["context"] == "fold" and json.loads(details["prompt_tokens"]) == r.prompt_tokens
    goal = r.trajectory.content[0]
    assert goal.source == "user" and "TextWorld" in goal.content  # the game's objective


def test_react_episode_in_miniwob(embedded_llm):
    env = make_env("miniwob")
    task = task_stream("miniwob", 1, seed=0, tasks=["click-test"])[0]
    try:
        r = run_episode(embedded_llm, env, task, ReActContext(), AgentConfig(max_steps=3))
    finally:
        env.close()
    assert r.invalid_actions == 0  # clicks are restricted to the refs on the page
    clicks = [i for i in r.trajectory.content if i.class_ == "api_action"]
    assert clicks and all(c.function in ("click", "select") for c in clicks)
    assert r.success == (r.reward > 0)


def test_agent_cli_run_resume_and_report(tmp_path):
    runner = CliRunner()
    out = tmp_path / "tw"
    args = ["agent", "run", "--env", "textworld", "--tasks", "2", "--setting", "world_size=3",
            "--setting", "nb_objects=4", "--setting", "quest_length=2", "--context", "react",
            "--max-steps", "2", "--out", str(out)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "pass --resume" in again.output  # ResumeRequired: a run-folder error
    resumed = runner.invoke(app, args + ["--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert len(list(read_trajectories(out / "trajectories.jsonl"))) == 2  # nothing run twice
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["react"]["episodes"] == 2 and metrics["react"]["turns_reached"] <= 2
    assert "| react | 2 |" in (out / "report.md").read_text()
    assert (out / "prompt_tokens.png").is_file()
    bad = runner.invoke(app, ["agent", "run", "--env", "textworld", "--tasks", "nope.jsonl", "--out", str(out)])
    assert bad.exit_code == 2 and "neither a number of tasks nor an existing task file" in bad.output
