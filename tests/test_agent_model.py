"""The embedded agent: the shipped adapter, its build into a GGUF, and the CLI's model names."""

from __future__ import annotations

import importlib
import json

import pytest

from experio.agent import AgentConfig, WalkthroughExpert, make_context, run_episode, training_examples
from experio.envs import make_env, task_stream
from experio.train import AdapterNotFoundError, agent_adapter_dir

agent_model = importlib.import_module("experio.train.agent_model")
export_module = importlib.import_module("experio.train.export")  # the package's `export` is the function


def test_the_shipped_adapter_is_a_small_lora_adapter_of_the_embedded_base():
    folder = agent_adapter_dir()
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["base_model_name_or_path"] == "gemma-3-270m-q4_k_m"
    assert (folder / "adapter_model.safetensors").stat().st_size < 10_000_000
    assert "scripts/train_agent.sh" in (folder / "README.md").read_text()


def test_the_gguf_is_built_once_and_rebuilt_when_the_adapter_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPERIO_HOME", str(tmp_path))
    builds = []

    def fake_export(adapter, *, base, out, hf, gguf_type):
        builds.append(out)
        (out / "model.gguf").write_bytes(b"GGUF")

    monkeypatch.setattr(export_module, "export", fake_export)
    first = agent_model.agent_model_path()
    assert first == tmp_path / "models" / "gemma-3-270m-agent" / "model.gguf" and first.is_file()
    assert agent_model.agent_model_path() == first and len(builds) == 1  # the stamp matches: nothing rebuilt
    (first.parent / "adapter.sha256").write_text("another adapter\n")
    agent_model.agent_model_path()
    assert len(builds) == 2 and not list((tmp_path / "models").glob(".gemma-3-270m-agent-*"))  # no temp left


def test_a_missing_adapter_file_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(agent_model, "AGENT_ADAPTER", tmp_path)
    with pytest.raises(AdapterNotFoundError, match="adapter_config.json is missing; reinstall"):
        agent_model.agent_model_path()


def test_cli_model_names_pick_the_base_or_the_agent(monkeypatch):
    from experio.cli.common import open_llm

    loaded = []
    monkeypatch.setattr("experio.llm.load_llm", lambda backend, model, **o: loaded.append(model))
    monkeypatch.setattr("experio.train.agent_model_path", lambda: "/models/agent.gguf")
    monkeypatch.delenv("EXPERIO_MODEL", raising=False)
    open_llm(None, None, None, agent=True)
    open_llm(None, "embedded", None, agent=True)
    open_llm(None, None, None)
    open_llm("hf", "embedded-agent", None)
    open_llm(None, "my.gguf", None, agent=True)
    assert loaded == ["/models/agent.gguf", None, None, "/models/agent.gguf", "my.gguf"]


@pytest.mark.model
def test_the_built_agent_prefers_the_expert_moves_on_a_held_out_game(embedded_llm):
    """Seed 1 at quest length 2 is an evaluation seed of scripts/train_agent.sh (training: 1000..)."""
    from experio.llm import load_llm

    pytest.importorskip("textworld")
    env = make_env("textworld")
    try:
        task = task_stream("textworld", 1, seed=1, world_size=2, nb_objects=4, quest_length=2)[0]
        env.reset(task)
        ctx = make_context("react")
        result = run_episode(WalkthroughExpert(walkthrough=env.walkthrough, context=ctx), env, task, ctx,
                             AgentConfig(max_steps=12))
    finally:
        env.close()
    agent = load_llm("llamacpp", model=str(agent_model.agent_model_path()))
    examples = training_examples(result.trajectory)

    def mean_logprob(llm):
        scores = [llm.score(llm.render(e.prompt)[0], e.completion) for e in examples]
        return sum(s.total for s in scores) / sum(len(s.logprobs) for s in scores)

    base, tuned = mean_logprob(embedded_llm), mean_logprob(agent)
    print(f"mean log-prob per token: base {base:.3f}, agent {tuned:.3f}")
    assert tuned > base + 1.0, (base, tuned)  # per token, in nats
