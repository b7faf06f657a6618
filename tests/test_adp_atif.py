"""ATIF: ADP -> ATIF -> ADP is exact on every shipped sample; ATIF is an input of convert,
export and validate (by shape or by name); a result pointing at an unknown call id is a
clear reject."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from experio.adp import (
    ATIFError,
    Trajectory,
    convert_file,
    export_file,
    from_atif,
    is_atif,
    read_rows,
    to_atif,
    to_wire,
    validate_path,
)
from experio.cli.adp import app
from test_adp_support import LOCAL, SHARED

LOCAL_DATASETS = sorted(p.name for p in LOCAL.iterdir() if (p / "sample_std.json").is_file())
runner = CliRunner()


def _wire_json(value: dict) -> str:
    return json.dumps(value)  # key order included


def _v12(d: dict) -> dict:
    """A 1.2.0 form of a sample with every ADP-only field set somewhere."""
    t = to_wire(Trajectory.model_validate(d), "1.2.0")
    t["available_apis"] = ["go(location: str)", "look"]
    t["details"] = {"task": 3, "success": True}
    for i, item in enumerate(t["content"]):
        item["reward"] = float(i)
        if "reasoning_content" in item:
            item["reasoning_content"] = f"why {i}"
    return to_wire(Trajectory.model_validate(t), "1.2.0")


@pytest.mark.parametrize("dataset", LOCAL_DATASETS)
def test_adp_atif_adp_round_trip_is_exact_on_every_sample(dataset):
    for d in json.loads((LOCAL / dataset / "sample_std.json").read_text()):
        for wire in (d, _v12(d)):
            atif = json.loads(json.dumps(to_atif(Trajectory.model_validate(wire))))  # through JSON text
            assert is_atif(atif) and not is_atif(wire)
            assert atif["session_id"] == wire["id"]
            assert [s["step_id"] for s in atif["steps"]] == list(range(1, len(atif["steps"]) + 1))
            assert _wire_json(from_atif(atif)) == _wire_json(wire)


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is absent")
def test_round_trip_on_the_official_samples_with_web_observations():
    for std in sorted(SHARED.glob("*/sample_std.json")):
        for d in json.loads(std.read_text()):
            assert _wire_json(from_atif(to_atif(Trajectory.model_validate(d)))) == _wire_json(d), std


def test_atif_fields_are_the_public_ones():
    d = json.loads((LOCAL / "agenttuning_os" / "sample_std.json").read_text())[0]
    atif = to_atif(Trajectory.model_validate(d))
    assert atif["schema_version"].startswith("ATIF-v1.") and set(atif["agent"]) >= {"name", "version"}
    step = next(s for s in atif["steps"] if s.get("tool_calls"))
    call = step["tool_calls"][0]
    assert set(call) == {"tool_call_id", "function_name", "arguments"} and call["function_name"] == "execute_bash"
    assert step["observation"]["results"][0]["source_call_id"] == call["tool_call_id"]
    assert {s["source"] for s in atif["steps"]} <= {"user", "agent", "system"}


def test_foreign_atif_reads_as_adp():
    atif = {
        "schema_version": "ATIF-v1.4", "session_id": "s1",
        "agent": {"name": "harbor-agent", "version": "1.0.0", "model_name": "m"},
        "steps": [
            {"step_id": 1, "source": "system", "message": "You are helpful."},
            {"step_id": 2, "source": "user", "message": "Price of GOOGL?"},
            {"step_id": 3, "source": "agent", "message": "I will search.", "reasoning_content": "two calls",
             "tool_calls": [{"tool_call_id": "c1", "function_name": "search", "arguments": {"q": "price"}},
                            {"tool_call_id": "c2", "function_name": "search", "arguments": '{"q": "volume"}'}],
             "observation": {"results": [{"source_call_id": "c1", "content": "185"},
                                         {"source_call_id": "c2", "content": "1.5M"}]}},
            {"step_id": 4, "source": "agent", "message": "It trades at 185."},
        ],
    }
    adp = from_atif(atif)
    assert adp["id"] == "s1" and adp["schema_version"] == "1.2.0"
    assert adp["details"] == {"atif_schema_version": "ATIF-v1.4", "agent": "harbor-agent",
                              "agent_version": "1.0.0", "model_name": "m"}
    classes = [(it["class_"], it.get("source")) for it in adp["content"]]
    assert classes == [("text_observation", "user"), ("text_observation", "user"), ("api_action", None),
                       ("api_action", None), ("text_observation", "environment"),
                       ("text_observation", "environment"), ("message_action", None)]
    first, second = adp["content"][2], adp["content"][3]
    assert (first["description"], first["reasoning_content"], second["kwargs"]) == ("I will search.", "two calls",
                                                                                    {"q": "volume"})
    assert adp["content"][0]["name"] == "system"


def test_a_result_pointing_at_an_unknown_call_id_is_a_clear_error(tmp_path):
    d = json.loads((LOCAL / "agenttuning_os" / "sample_std.json").read_text())
    good, bad = (to_atif(Trajectory.model_validate(x)) for x in d[:2])
    step = next(s for s in bad["steps"] if s.get("observation") and s.get("tool_calls"))
    step["observation"]["results"][0]["source_call_id"] = "call_nowhere"
    with pytest.raises(ATIFError, match="points at tool call id 'call_nowhere'"):
        from_atif(bad)
    src = tmp_path / "in.atif.jsonl"
    src.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    s = convert_file("atif", src, tmp_path / "std.jsonl")
    assert (s.rows_in, s.rows_ok, s.rejected) == (2, 1, 1)
    rej = json.loads(open(s.rejects_path).read())
    assert rej["line"] == 2 and "ATIFError" in rej["reason"] and "'call_nowhere'" in rej["reason"]
    e = export_file("openhands", src, tmp_path / "oh.jsonl", dataset="agenttuning_os")  # ATIF input of export
    assert (e.rows_ok, e.rejected) == (1, 1) and "call_nowhere" in open(e.rejects_path).read()
    report = validate_path(src)
    assert not report.ok and "call_nowhere" in str(report)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_cli_export_to_atif_and_back(tmp_path, suffix):
    std = LOCAL / "agenttuning_webshop" / "sample_std.json"
    atif = tmp_path / f"webshop.atif{suffix}"
    res = runner.invoke(app, ["export", "--to", "atif", str(std), "-o", str(atif)])
    assert res.exit_code == 0 and "rows in 5 = rows ok 5" in res.output, res.output
    assert all(is_atif(r.value) for r in read_rows(atif))
    res = runner.invoke(app, ["convert", str(atif), "-o", str(tmp_path / "back.jsonl")])  # recognised by shape
    assert res.exit_code == 0 and "convert atif" in res.output, res.output
    back = [json.loads(x) for x in (tmp_path / "back.jsonl").read_text().splitlines()]
    assert back == json.loads(std.read_text())
    res = runner.invoke(app, ["validate", str(atif), "--dataset", "agenttuning_webshop"])
    assert res.exit_code == 0 and "all checks passed" in res.output, res.output
    for name, src in (("from_adp", std), ("from_atif", atif)):
        res = runner.invoke(app, ["export", "--to", "openai", str(src), "-o", str(tmp_path / f"{name}.jsonl"),
                                  "-d", "agenttuning_webshop"])
        assert res.exit_code == 0, res.output
    assert (tmp_path / "from_adp.jsonl").read_bytes() == (tmp_path / "from_atif.jsonl").read_bytes()


def test_explicit_input_format_and_a_pretty_printed_atif_file(tmp_path):
    d = json.loads((LOCAL / "agenttuning_db" / "sample_std.json").read_text())[0]
    one = tmp_path / "trajectory.json"  # Harbor writes one indented object per file
    one.write_text(json.dumps(to_atif(Trajectory.model_validate(d)), indent=2))
    s = convert_file("atif", one, tmp_path / "std.jsonl")
    assert (s.rows_in, s.rows_ok) == (1, 1)
    assert json.loads((tmp_path / "std.jsonl").read_text()) == d
    adp_file = LOCAL / "agenttuning_db" / "sample_std.json"
    s = export_file("trl", adp_file, tmp_path / "x.jsonl", input_format="atif")  # ADP rows are not ATIF
    assert s.rejected == 5 and "not an ATIF trajectory" in open(s.rejects_path).read()
    res = runner.invoke(app, ["export", "--to", "trl", str(adp_file), "-o", str(tmp_path / "y.jsonl"), "--from", "csv"])
    assert res.exit_code == 2 and "unknown input format 'csv'; choose one of: adp, atif, auto" in res.output
