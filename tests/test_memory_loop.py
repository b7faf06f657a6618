"""The ReasoningBank loop, baselines, MaTTS and memory runs: scripted model on a small in-memory env, plus one real run."""

from __future__ import annotations

import json
import re
import threading
import zlib

import numpy as np
import pytest
from typer.testing import CliRunner

from experio.adp import read_trajectories
from experio.agent import AgentConfig
from experio.envs import EnvSpec, InvalidActionError, Step, Task, ToolSpec, register_env
from experio.llm import ScriptedLLM
from experio.memory.extract import EXTRACT_RETRIES
from experio.memory import (
    MemoryBank, MemoryItem, MemoryRunError, RunSummary, bank_path, items_used, parse_matts, parse_workflow,
    recorded, run_memory,
)


# ---------------------------------------------------------------------- a small world
class Hallway:
    """Rooms 0..length; succeed on reaching the last. The goal text comes from the task."""

    name = "hallway"
    answers = False
    tools = [ToolSpec("go", "Walk east or west.", {"type": "object", "properties": {
        "direction": {"type": "string", "enum": ["east", "west"]}}, "required": ["direction"]})]
    made = 0
    barrier: threading.Barrier | None = None

    def __init__(self):
        Hallway.made += 1
        self.closed = False

    def _step(self, text, reward=0.0):
        done = self.room == self.length
        return Step(text, reward, done, done, ["go east", "go west"], {"goal": self.goal})

    def reset(self, task):
        if Hallway.barrier is not None:
            Hallway.barrier.wait()  # MaTTS parallel: every rollout must be running at once
        self.room, self.length, self.goal = 0, task.settings["length"], task.settings["goal"]
        return self._step("You are in room 0.")

    def parse_action(self, action):
        parts = action.split()
        if len(parts) != 2 or parts[0] != "go" or parts[1] not in ("east", "west"):
            raise InvalidActionError(f"unknown action {action!r}")
        return "go", {"direction": parts[1]}

    def step(self, action):
        _, kw = self.parse_action(action)
        self.room = max(0, self.room + (1 if kw["direction"] == "east" else -1))
        return self._step(f"You are in room {self.room}.", 1.0 if self.room == self.length else 0.0)

    def format_action(self, function, kwargs):
        return f"{function} {kwargs['direction']}"

    def close(self):
        self.closed = True


def _hallway_tasks(n, seed, **settings):
    return [Task("hallway", f"h{seed + i}", seed + i, {"goal": f"walk to the end of hallway {seed + i}", "length": 1})
            for i in range(n)]


register_env(EnvSpec("hallway", Hallway, _hallway_tasks, lambda t: t))


def task(name, goal, length=1):
    return Task("hallway", name, 0, {"goal": goal, "length": length})


class WordEmbedder:
    """Bag of words hashed into 384 dims: shared words mean similar queries (deterministic)."""

    def embed(self, texts):
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for n, text in enumerate(texts):
            for w in re.findall(r"[a-z]+", text.lower()):
                out[n, zlib.crc32(w.encode()) % 384] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def items_md(word):
    return (f" Head for the {word} quickly\n## Description Move toward the {word} without detours.\n"
            f"## Content Walk straight toward the {word}; every wasted step costs budget.")


class Model:
    """A scripted model that answers each kind of prompt the loop sends, and records them."""

    def __init__(self, judge="success", action="go east", extraction=None, best=2, workflow=None):
        self.calls: dict[str, list[str]] = {}
        self.judge, self.action, self.extraction, self.best, self.workflow = judge, action, extraction, best, workflow
        self.llm = ScriptedLLM(responder=self.respond)

    def kind(self, prompt):
        if prompt.startswith("You judge whether"):
            return "judge"
        if prompt.startswith("Choose the best") or "Choose the best attempt" in prompt:
            return "select"
        if "Compare the attempts" in prompt:
            return "contrast"
        if "Induce a reusable workflow" in prompt:
            return "workflow"
        if prompt.startswith("You have finished an attempt"):
            return "refine"
        if "Memory items:" in prompt:
            return "extract"
        return "agent"

    def respond(self, prompt):
        kind = self.kind(prompt)
        self.calls.setdefault(kind, []).append(prompt)
        task_line = re.findall(r"^Task: (.*)$", prompt, re.M)
        word = task_line[-1].split()[-1] if task_line else "goal"
        if kind == "judge":
            return f"The agent moved.\nStatus: {self.judge}"
        if kind == "select":
            return f"Attempt {self.best} is shortest.\nBest: {self.best}"
        if kind == "contrast":
            return items_md(f"contrast {word}")
        if kind == "workflow":
            return self.workflow or (" Walk to a place\nPurpose: Reach the end of a corridor quickly.\nSteps:\n"
                                     "1. Go {direction} toward the {place} until it is reached.")
        if kind == "refine":
            return f"note {len(self.calls['refine'])}: I should go east at once."
        if kind == "extract":
            return self.extraction if self.extraction is not None else items_md(word)
        return json.dumps({"thinking": "use item 1", "action": self.action})


def lines(out):
    return [t for t in read_trajectories(out / "trajectories.jsonl")]


def counted(out, method=None):
    return [t.details for t in lines(out) if t.details.get("counted") == "true"
            and (method is None or t.details["method"] == method)]


CFG = AgentConfig(max_steps=3)
STREAM = [task("a", "find the red key in the cellar"), task("b", "bake bread in the kitchen oven"),
          task("c", "find the red key in the attic")]


def run(model, tasks, out, method="reasoningbank", **kw):
    kw.setdefault("judge", "llm")
    return run_memory(model.llm, Hallway, tasks, method, out, config=CFG, embedder=WordEmbedder(), progress=False, **kw)


# ---------------------------------------------------------------------- ReasoningBank
def test_retrieval_follows_similarity_along_the_stream_and_never_returns_the_current_task(tmp_path):
    model = Model()
    metrics = run(model, STREAM, tmp_path)
    a, b, c = counted(tmp_path)
    assert json.loads(a["retrieved"]) == []  # its own experience is not in the index while it runs
    assert [r["task_id"] for r in json.loads(b["retrieved"])] == ["hallway/a/seed0"]  # the only one
    assert [r["task_id"] for r in json.loads(c["retrieved"])] == ["hallway/a/seed0"]  # most similar, not b
    with MemoryBank(bank_path(tmp_path, "reasoningbank")) as bank:
        assert [e.task_id for e in bank.experiences()] == ["hallway/a/seed0", "hallway/b/seed0", "hallway/c/seed0"]
        a_items = bank.items(1)
        assert [e.trajectory_id for e in bank.experiences()] == [
            "reasoningbank/0/hallway/a/seed0", "reasoningbank/1/hallway/b/seed0", "reasoningbank/2/hallway/c/seed0"]
    # c's prompts carry a's items with the request to say whether each is used, and the agent's
    # "use item 1" is recorded as the injected item's id
    c_prompts = [p for p in model.calls["agent"] if "attic" in p]
    assert c_prompts and all("Head for the cellar quickly" in p and "say in your thinking whether you use it" in p
                             for p in c_prompts)
    assert json.loads(c["items_injected"]) == [i.id for i in a_items]
    assert json.loads(c["items_used"]) == [a_items[0].id]
    assert json.loads(a["extraction"])["kind"] == "success" and a["store"] == "true"
    assert metrics["reasoningbank"]["success_rate"] == 1.0 and metrics["reasoningbank"]["experiences_stored"] == 3


def test_a_repeated_task_sees_only_its_earlier_attempt(tmp_path):
    same = task("a", "find the red key in the cellar")
    run(Model(), [same, same], tmp_path)
    first, second = counted(tmp_path)
    assert json.loads(first["retrieved"]) == []
    assert [r["experience_id"] for r in json.loads(second["retrieved"])] == [1]


def test_llm_judge_decides_the_extraction_and_env_judge_is_the_ablation(tmp_path):
    wrong = Model(judge="failure")  # the environment says success, the judge says failure
    metrics = run(wrong, STREAM[:2], tmp_path / "llm", judge="llm")
    d = counted(tmp_path / "llm")[0]
    assert (d["judged_status"], d["env_success"], d["judge_source"]) == ("failure", "true", "llm")
    assert json.loads(d["extraction"])["kind"] == "failure"
    assert all("failed its task" in p for p in wrong.calls["extract"])
    assert metrics["reasoningbank"]["judge_agreement"] == 0.0 and metrics["reasoningbank"]["success_rate"] == 1.0
    with MemoryBank(bank_path(tmp_path / "llm", "reasoningbank")) as bank:
        assert {e.status for e in bank.experiences()} == {"failure"}

    env = Model(judge="failure")
    metrics = run(env, STREAM[:2], tmp_path / "env", judge="env")
    d = counted(tmp_path / "env", "reasoningbank+judge-env")[0]
    assert (d["judged_status"], d["judge_source"]) == ("success", "env")
    assert "judge" not in env.calls and all("completed its task" in p for p in env.calls["extract"])
    assert metrics["reasoningbank+judge-env"]["judge_agreement"] is None


def test_an_unreadable_judge_falls_back_to_the_environment_and_says_so(tmp_path):
    model = Model(judge="maybe")
    run(model, STREAM[:1], tmp_path, judge="llm")
    d = counted(tmp_path)[0]
    assert d["judge_source"] == "env-fallback" and d["judged_status"] == "success" and "judge_error" in d


def test_malformed_extraction_is_retried_then_skipped_with_its_text_kept(tmp_path):
    model = Model(extraction=" just some rambling")
    metrics = run(model, STREAM[:2], tmp_path)
    first, second = counted(tmp_path)
    extraction = json.loads(first["extraction"])
    assert extraction["outcome"] == "skipped" and extraction["attempts"] == 4  # 1 + EXTRACT_RETRIES
    assert extraction["raw"] == ["# Memory Item 1\n## Title just some rambling"] * 4 and extraction["error"]
    assert first["store"] == "false" and json.loads(second["retrieved"]) == []
    assert len(model.calls["extract"]) == 8  # two tasks, each tried four times
    assert metrics["reasoningbank"]["extractions_skipped"] == 2 and metrics["reasoningbank"]["experiences_stored"] == 0
    assert len(MemoryBank(bank_path(tmp_path, "reasoningbank"))) == 0


# ---------------------------------------------------------------------- baselines
def test_no_memory_keeps_no_bank_and_injects_nothing(tmp_path):
    model = Model()
    run(model, STREAM, tmp_path, method="none")
    assert not bank_path(tmp_path, "none").exists() and "extract" not in model.calls
    assert all(json.loads(d["retrieved"]) == [] and d["store"] == "false" for d in counted(tmp_path))
    assert not any("Memory from similar" in p for p in model.calls["agent"])


def test_synapse_stores_only_judged_successes_as_trajectory_text(tmp_path):
    stream = [task("a", "find the red key in the cellar"), task("b", "find the red key in the attic", length=9),
              task("c", "find the red key in the attic")]
    model = Model()
    run(model, stream, tmp_path, method="synapse", judge="env")  # b cannot be reached in 3 steps: a failure
    a, b, c = counted(tmp_path)
    assert (a["store"], b["store"], c["store"]) == ("true", "false", "true") and "extract" not in model.calls
    with MemoryBank(bank_path(tmp_path, "synapse+judge-env")) as bank:
        [item] = bank.items(1)
        assert len(bank) == 2 and item.title == "Solved task"
        assert 'go(direction="east") -> You are in room 1.' in item.content
    assert [r["task_id"] for r in json.loads(c["retrieved"])] == ["hallway/a/seed0"]
    c_prompt = [p for p in model.calls["agent"] if "attic" in p][-1]
    assert "A similar task you solved before" in c_prompt and "Task: find the red key in the cellar" in c_prompt


def test_awm_induces_a_workflow_from_successes(tmp_path):
    model = Model()
    run(model, STREAM[:2], tmp_path, method="awm")
    assert len(model.calls["workflow"]) == 2 and "Induce a reusable workflow" in model.calls["workflow"][0]
    with MemoryBank(bank_path(tmp_path, "awm")) as bank:
        [item] = bank.items(1)
    assert item.title == "Walk to a place" and item.content == "1. Go {direction} toward the {place} until it is reached."
    assert json.loads(counted(tmp_path)[0]["extraction"])["kind"] == "workflow"
    assert "Workflows that solved similar tasks" in model.calls["agent"][-1]


def test_workflow_parser_names_every_problem():
    with pytest.raises(Exception) as e:
        parse_workflow("x\nSteps:\n")
    assert "purpose is missing" in str(e.value) and "no numbered steps" in str(e.value)


# ---------------------------------------------------------------------- MaTTS
def test_matts_parallel_runs_k_rollouts_at_once_contrasts_once_and_counts_the_selectors_choice(tmp_path):
    Hallway.made, Hallway.barrier = 0, threading.Barrier(3, timeout=10)
    try:
        model = Model(best=2)
        metrics = run(model, STREAM[:2], tmp_path, matts="parallel:3")
    finally:
        Hallway.barrier = None
    assert Hallway.made == 3  # one environment per rollout, reused across tasks
    method = "reasoningbank+matts-parallel3"
    rows = [t.details for t in lines(tmp_path)]
    assert [(r["task_index"], r["rollout"], r["counted"]) for r in rows] == [
        ("0", "0", "false"), ("0", "1", "false"), ("0", "2", "true"),
        ("1", "0", "false"), ("1", "1", "false"), ("1", "2", "true")]
    assert len(model.calls["contrast"]) == 2 and "tried the same task 3 times" in model.calls["contrast"][0]
    assert "extract" not in model.calls and len(model.calls["select"]) == 2
    first = counted(tmp_path)[0]
    assert json.loads(first["selection"])["index"] == 2 and json.loads(first["extraction"])["kind"] == "contrast"
    with MemoryBank(bank_path(tmp_path, method)) as bank:
        [e1, e2] = bank.experiences()
        assert e1.trajectory_id == f"{method}/0/hallway/a/seed0" and bank.items(e1.id)[0].title.startswith("Head for the contrast")
    assert metrics[method]["tasks"] == 2 and metrics[method]["mean_steps_all_rollouts"] == 3.0


def test_matts_sequential_passes_feed_their_notes_forward_and_into_extraction(tmp_path):
    model = Model()
    run(model, STREAM[:1], tmp_path, matts="sequential:3")
    assert len(model.calls["refine"]) == 2
    passes = [p for p in model.calls["agent"]]
    assert "note 1" not in passes[0] and "note 1" in passes[1] and "note 2" not in passes[1]
    assert "note 1" in passes[2] and "note 2" in passes[2]
    [extract] = model.calls["extract"]
    assert "Re-examination notes" in extract and "note 1" in extract and "note 2" in extract
    rows = [t.details for t in lines(tmp_path)]
    assert [(r["rollout"], r["counted"]) for r in rows] == [("0", "false"), ("1", "false"), ("2", "true")]
    assert rows[0]["notes_after"].startswith("note 1") and len(json.loads(rows[2]["notes"])) == 2


@pytest.mark.parametrize("matts, reflections", [(None, {"judge", "extract"}), ("parallel:3", {"judge", "select", "contrast"}),
                                                 ("sequential:2", {"refine", "judge", "extract"})])
def test_a_memory_model_judges_extracts_and_selects_while_the_agent_only_acts(tmp_path, matts, reflections):
    actor, memory = Model(), Model(judge="failure")
    run(actor, STREAM[:1], tmp_path, matts=matts, memory_llm=memory.llm)
    assert set(actor.calls) == {"agent"} and set(memory.calls) == reflections
    config = json.loads((tmp_path / "config.json").read_text())
    assert {"llm", "model", "memory_model"} <= set(next(iter(config["memory"].values())))
    if matts is None:
        assert counted(tmp_path)[0]["judged_status"] == "failure"  # the memory model's verdict


def test_parse_matts_and_items_used():
    assert parse_matts("parallel:3") == ("parallel", 3) and parse_matts(None) == (None, 1)
    with pytest.raises(ValueError, match="parallel:K"):
        parse_matts("parallel:1")
    items = [MemoryItem("Open containers", "d" * 10, "c" * 10), MemoryItem("Avoid loops", "d" * 10, "c" * 10)]
    assert items_used(["I will not use item 1", "skip 2"], items) == []
    assert items_used(["using #2"], items) == [2]


# ---------------------------------------------------------------------- runs: resume
def test_resume_after_a_kill_between_record_and_store_restores_the_experience(tmp_path, monkeypatch):
    from experio.memory import MemoryLoop

    real = MemoryLoop.consolidate
    calls = {"n": 0}

    def dies_on_second(self, outcome, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # killed after task 1's line was written, before its store
        return real(self, outcome, **kw)

    monkeypatch.setattr(MemoryLoop, "consolidate", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        run(Model(), STREAM, tmp_path)
    monkeypatch.setattr(MemoryLoop, "consolidate", real)
    assert len(counted(tmp_path)) == 2 and len(MemoryBank(bank_path(tmp_path, "reasoningbank"))) == 1

    with pytest.raises(MemoryRunError, match="--resume"):
        run(Model(), STREAM, tmp_path)
    summary = RunSummary("reasoningbank")
    model = Model()
    run(model, STREAM, tmp_path, resume=True, summary=summary)
    assert summary.restored == ["reasoningbank/1/hallway/b/seed0"] and summary.skipped == 2 and summary.ran == 1
    assert [d["task_id"] for d in counted(tmp_path)] == [t.id for t in STREAM]  # nothing run twice
    with MemoryBank(bank_path(tmp_path, "reasoningbank")) as bank:
        assert [e.task_id for e in bank.experiences()] == ["hallway/a/seed0", "hallway/b/seed0", "hallway/c/seed0"]


def test_resume_after_a_kill_mid_task_reruns_only_that_task(tmp_path):
    model = Model()
    real = model.respond

    def dies(prompt):
        if model.kind(prompt) == "agent" and "bread" in prompt:
            raise KeyboardInterrupt
        return real(prompt)

    model.llm.responder = dies
    with pytest.raises(KeyboardInterrupt):
        run(model, STREAM, tmp_path)
    assert len(counted(tmp_path)) == 1
    summary = RunSummary("reasoningbank")
    run(Model(), STREAM, tmp_path, resume=True, summary=summary)
    assert summary.skipped == 1 and summary.ran == 2 and summary.restored == []
    assert len(counted(tmp_path)) == 3 and len(MemoryBank(bank_path(tmp_path, "reasoningbank"))) == 3


def test_resume_refuses_a_bank_that_disagrees_with_the_records_or_another_stream(tmp_path):
    run(Model(), STREAM[:1], tmp_path)
    with MemoryBank(bank_path(tmp_path, "reasoningbank")) as bank:
        bank.add_experience("hallway/x/seed0", "q", WordEmbedder().embed(["q"])[0], "success",
                            trajectory_id="reasoningbank/7/hallway/x/seed0")
    with pytest.raises(MemoryRunError, match="no finished task"):
        run(Model(), STREAM, tmp_path, resume=True)
    with pytest.raises(MemoryRunError, match="same --tasks"):  # another stream cannot resume this run
        run(Model(), STREAM[::-1], tmp_path, resume=True)
    for suffix in ("", "-wal", "-shm"):  # a lost bank is rebuilt from the records
        tmp_path.joinpath(f"reasoningbank.bank.sqlite{suffix}").unlink(missing_ok=True)
    summary = RunSummary("reasoningbank")
    run(Model(), STREAM, tmp_path, resume=True, summary=summary)
    assert summary.restored == ["reasoningbank/0/hallway/a/seed0"]
    assert [r["task_id"] for r in json.loads(counted(tmp_path)[2]["retrieved"])] == ["hallway/a/seed0"]


# ---------------------------------------------------------------------- CLI and report
def test_cli_runs_methods_into_one_folder_shows_the_bank_and_reports(tmp_path, monkeypatch):
    import experio.cli.memory as cli_memory
    import experio.embed
    from experio.cli import app

    monkeypatch.setattr(cli_memory, "open_llm", lambda *a, **k: Model().llm)
    monkeypatch.setattr(experio.embed, "load_embedder", lambda *a, **k: WordEmbedder())
    runner = CliRunner()
    out = tmp_path / "cmp"
    base = ["memory", "run", "--env", "hallway", "--tasks", "3", "--max-steps", "2", "--out", str(out)]
    for memory in ("none", "reasoningbank"):
        r = runner.invoke(app, base + ["--memory", memory, "--judge", "llm"])
        assert r.exit_code == 0, r.output
    again = runner.invoke(app, base + ["--memory", "none"])
    assert again.exit_code == 1 and "--resume" in again.output  # ResumeRequired: a run-folder error
    bad = runner.invoke(app, base + ["--memory", "mem0"])
    assert bad.exit_code == 2 and "unknown memory" in bad.output
    shown = runner.invoke(app, ["memory", "show", str(out / "reasoningbank.bank.sqlite"), "--json"])
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.output)
    assert [r["task_id"] for r in rows] == ["hallway/h0/seed0", "hallway/h1/seed1", "hallway/h2/seed2"]
    assert rows[0]["items"][0]["title"] == "Head for the 0 quickly"
    table = runner.invoke(app, ["memory", "show", str(out / "reasoningbank.bank.sqlite")])
    assert table.exit_code == 0 and "Head for the 0" in table.output
    report = (out / "report.md").read_text()
    assert "| none | 3 |" in report and "| reasoningbank | 3 |" in report and "100.0 % (n=3)" in report
    assert (out / "success_curve.png").stat().st_size > 1000
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["none"]["cumulative_successes"] == [1, 2, 3]
    assert {d["method"] for d in (t.details for t in lines(out))} == {"none", "reasoningbank"}
    assert len(recorded(out)) == 6


# ---------------------------------------------------------------------- the real model
@pytest.mark.model
def test_reasoningbank_on_two_tiny_textworld_games(tmp_path):
    from experio.envs import task_stream
    from experio.llm import load_llm

    tasks = task_stream("textworld", 2, seed=1, world_size=3, nb_objects=4, quest_length=2)
    metrics = run_memory(load_llm("llamacpp"), "textworld", tasks, "reasoningbank", tmp_path, judge="llm",
                         config=AgentConfig(max_steps=3), progress=False)
    first, second = counted(tmp_path)
    assert json.loads(first["retrieved"]) == []
    assert first["judged_status"] in ("success", "failure") and first["judge_source"] in ("llm", "env-fallback")
    stored = [d for d in (first, second) if d["store"] == "true"]
    with MemoryBank(bank_path(tmp_path, "reasoningbank")) as bank:
        assert len(bank) == len(stored)
        assert bank.num_items == sum(json.loads(d["extraction"])["items"] for d in stored)
    # the second game sees the first one's memory exactly when the first stored some
    assert bool(json.loads(second["retrieved"])) == (first["store"] == "true")
    assert metrics["reasoningbank"]["tasks"] == 2 and 1 <= int(first["steps"]) <= 3


@pytest.mark.model
def test_matts_parallel_on_the_embedded_model(tmp_path):
    """MaTTS parallel:2 on one tiny TextWorld game: two rollouts, one contrast extraction, one selection."""
    from experio.envs import task_stream
    from experio.llm import load_llm

    tasks = task_stream("textworld", 1, seed=1, world_size=3, nb_objects=4, quest_length=2)
    method = "reasoningbank+matts-parallel2"
    metrics = run_memory(load_llm("llamacpp"), "textworld", tasks, "reasoningbank", tmp_path, matts="parallel:2",
                         config=AgentConfig(max_steps=2, seed=0), progress=False)
    rows = [t.details for t in lines(tmp_path)]
    assert [(r["rollout"], r["counted"]) for r in rows] in ([("0", "false"), ("1", "true")], [("1", "false"), ("0", "true")])
    assert all(r["judged_status"] in ("success", "failure") for r in rows)  # every rollout is judged
    [final] = counted(tmp_path)
    extraction = json.loads(final["extraction"])
    assert extraction["kind"] == "contrast" and extraction["items"] <= 5
    assert 1 <= extraction["attempts"] <= 1 + EXTRACT_RETRIES
    assert json.loads(final["selection"])["index"] in (0, 1) and final["total_steps"] == str(sum(int(r["steps"]) for r in rows))
    with MemoryBank(bank_path(tmp_path, method)) as bank:
        assert bank.num_items == extraction["items"] and len(bank) == (final["store"] == "true")
    assert metrics[method]["tasks"] == 1
