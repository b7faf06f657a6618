"""``convert_file(..., to=FORMAT)``: one pass raw -> ADP -> training rows gives the same
bytes as ``convert_file`` then ``export_file``, for every worker count and output format,
keeps the balance, and rejects rows the exporter cannot express from both outputs."""

from __future__ import annotations

import gzip
import json

import pytest
from typer.testing import CliRunner

from experio.adp import convert_file, export_file, read_rows
from experio.cli.adp import app
from test_adp_support import sample

DATASETS = ["agenttuning_os", "agenttuning_db", "orca_agentinstruct", "agenttuning_webshop"]


def _raw_jsonl(tmp_path, dataset: str, copies: int = 1, bad_line: bool = True):
    base = json.loads(sample(dataset, "sample_raw.json").read_text())
    path = tmp_path / f"{dataset}.raw.jsonl"
    with open(path, "w") as f:
        for i in range(copies):
            for r in base:
                f.write(json.dumps(dict(r, id=f"{r['id']}#{i}")) + "\n")
        if bad_line:
            f.write("{not json\n")
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
@pytest.mark.parametrize("dataset", DATASETS)
def test_one_pass_equals_two_passes(tmp_path, dataset, suffix):
    raw = _raw_jsonl(tmp_path, dataset)
    std, sft = tmp_path / f"std{suffix}", tmp_path / f"sft{suffix}"
    convert_file(dataset, raw, std)
    export_file("openhands", std, sft, dataset=dataset)
    s = convert_file(dataset, raw, tmp_path / f"one{suffix}", to="openhands", adp_output=tmp_path / f"one-std{suffix}")
    assert (tmp_path / f"one{suffix}").read_bytes() == sft.read_bytes()
    assert (tmp_path / f"one-std{suffix}").read_bytes() == std.read_bytes()
    assert s.balanced and s.rejected == 1 and s.rows_ok == s.rows_in - 1
    assert json.loads(open(s.rejects_path).readline())["line"] == s.rows_in
    # without the ADP file: the same exported bytes
    convert_file(dataset, raw, tmp_path / f"bare{suffix}", to="openhands")
    assert (tmp_path / f"bare{suffix}").read_bytes() == sft.read_bytes()


def test_one_pass_workers_give_the_same_bytes(tmp_path):
    raw = _raw_jsonl(tmp_path, "agenttuning_os", copies=150)  # several chunks
    outs = {}
    for w in (1, 2):
        s = convert_file("agenttuning_os", raw, tmp_path / f"o{w}.parquet", to="openhands",
                         adp_output=tmp_path / f"a{w}.jsonl", workers=w)
        assert s.balanced and s.rows_in > 600
        outs[w] = ((tmp_path / f"o{w}.parquet").read_bytes(), (tmp_path / f"a{w}.jsonl").read_bytes())
    assert outs[1] == outs[2]


@pytest.mark.parametrize("out,adp", [("o.jsonl.gz", "a.jsonl"), ("o.parquet", "a.jsonl.gz")])
def test_one_pass_workers_with_one_gzip_output(tmp_path, out, adp):
    """A gzip output goes through the pipe while the other one uses part files."""
    raw = _raw_jsonl(tmp_path, "agenttuning_os", copies=120)
    got = {}
    for w in (1, 2):
        d = tmp_path / str(w)
        d.mkdir()
        s = convert_file("agenttuning_os", raw, d / out, to="openhands", adp_output=d / adp, workers=w)
        assert s.balanced
        # a gzip header carries the time it was written: compare the content
        got[w] = tuple(gzip.open(p).read() if p.suffix == ".gz" else p.read_bytes() for p in (d / out, d / adp))
    assert got[1] == got[2]


def test_grouping_converter_one_pass(tmp_path):
    """nnetnav-live joins rows (streamed in this process): one pass still equals two."""
    raw = sample("nnetnav-live", "sample_raw.json")
    convert_file("nnetnav-live", raw, tmp_path / "std.jsonl")
    export_file("openhands", tmp_path / "std.jsonl", tmp_path / "sft.jsonl", dataset="nnetnav-live")
    s = convert_file("nnetnav-live", raw, tmp_path / "one.jsonl", to="openhands", adp_output=tmp_path / "a.jsonl")
    assert s.balanced and s.rows_ok > 0
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "sft.jsonl").read_bytes()
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "std.jsonl").read_bytes()


def test_export_failure_rejects_the_row_from_both_outputs(tmp_path):
    """An ADP trajectory the exporter refuses (here: an api_action outside the tool
    registry) is rejected with an "export:" reason, and its ADP row is not kept either."""
    raw = json.loads(sample("agenttuning_os", "sample_raw.json").read_text())
    rows = [dict(raw[0], id="good"), dict(raw[1], id="bad")]
    path = tmp_path / "raw.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    import experio.adp.exporters._base as base

    class Refuses(base.Exporter):
        def export(self, traj, ctx):
            if traj.id == "bad":
                raise base.ExportError("cannot express this one")
            return [{"id": traj.id}]

    base.register_exporter("refuses-bad")(Refuses)
    try:
        # workers=2 is ignored: a fresh worker process would not know an exporter registered here
        s = convert_file("agenttuning_os", path, tmp_path / "o.jsonl", to="refuses-bad", adp_output=tmp_path / "a.jsonl",
                         workers=2)
    finally:
        del base.EXPORTERS["refuses-bad"]
    assert (s.rows_in, s.rows_ok, s.rejected) == (2, 1, 1)
    rej = json.loads(open(s.rejects_path).readline())
    assert rej["line"] == 2 and rej["reason"].startswith("export: ExportError: cannot express this one")
    assert rej["row"]["id"] == "bad"  # the ADP form, for inspection
    assert [r.value["id"] for r in read_rows(tmp_path / "a.jsonl")] == ["good"]
    assert [r.value["id"] for r in read_rows(tmp_path / "o.jsonl")] == ["good"]


def test_adp_output_without_to_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="adp_output needs to="):
        convert_file("agenttuning_os", sample("agenttuning_os", "sample_raw.json"), tmp_path / "o.jsonl",
                     adp_output=tmp_path / "a.jsonl")


def test_cli_convert_to(tmp_path):
    runner = CliRunner()
    raw = sample("agenttuning_webshop", "sample_raw.json")
    res = runner.invoke(app, ["convert", "-d", "agenttuning_webshop", str(raw), "--to", "openai",
                              "-o", str(tmp_path / "chat.jsonl"), "--adp-output", str(tmp_path / "std.jsonl")])
    assert res.exit_code == 0, res.output
    assert "convert agenttuning_webshop -> openai" in res.output and "rows in 5 = rows ok 5 + rows rejected 0" in res.output
    first = json.loads((tmp_path / "chat.jsonl").read_text().splitlines()[0])
    assert first["tools"] and any(m.get("tool_calls") for m in first["messages"])
    assert len((tmp_path / "std.jsonl").read_text().splitlines()) == 5
    res = runner.invoke(app, ["convert", "-d", "agenttuning_db", str(raw), "--to", "latex", "-o", str(tmp_path / "x.jsonl")])
    assert res.exit_code == 2 and "unknown exporter 'latex'" in res.output
    res = runner.invoke(app, ["convert", "-d", "agenttuning_db", str(raw), "-o", str(tmp_path / "x.jsonl"),
                              "--adp-output", str(tmp_path / "y.jsonl")])
    assert res.exit_code == 2 and "--adp-output needs --to" in res.output
