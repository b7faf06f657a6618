"""experio.runs (run folders, records, rejects, progress, reports) and the CLI's one error path."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from experio import runs
from experio.errors import (ExperioError, InputFileError, ResumeRequired, RunFolderError, UsageError, input_file,
                            positive, unknown_name)


def test_run_folder_claims_kind_and_refuses_to_mix(tmp_path):
    run = runs.RunFolder(tmp_path / "r", "agent")
    run.open(resume=False, finished=0)
    assert run.config() == {"kind": "agent"}
    run.set_config(["fold"], {"max_steps": 3})
    with pytest.raises(ResumeRequired, match="already has 2 finished episode\\(s\\); pass --resume"):
        run.open(resume=False, finished=2)
    run.open(resume=True, finished=2)  # resuming is fine
    assert run.config() == {"kind": "agent", "fold": {"max_steps": 3}}
    other = runs.RunFolder(tmp_path / "r", "memory")
    with pytest.raises(RunFolderError, match="run folder of `experio agent`, not of `experio memory`"):
        other.check_kind()
    with pytest.raises(RunFolderError):
        other.open(resume=True, finished=0)
    assert json.loads((tmp_path / "r" / "config.json").read_text())["kind"] == "agent"  # untouched


def test_check_kind_on_missing_folder_and_file(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        runs.RunFolder(tmp_path / "nope", "agent").check_kind(must_exist=True)
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunFolderError, match="is a file, not a run folder"):
        runs.RunFolder(tmp_path / "f", "agent").check_kind()


def test_records_drop_a_cut_off_tail_and_appending_repairs_it(tmp_path):
    path = tmp_path / "trajectories.jsonl"
    with runs.RecordAppender(path) as w:
        w.write({"id": 1})
        w.write({"id": 2})
    with open(path, "ab") as fh:
        fh.write(b'{"id": 3, "cut')  # a killed write
    assert runs.read_records(path) == [{"id": 1}, {"id": 2}]
    with runs.RecordAppender(path) as w:
        w.write({"id": 4})
    assert runs.read_records(path) == [{"id": 1}, {"id": 2}, {"id": 4}]
    assert runs.read_records(tmp_path / "absent.jsonl") == []


def test_a_bad_line_inside_the_records_is_an_error(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"id": 1}\nnot json\n{"id": 2}\n')
    with pytest.raises(RunFolderError, match="t.jsonl:2 is not valid JSON"):
        runs.read_records(path)


def test_rejects_file_format_commit_and_abort(tmp_path):
    out = tmp_path / "out.jsonl"
    rej = runs.RejectsFile(out)
    rej.add(3, "not valid JSON: x", "{bad")
    rej.add([5, 6], "schema: missing id", {"a": 1})
    assert rej.count == 3 and rej.reasons == {"not valid JSON": 1, "schema": 2}
    assert rej.commit() == f"{out}.rejects.jsonl"
    lines = [json.loads(x) for x in open(f"{out}.rejects.jsonl")]
    assert lines == [{"line": 3, "reason": "not valid JSON: x", "row": "{bad"},
                     {"line": 5, "reason": "schema: missing id", "row": {"a": 1}, "lines": [5, 6]}]
    clean = runs.RejectsFile(out)
    assert clean.commit() is None and not (tmp_path / "out.jsonl.rejects.jsonl").exists()  # a clean rerun removes it
    failed = runs.RejectsFile(out)
    failed.add(1, "x", "y")
    failed.abort()
    assert list(tmp_path.iterdir()) == []


def test_atomic_json_and_update(tmp_path):
    p = tmp_path / "c.json"
    runs.update_json(p, ["a", "b"], 1)
    assert runs.update_json(p, ["a", "c"], 2) == {"a": {"b": 1, "c": 2}}
    p.write_text("[1]")
    with pytest.raises(RunFolderError, match="not an object"):
        runs.read_json(p)
    assert [x.name for x in tmp_path.iterdir()] == ["c.json"]  # no temporary file left


def test_report_helpers(tmp_path):
    assert runs.pct(0.5) == "50.0 %" and runs.pct(None) == "n/a" and runs.pct(1 / 3, 0) == "33 %"
    assert runs.markdown_table(["a", "b"], [[1, "x"]]) == ["| a | b |", "|---|---|", "| 1 | x |"]
    png = runs.save_line_plot(tmp_path / "p.png", {"a": [0, 1, 1], "b": [0, 1, 1]}, xlabel="x", ylabel="y",
                              title="t", integer_y=True)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_counts_hits(capsys):
    with runs.progress("episodes", 3, enabled=False) as advance:
        advance(True)  # disabled: nothing shown, nothing raised
    with runs.progress("episodes", 2, completed=1) as advance:
        advance(True)


def test_error_helpers(tmp_path):
    assert str(unknown_name("context", "flod", ["react", "fold"])) == "unknown context 'flod'; choose one of: fold, react"
    with pytest.raises(UsageError, match="--tasks must be at least 1, got 0"):
        positive("--tasks", 0)
    with pytest.raises(InputFileError, match="is a directory"):
        input_file(tmp_path)
    with pytest.raises(FileNotFoundError):  # an InputFileError is also the built-in error
        input_file(tmp_path / "x.jsonl")
    assert issubclass(ResumeRequired, ExperioError) and issubclass(UsageError, ValueError)


def _app():
    from experio.cli.common import make_app

    app = make_app("test app")

    @app.command()
    def go(what: str) -> None:
        if what == "usage":
            raise UsageError("bad --thing 'x'; choose one of: a, b")
        if what == "run":
            raise ResumeRequired("runs/x already has 1 finished episode(s); pass --resume")
        if what == "interrupt":
            raise KeyboardInterrupt
        raise ZeroDivisionError("a real bug")

    @app.command()
    def other() -> None:
        typer.echo("ok")

    return app


@pytest.mark.parametrize("what,code,text", [
    ("usage", 2, "error: bad --thing 'x'; choose one of: a, b"),
    ("run", 1, "error: runs/x already has 1 finished episode(s); pass --resume"),
    ("interrupt", 130, "interrupted: what finished is kept"),
])
def test_cli_turns_experio_errors_into_one_line(what, code, text):
    res = CliRunner().invoke(_app(), ["go", what])
    assert res.exit_code == code, res.output
    assert text in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) <= 2


def test_cli_keeps_a_real_bug_visible():
    res = CliRunner().invoke(_app(), ["go", "bug"])
    assert res.exit_code == 1 and isinstance(res.exception, ZeroDivisionError)
