"""The ``experio adp`` sub-app, driven through typer's CliRunner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from experio.adp import stats as adp_stats
from experio.adp import validate_path
from experio.cli.adp import app
from test_adp_support import LOCAL, SHARED, sample

runner = CliRunner()


def _run(*args):
    res = runner.invoke(app, [str(a) for a in args])
    return res.exit_code, res.output


def test_convert_then_export_with_a_malformed_row(tmp_path):
    raw = json.loads(sample("agenttuning_os", "sample_raw.json").read_text())
    inp = tmp_path / "raw.jsonl"
    lines = [json.dumps(r) for r in raw]
    lines.insert(2, '{"id": "broken", "conversations": [{"role": "assistant", "content": "Think: x\\n\\nAct: fly"}]}')
    lines.insert(4, "{not json")
    inp.write_text("\n".join(lines) + "\n")
    code, out = _run("convert", "--dataset", "agenttuning_os", inp, "-o", tmp_path / "std.jsonl.gz")
    assert code == 0, out
    assert "rows in 7 = rows ok 5 + rows rejected 2" in out
    rejects = [json.loads(x) for x in (tmp_path / "std.jsonl.gz.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [3, 5]
    assert "cannot parse the action" in rejects[0]["reason"] and "invalid JSON" in rejects[1]["reason"]
    code, out = _run("export", "--to", "openhands", tmp_path / "std.jsonl.gz", "-o", tmp_path / "sft.parquet", "-d", "agenttuning_os")
    assert code == 0, out
    assert "rows in 5 = rows ok 5 + rows rejected 0" in out
    code, out = _run("validate", tmp_path / "std.jsonl.gz", "--dataset", "agenttuning_os")
    assert code == 0 and "all checks passed" in out


def test_convert_parquet_output_and_120_version(tmp_path):
    code, out = _run("convert", "-d", "agenttuning_db", sample("agenttuning_db", "sample_raw.json"), "-o", tmp_path / "std.parquet", "--version", "1.2.0")
    assert code == 0, out
    s = adp_stats(tmp_path / "std.parquet")["std.parquet"]
    assert s["trajectories"] == 5 and s["finished"] == 5


def test_errors_are_clear_and_nonzero(tmp_path):
    code, out = _run("convert", "-d", "nope", "x.json", "-o", tmp_path / "o.jsonl")
    assert code == 2 and "unknown dataset 'nope'; choose one of: " in out and "agenttuning_os" in out
    code, out = _run("export", "--to", "latex", "x.json", "-o", tmp_path / "o.jsonl")
    assert code == 2 and "unknown exporter 'latex'; choose one of: " in out and "openhands" in out
    code, out = _run("convert", "-d", "agenttuning_os", tmp_path / "missing.jsonl", "-o", tmp_path / "o.jsonl")
    assert code == 2 and "does not exist" in out
    code, out = _run("mix", "--weights", "a=x", "a=" + str(tmp_path), "-o", tmp_path / "m.jsonl")
    assert code == 2 and "not a number" in out


def test_validate_reports_errors_with_exit_1(tmp_path):
    std = json.loads(sample("agenttuning_webshop", "sample_std.json").read_text())
    std[0]["content"][3]["function"] = "teleport"
    std[1]["content"][0]["source"] = "narrator"
    d = tmp_path / "agenttuning_webshop"
    (d / "sample_sft").mkdir(parents=True)
    (d / "sample_std.json").write_text(json.dumps(std))
    sft = [{"id": "webshop_330", "conversations": [{"from": "human", "value": "x"}] * 2, "system": ""},
           {"id": "ghost", "conversations": [], "system": ""}]
    (d / "sample_sft" / "sample_sft_openhands.json").write_text(json.dumps(sft))
    code, out = _run("validate", d)
    assert code == 1
    assert "'teleport' (1x) is not in the tool registry" in out
    assert "source" in out and "narrator" in out.lower() or "Input should be" in out
    assert "id 'ghost' is not in the standardized file" in out
    assert "id 'webshop_330': 2 turns vs" in out


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is absent")
def test_validate_all_official_samples_passes():
    report = validate_path(SHARED)
    assert report.ok, str(report)
    assert len(report.datasets) == 13
    code, out = _run("validate", SHARED)
    assert code == 0 and "all checks passed" in out


def test_stats_and_mix(tmp_path):
    code, out = _run("stats", LOCAL, "--json")
    assert code == 0
    s = json.loads(out)
    assert s["agenttuning_os"]["trajectories"] == 5
    assert s["agenttuning_os"]["languages"] == {"bash": 24}
    code, out = _run(
        "mix", "--weights", "os=2,db=0.4", "--tag",
        f"os={sample('agenttuning_os', 'sample_std.json')}", f"db={sample('agenttuning_db', 'sample_std.json')}",
        "-o", tmp_path / "mix.jsonl",
    )
    assert code == 0, out
    rows = [json.loads(x) for x in (tmp_path / "mix.jsonl").read_text().splitlines()]
    src = [r["details"]["mix_source"] for r in rows]
    assert src.count("os") == 10 and src.count("db") <= 5
    assert "rows in 10 = rows ok 10 + rows rejected 0" in out


def test_list_command():
    code, out = _run("list")
    assert code == 0 and "nnetnav-live" in out and "trl" in out


def test_mix_fractional_weights_are_seeded_and_proportional(tmp_path):
    from experio.adp import mix, parse_weights

    p = tmp_path / "in.jsonl"
    p.write_text("".join(json.dumps({"id": str(i), "content": [], "details": {}}) + "\n" for i in range(400)))
    s1 = mix({"a": str(p)}, {"a": 0.25}, tmp_path / "m1.jsonl", seed=3)
    s2 = mix({"a": str(p)}, {"a": 0.25}, tmp_path / "m2.jsonl", seed=3)
    assert (tmp_path / "m1.jsonl").read_text() == (tmp_path / "m2.jsonl").read_text()
    assert 60 <= s1.rows_out <= 140 and s1.rows_in == 400 and s1.balanced
    with pytest.raises(ValueError, match="not NAME=NUMBER"):
        parse_weights("a2")
    with pytest.raises(ValueError, match="were not given"):
        mix({"a": str(p)}, {"b": 1}, tmp_path / "m3.jsonl")


def test_workers_option(tmp_path):
    raw = sample("agenttuning_db", "sample_raw.json")
    outs = []
    for w in ("1", "2", "auto"):
        code, out = _run("convert", "-d", "agenttuning_db", raw, "-o", tmp_path / f"std{w}.parquet", "--workers", w)
        assert code == 0 and "rows in 5 = rows ok 5" in out, out
        outs.append((tmp_path / f"std{w}.parquet").read_bytes())
    assert outs[0] == outs[1] == outs[2]
    code, out = _run("convert", "-d", "agenttuning_db", raw, "-o", tmp_path / "x.jsonl", "--workers", "zero")
    assert code == 2 and "--workers must be a positive number or 'auto'" in out
