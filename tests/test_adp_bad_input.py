"""Bad input to ``experio adp``: each a clear one-line error (or a reject), nothing half-written;
``--strict`` exit codes; ``mix`` keeps ids unique; a ``workers=2`` script without a main guard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from experio.adp import convert_file, export_file, mix, validate_path
from experio.cli.adp import app
from experio.errors import InputFileError, UsageError
from test_adp_support import LOCAL, sample

runner = CliRunner()
OS_STD = LOCAL / "agenttuning_os" / "sample_std.json"


def _run(*args):
    res = runner.invoke(app, [str(a) for a in args])
    return res.exit_code, res.output


def _one_error_line(out: str) -> str:
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in out, out
    return errors[0]


@pytest.mark.parametrize("command", [
    ["convert", "-d", "agenttuning_os", "{in}", "-o", "{out}"],
    ["export", "--to", "openhands", "{in}", "-o", "{out}"],
    ["mix", "a={in}", "-o", "{out}"],
    ["stats", "{in}"],
    ["validate", "{in}"],
])
@pytest.mark.parametrize("problem", ["missing", "directory"])
def test_missing_input_or_a_directory_is_one_line_and_writes_nothing(tmp_path, command, problem):
    src = tmp_path / ("missing.jsonl" if problem == "missing" else "folder")
    if problem == "directory":
        src.mkdir()
    out = tmp_path / "out" / "o.jsonl"
    code, text = _run(*[a.replace("{in}", str(src)).replace("{out}", str(out)) for a in command])
    assert code == 2, text
    line = _one_error_line(text)
    if command[0] in ("stats", "validate") and problem == "directory":
        assert "no " in line  # an empty folder holds no ADP file
    else:
        assert ("does not exist" if problem == "missing" else "is a directory") in line, line
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_library_raises_the_shared_input_file_error(tmp_path):
    with pytest.raises(InputFileError, match="is a directory"):
        export_file("trl", tmp_path, tmp_path / "o.jsonl")
    with pytest.raises(InputFileError, match="does not exist"):
        convert_file("agenttuning_os", tmp_path / "nope.json", tmp_path / "o.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_one_malformed_line_among_good_ones_is_rejected_and_the_rest_processed(tmp_path):
    rows = json.loads(OS_STD.read_text())
    src = tmp_path / "std.jsonl"
    lines = [json.dumps(r) for r in rows]
    lines.insert(3, '{"id": "cut", "content": [')
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "sft.jsonl"
    code, text = _run("export", "--to", "openhands", src, "-o", out, "-d", "agenttuning_os")
    assert code == 0 and "rows in 6 = rows ok 5 + rows rejected 1" in text, text
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [r["id"] for r in rows]
    (rej,) = [json.loads(x) for x in (tmp_path / "sft.jsonl.rejects.jsonl").read_text().splitlines()]
    assert rej["line"] == 4 and rej["reason"].startswith("invalid JSON") and rej["row"] == '{"id": "cut", "content": ['
    code, text = _run("export", "--to", "openhands", src, "-o", out, "-d", "agenttuning_os", "--strict")
    assert code == 1 and "1 row(s) rejected (--strict)" in _one_error_line(text)
    assert len(out.read_text().splitlines()) == 5  # the output is still written; strict is about the exit code
    report = validate_path(src, "agenttuning_os")
    assert not report.ok and "line 4: invalid JSON" in str(report)


def test_strict_convert_and_mix(tmp_path):
    raw = json.loads(sample("agenttuning_os", "sample_raw.json").read_text())
    src = tmp_path / "raw.jsonl"
    src.write_text("\n".join([json.dumps(raw[0]), "{oops"]) + "\n")
    code, text = _run("convert", "-d", "agenttuning_os", src, "-o", tmp_path / "std.jsonl")
    assert code == 0 and "rows rejected 1" in text
    code, text = _run("convert", "-d", "agenttuning_os", src, "-o", tmp_path / "std.jsonl", "--strict")
    assert code == 1, text
    code, text = _run("mix", f"a={src}", "-o", tmp_path / "m.jsonl", "--strict")
    assert code == 1 and "rejected (--strict)" in text
    code, text = _run("mix", f"a={OS_STD}", "-o", tmp_path / "m.jsonl", "--strict")
    assert code == 0, text


@pytest.mark.parametrize("args, listed", [
    (["convert", "-d", "agenttuning_oss", str(OS_STD), "-o", "o.jsonl"], "unknown dataset 'agenttuning_oss'"),
    (["convert", "-d", "agenttuning_os", str(OS_STD), "--to", "sft", "-o", "o.jsonl"], "unknown exporter 'sft'"),
    (["export", "--to", "openhandz", str(OS_STD), "-o", "o.jsonl"], "unknown exporter 'openhandz'"),
    (["validate", str(OS_STD), "-d", "os"], "unknown dataset 'os'"),
    (["convert", "-d", "agenttuning_os", str(OS_STD), "--version", "2.0", "-o", "o.jsonl"], "unknown version '2.0'"),
])
def test_unknown_names_list_the_valid_ones(args, listed):
    code, text = _run(*args)
    line = _one_error_line(text)
    assert code == 2 and listed in line and "choose one of: " in line, text
    assert "agenttuning_os" in line or "openhands" in line or "1.2.0, release" in line


def test_convert_without_dataset_needs_one_for_raw_rows(tmp_path):
    code, text = _run("convert", sample("agenttuning_os", "sample_raw.json"), "-o", tmp_path / "o.jsonl")
    assert code == 2 and "pass --dataset NAME" in _one_error_line(text) and "agenttuning_os" in text
    assert not (tmp_path / "o.jsonl").exists()


def test_mix_makes_repeated_ids_unique(tmp_path):
    out = tmp_path / "mix.jsonl"
    s = mix({"a": OS_STD, "b": OS_STD}, {"a": 2}, out)
    ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    first = json.loads(OS_STD.read_text())[0]["id"]
    assert len(ids) == 15 and len(set(ids)) == 15
    assert [i for i in ids if i.startswith(first)] == [first, f"{first}#2", f"{first}#3"]
    assert s.renamed == 10 and "10 repeated id(s) made unique" in str(s)
    assert validate_path(out, "agenttuning_os").ok


def test_bad_weights_and_workers_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="not NAME=NUMBER"):
        mix({"a": OS_STD}, __import__("experio.adp", fromlist=["parse_weights"]).parse_weights("a2"), tmp_path / "m.jsonl")
    with pytest.raises(UsageError, match="workers must be a positive integer"):
        export_file("trl", OS_STD, tmp_path / "o.jsonl", workers=-1)


def test_a_workers_script_without_a_main_guard_runs_cleanly(tmp_path):
    """The docs/adp.md snippet run as a script: workers do not re-run the script's top level."""
    script = tmp_path / "snippet.py"
    script.write_text(textwrap.dedent(f"""
        from experio import adp
        s = adp.export_file("openhands", {str(OS_STD)!r}, {str(tmp_path / 'oh.parquet')!r},
                            dataset="agenttuning_os", workers=2)
        print("ran", s.rows_ok)
    """))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env,
                         cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["ran", "5"] and "Traceback" not in res.stderr, res.stdout + res.stderr
