"""The `experio` command, as a user runs it."""

import json

import pytest
from typer.testing import CliRunner

from experio.cli import app

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("info", "generate", "score", "check", "demo", "adp", "agent", "emergence"):
        assert cmd in result.output


@pytest.mark.model
def test_info_shows_model_and_versions():
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    assert "sha256 verified" in result.output and "llama-cpp-python" in result.output


@pytest.mark.model
def test_generate_and_score_on_the_embedded_model():
    prompt = "Q: What is the capital of Italy?\nA: Rome\n\nQ: What is the capital of France?\nA:"
    result = runner.invoke(app, ["generate", prompt, "-n", "4", "--temperature", "0", "--stop", "\n"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Paris"
    result = runner.invoke(app, ["score", prompt, " Paris"])
    assert result.exit_code == 0 and "' Paris'" in result.output and "sum" in result.output


@pytest.mark.model
def test_generate_with_a_json_schema_file(tmp_path):
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}))
    result = runner.invoke(app, ["generate", "A number as JSON:", "--json-schema", str(schema), "--temperature", "0"])
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.output)["n"], int)
    result = runner.invoke(app, ["generate", "x", "--json-schema", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "schema file not found" in result.output


def test_bad_backend_is_a_clear_error():
    result = runner.invoke(app, ["generate", "hi", "--llm", "nope"])
    assert result.exit_code == 2 and "unknown LLM backend 'nope'" in result.output


def test_missing_model_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["score", "a", "b", "--model", str(tmp_path / "x.gguf")])
    assert result.exit_code == 2 and "model file not found" in result.output


@pytest.mark.model
def test_demo_runs_the_self_improving_agent_and_records_it(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--tasks", "2", "--max-steps", "3"])
    assert result.exit_code == 0, result.output
    for shown in ("game 1/2", "game 2/2", "memory:", "acted:", "judge says", "learned:", "solved so far:", "Run record:"):
        assert shown in result.output, shown
    assert "nothing to retrieve yet" in result.output  # the first game starts with an empty bank
    [run] = list(tmp_path.iterdir())
    metrics = json.loads((run / "metrics.json").read_text())["reasoningbank"]
    assert metrics["tasks"] == 2 and 1 <= metrics["mean_steps"] <= 3
    assert len(metrics["cumulative_successes"]) == 2
    for name in ("trajectories.jsonl", "success_curve.png", "reasoningbank.bank.sqlite", "report.md"):
        assert (run / name).is_file(), name


def test_demo_with_the_environment_as_judge(tmp_path, monkeypatch):
    import experio.cli.demo as demo
    from experio.llm import ScriptedLLM

    # a scripted model keeps this fast: what is tested is the demo's bookkeeping of the method name
    monkeypatch.setattr(demo, "open_llm", lambda *a, **k: ScriptedLLM(responder=lambda prompt: "look"))
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--tasks", "1", "--max-steps", "2", "--judge", "env"])
    assert result.exit_code == 0, result.output
    [run] = list(tmp_path.iterdir())
    assert list(json.loads((run / "metrics.json").read_text())) == ["reasoningbank+judge-env"]
    assert (run / "reasoningbank+judge-env.bank.sqlite").is_file() and "reasoningbank+judge-env.bank.sqlite" in result.output


def test_demo_refuses_bad_options_before_loading_a_model(tmp_path):
    for args, said in ((["--judge", "oracle"], "unknown --judge 'oracle'"), (["--context", "x"], "unknown --context 'x'"),
                       (["--tasks", "0"], "--tasks")):
        result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--llm", "openai", "--base-url",
                                     "http://127.0.0.1:9/v1", *args])
        assert result.exit_code == 2 and said in result.output, result.output
    dead = runner.invoke(app, ["demo", "--out", str(tmp_path), "--llm", "openai", "--base-url", "http://127.0.0.1:9/v1"])
    assert dead.exit_code == 1 and "127.0.0.1:9" in dead.output and "Traceback" not in dead.output, dead.output
    assert not any(tmp_path.iterdir())  # no empty run folder left behind


@pytest.mark.model
def test_check_writes_a_run_record(tmp_path):
    out = tmp_path / "check"
    result = runner.invoke(app, ["check", "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["json_valid_rate"] == 1.0  # constrained decoding always parses
    assert metrics["retrieval_top1"] >= 2 / 3 and metrics["qa_accuracy"] >= 0.5
    assert (out / "config.json").is_file() and "| qa_accuracy |" in (out / "report.md").read_text()
