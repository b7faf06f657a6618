"""`experio memory run | show | report` on bad input, interrupted runs and other commands' folders;
the typed records, the error tree, the judge's status and rationale, the success curve (no model)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import experio.cli.memory as memory_cli
from experio.cli import app
from experio.errors import ExperioError
from test_memory_loop import STREAM, Model, WordEmbedder, counted, run  # also registers the "hallway" env

runner = CliRunner()
SRC = Path(__file__).resolve().parents[1] / "src" / "experio" / "memory"


def invoke(*args):
    result = runner.invoke(app, ["memory", *args])
    return result, " ".join(result.output.split())


@pytest.fixture
def offline(monkeypatch):
    """The CLI with a scripted model (the one `open_llm` returns, and the key it was given) and a word embedder."""
    import experio.embed

    seen = {"model": Model()}

    def fake_open_llm(llm, model, base_url, api_key=None, **options):
        seen["api_key"] = api_key
        assert options == {"agent": True}  # an unset --model means the embedded agent
        return seen["model"].llm

    monkeypatch.setattr(memory_cli, "open_llm", fake_open_llm)
    monkeypatch.setattr(experio.embed, "load_embedder", lambda *a, **k: WordEmbedder())
    return seen


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("args, message", [
    (["--tasks", "0"], "--tasks must be at least 1, got 0"),
    (["--tasks", "-2"], "--tasks must be at least 1, got -2"),
    (["--tasks", "no/such/tasks.jsonl"], "is neither a number of tasks nor an existing task file"),
    (["--memory", "mem0"], "unknown memory 'mem0'; choose one of: awm, none, reasoningbank, synapse"),
    (["--judge", "human"], "unknown judge 'human'; choose one of: env, llm"),
    (["--matts", "parallel:1"], "--matts expects parallel:K or sequential:K with K >= 2"),
    (["--context", "flod"], "unknown context manager 'flod'; choose one of: fold, react"),
    (["--setting", "quest_lenght=2"], "unknown hallway setting 'quest_lenght'"),
])
def test_bad_input_is_one_line_exit_2_before_the_model_and_writes_nothing(tmp_path, monkeypatch, args, message):
    monkeypatch.setattr(memory_cli, "open_llm", lambda *a, **k: pytest.fail("the model is loaded after the checks"))
    out = tmp_path / "run"
    result, text = invoke("run", "--env", "hallway", *args, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert message in text and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 3  # one line, folded at most by the terminal width
    assert not out.exists()


def test_unknown_env_lists_the_known_ones(tmp_path):
    result, text = invoke("run", "--env", "webshop", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "unknown environment 'webshop'; choose one of" in text and "hallway" in text


def test_show_a_missing_bank_is_one_line_and_creates_nothing(tmp_path):
    missing = tmp_path / "runs" / "reasoningbank.bank.sqlite"
    result, text = invoke("show", str(missing))
    assert result.exit_code == 2 and "does not exist" in text and "<method>.bank.sqlite" in text
    assert not missing.exists() and not missing.parent.exists()
    result, text = invoke("show", str(tmp_path))
    assert result.exit_code == 2 and "is a directory" in text
    notes = tmp_path / "notes.db"
    notes.write_text("shopping list\n")
    result, text = invoke("show", str(notes))
    assert result.exit_code == 1 and "not a SQLite file" in text and notes.read_text() == "shopping list\n"


def test_importing_a_missing_export_file_is_an_input_file_error(tmp_path):
    from experio.errors import InputFileError
    from experio.memory import MemoryBank

    with MemoryBank(tmp_path / "bank.db", dim=384) as bank, pytest.raises(InputFileError, match="does not exist"):
        bank.import_jsonl(tmp_path / "nope.jsonl")
    assert not (tmp_path / "nope.jsonl.rejects.jsonl").exists()


# ---------------------------------------------------------------------- interrupted runs
def test_interrupted_run_needs_resume_and_resume_loses_no_finished_task(tmp_path, offline):
    model = offline["model"]
    real = model.respond

    def dies_on_the_second_task(prompt):
        if model.kind(prompt) == "agent" and "hallway 1" in prompt:
            raise KeyboardInterrupt  # Ctrl-C while the second task runs
        return real(prompt)

    model.llm.responder = dies_on_the_second_task
    out = tmp_path / "rb"
    args = ["run", "--env", "hallway", "--tasks", "3", "--max-steps", "2", "--out", str(out), "--api-key", "k-1"]
    first, text = invoke(*args)
    assert first.exit_code == 130 and "--resume" in text and offline["api_key"] == "k-1"
    assert [d["task_index"] for d in counted(out)] == ["0"]
    again, text = invoke(*args)
    assert again.exit_code == 1 and "already has 1 finished task(s) of method 'reasoningbank'; pass --resume" in text
    offline["model"] = Model()
    resumed, text = invoke(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert [d["task_index"] for d in counted(out)] == ["0", "1", "2"]  # the first kept, nothing run twice
    assert json.loads((out / "metrics.json").read_text())["reasoningbank"]["tasks"] == 3
    assert "reasoningbank" in text and "100.0 %" in text  # the table's cells are not cut


def test_memory_model_loads_a_second_model_of_the_same_backend(tmp_path, monkeypatch):
    import experio.embed

    actor, judge = Model(), Model(judge="failure")
    loaded = []

    def fake_open_llm(llm, model, base_url, api_key=None, **options):
        loaded.append((llm, model, options))
        return judge.llm if model == "embedded" else actor.llm

    monkeypatch.setattr(memory_cli, "open_llm", fake_open_llm)
    monkeypatch.setattr(experio.embed, "load_embedder", lambda *a, **k: WordEmbedder())
    out = tmp_path / "rb"
    result, _ = invoke("run", "--env", "hallway", "--tasks", "1", "--max-steps", "2", "--out", str(out),
                       "--memory-model", "embedded")
    assert result.exit_code == 0, result.output
    assert loaded == [(None, None, {"agent": True}), (None, "embedded", {})]
    assert set(actor.calls) == {"agent"} and "judge" in judge.calls
    assert counted(out)[0]["judged_status"] == "failure"


# ---------------------------------------------------------------------- report on other folders
def test_report_refuses_an_agent_folder_and_writes_nothing(tmp_path):
    agent = tmp_path / "agent"
    agent.mkdir()
    files = {"config.json": json.dumps({"kind": "agent"}), "trajectories.jsonl": "",
             "report.md": "# Agent run\n", "metrics.json": '{"react": {}}\n'}
    for name, text in files.items():
        (agent / name).write_text(text)
    result, text = invoke("report", str(agent))
    assert result.exit_code == 1 and "is a run folder of `experio agent`, not of `experio memory`" in text
    assert {p.name: p.read_text() for p in agent.iterdir()} == files  # nothing overwritten, nothing added
    missing, text = invoke("report", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "does not exist" in text
    empty = tmp_path / "empty"
    empty.mkdir()
    result, text = invoke("report", str(empty))
    assert result.exit_code == 1 and "no trajectories.jsonl: not a memory run folder" in text
    assert list(empty.iterdir()) == []


def test_report_refuses_agent_records_in_a_folder_without_kind(tmp_path):
    from experio.agent import run_agent
    from experio.llm import ScriptedLLM
    from test_memory_loop import Hallway

    legacy = tmp_path / "legacy"
    reply = json.dumps({"thinking": "east", "action": "go east"})
    run_agent(ScriptedLLM(responder=lambda p: reply), Hallway(), STREAM[:1], "react", legacy, progress=False)
    (legacy / "config.json").unlink()  # made before folders named their kind
    before = {p.name: p.read_bytes() for p in legacy.iterdir()}
    result, text = invoke("report", str(legacy))
    assert result.exit_code == 1 and "is not a memory task record" in text and "experio agent report" in text
    assert {p.name: p.read_bytes() for p in legacy.iterdir()} == before


def test_report_of_a_folder_killed_in_its_first_task_writes_nothing(tmp_path):
    run(Model(), STREAM[:1], tmp_path, matts="parallel:2")
    lines = (tmp_path / "trajectories.jsonl").read_text().splitlines()
    for name in ("metrics.json", "report.md", "success_curve.png"):
        (tmp_path / name).unlink()
    (tmp_path / "trajectories.jsonl").write_text(lines[0] + "\n")  # a rollout line, not the counted one
    result, text = invoke("report", str(tmp_path))
    assert result.exit_code == 1 and "holds no finished memory-run task" in text
    assert not (tmp_path / "report.md").exists() and not (tmp_path / "metrics.json").exists()


# ---------------------------------------------------------------------- the judge's status and rationale
def test_show_lists_status_and_rationale_of_one_judge_answer(tmp_path):
    """A first judge answer without a status line ("success") must not become the rationale of
    the JSON retry's "failure": status and rationale come from the same answer."""
    model = Model()
    real = model.respond

    def judge_without_status(prompt):
        if model.kind(prompt) == "judge":
            model.calls.setdefault("judge", []).append(prompt)
            return '{"rationale": "", "status": "failure"}' if prompt.endswith("JSON: ") else " success"
        return real(prompt)

    model.llm.responder = judge_without_status
    run(model, STREAM[:1], tmp_path)
    [d] = counted(tmp_path)
    assert (d["judged_status"], d["judge_rationale"], d["judge_source"]) == ("failure", "", "llm")
    result = runner.invoke(app, ["memory", "show", str(tmp_path / "reasoningbank.bank.sqlite"), "--json"])
    [row] = json.loads(result.output)
    assert (row["status"], row["rationale"]) == ("failure", "")
    table, text = invoke("show", str(tmp_path / "reasoningbank.bank.sqlite"))
    assert table.exit_code == 0 and "rationale" in text and "failure" in text


def test_judge_retry_keeps_its_own_rationale():
    from experio.llm import ScriptedLLM
    from experio.memory import judge

    j = judge(ScriptedLLM(replies=[" success", '{"rationale": "nothing was unlocked", "status": "failure"}']), "q", "t")
    assert (j.status, j.rationale) == ("failure", "nothing was unlocked") and " success" in j.raw
    j = judge(ScriptedLLM(replies=[" success", '{"rationale": "", "status": "failure"}']), "q", "t")
    assert (j.status, j.rationale) == ("failure", "")


# ---------------------------------------------------------------------- records, plot, errors
def test_memory_details_round_trip_and_old_records_read(tmp_path):
    from experio.memory import MemoryDetails, MemoryRecordError, recorded

    run(Model(), STREAM[:2], tmp_path, matts="sequential:2")
    records = recorded(tmp_path)
    assert [(r.details.task_index, r.details.rollout, r.details.counted) for r in records] == [
        (0, 0, False), (0, 1, True), (1, 0, False), (1, 1, True)]
    for r, line in zip(records, (tmp_path / "trajectories.jsonl").read_text().splitlines()):
        wire = json.loads(line)["details"]
        assert r.details.to_details() == wire and MemoryDetails.from_details(wire) == r.details
    final = records[1].details
    assert final.summary.extraction.kind == "success" and final.summary.store and len(final.summary.notes) == 1
    assert records[0].details.notes_after == final.summary.notes[0]
    old = dict(json.loads((tmp_path / "trajectories.jsonl").read_text().splitlines()[1])["details"])
    for key in ("total_steps", "rollouts", "selection", "notes", "top_k"):
        old.pop(key, None)  # a record written before these keys existed
    d = MemoryDetails.from_details(old)
    assert d.summary.total_steps == d.episode.steps and d.top_k == 1
    with pytest.raises(MemoryRecordError, match="'retrieved' cannot be read"):
        MemoryDetails.from_details(old | {"retrieved": "[1, 2"})
    with pytest.raises(MemoryRecordError, match="no 'method'"):
        MemoryDetails.from_details({k: v for k, v in old.items() if k != "method"})


def test_success_curve_has_integer_ticks_and_one_style_per_method(tmp_path, monkeypatch):
    import experio.memory.report as report

    seen = {}

    def capture(path, series, **options):
        seen.update(series=series, **options)
        return real(path, series, **options)

    real = report.save_line_plot
    monkeypatch.setattr(report, "save_line_plot", capture)
    run(Model(), STREAM, tmp_path, method="none")
    run(Model(), STREAM, tmp_path, method="reasoningbank")  # the same curve: lines overlap
    assert seen["integer_y"] is True
    assert seen["series"] == {"none": [1, 2, 3], "reasoningbank": [1, 2, 3]}
    assert (tmp_path / "success_curve.png").stat().st_size > 1000


def _error_classes() -> dict[str, type]:
    import experio.memory.errors as errors

    return {n: c for n, c in vars(errors).items() if isinstance(c, type) and issubclass(c, BaseException)
            and c.__module__ == errors.__name__}


def test_error_tree_is_drawn_in_the_docstring_and_every_error_is_an_experio_error():
    import experio.memory.errors as errors
    from experio.memory import MemoryLayerError

    classes = _error_classes()
    assert len(classes) >= 8
    for name, cls in classes.items():
        assert issubclass(cls, MemoryLayerError) and issubclass(cls, ExperioError), name
        assert cls.__doc__ and cls.__doc__.strip().splitlines()[0].endswith("."), name
        assert f"── {name}" in errors.__doc__, f"{name} is not in the tree of the module docstring"


def test_everything_the_memory_package_raises_on_purpose_is_in_its_errors():
    allowed = set(_error_classes())
    found = []
    for path in sorted(SRC.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name):
                if node.exc.func.id not in allowed:
                    found.append(f"{path.name}:{node.lineno} raises {node.exc.func.id}")
    assert not found, "\n".join(found)


def test_memory_trajectories_validate_as_adp_with_no_flags(tmp_path):
    """The records are ADP 1.2.0 with the environment's tools as `available_apis` (MaTTS rollouts too)."""
    run(Model(), STREAM[:2], tmp_path, matts="parallel:2")
    lines = [json.loads(x) for x in (tmp_path / "trajectories.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and all(line["available_apis"] for line in lines)
    result = runner.invoke(app, ["adp", "validate", str(tmp_path / "trajectories.jsonl")])
    assert result.exit_code == 0 and "all checks passed" in result.output, result.output


def test_report_counts_every_parallel_rollout_not_only_the_selected_one(tmp_path):
    run(Model(), STREAM[:2], tmp_path, matts="parallel:2")
    path = tmp_path / "trajectories.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    spare = next(i for i, line in enumerate(lines) if line["details"]["counted"] == "false")
    for flip in ("true", "false"):  # a rollout the selector did not pick wins, then loses
        lines[spare]["details"]["env_success"] = flip
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        result, _ = invoke("report", str(tmp_path))
        assert result.exit_code == 0
        [m] = json.loads((tmp_path / "metrics.json").read_text()).values()
        wins = [line["details"]["env_success"] == "true" for line in lines]
        by_task = {}
        for line, won in zip(lines, wins):
            by_task.setdefault(line["details"]["task_index"], []).append(won)
        assert (m["rollouts"], m["rollouts_won"]) == (4, sum(wins))
        assert m["tasks_any_rollout_won"] == sum(any(w) for w in by_task.values())
        assert f"{sum(wins)} of 4 rollouts won" in (tmp_path / "report.md").read_text()
