"""Converters: on each official sample_raw.json the output equals sample_std.json,
up to the deliberate differences each converter's docstring lists (asserted here)."""

from __future__ import annotations

import copy
import json

import pytest

from experio.adp import convert_rows, converter_names, get_converter, read_rows
from experio.adp.converters import END_AGENT_MESSAGES, END_USER_MESSAGES, closing_turns
from experio.adp import Row
from test_adp_support import RAW_DATASETS, load, normalize_closing, sample


def _convert(dataset: str) -> tuple[list[dict], list[tuple]]:
    out, rejects = [], []
    for c in convert_rows(dataset, read_rows(sample(dataset, "sample_raw.json"))):
        (out if c.value is not None else rejects).append(c.value if c.value is not None else (c.lines, c.reason))
    return out, rejects


def test_every_raw_sample_folder_has_a_registered_converter():
    assert set(RAW_DATASETS) <= set(converter_names())


def _nebius_edit_indent(t: dict) -> dict:
    """Deliberate difference: the official parser drops the first line's indentation."""
    t = copy.deepcopy(t)
    for c in t["content"]:
        if c["class_"] == "api_action" and c["function"] == "edit":
            c["kwargs"]["replacement_text"] = '"' + c["kwargs"]["replacement_text"][1:].lstrip(" ")
    return t


def _nnetnav_enter(t: dict) -> dict:
    """Deliberate difference: the official parser always writes press_enter_after "0"."""
    t = copy.deepcopy(t)
    for c in t["content"]:
        if c["class_"] == "api_action" and c["function"] == "type":
            c["kwargs"]["press_enter_after"] = "<N>"
    return t


DELIBERATE = {"nebius_SWE-agent-trajectories": _nebius_edit_indent, "nnetnav-live": _nnetnav_enter}


@pytest.mark.parametrize("dataset", RAW_DATASETS)
def test_converter_reproduces_the_official_sample(dataset):
    expected = load(dataset, "sample_std.json")
    got, rejects = _convert(dataset)
    assert rejects == []
    assert [t["id"] for t in got] == [t["id"] for t in expected]
    fix = DELIBERATE.get(dataset, lambda t: t)
    for e, g in zip(expected, got):
        assert [c["class_"] for c in g["content"]] == [c["class_"] for c in e["content"]]
        assert fix(normalize_closing(g)) == fix(normalize_closing(e)), e["id"]


def test_converters_are_deterministic_and_closing_turns_come_from_the_official_texts():
    a, _ = _convert("agenttuning_webshop")
    b, _ = _convert("agenttuning_webshop")
    assert a == b
    turns = closing_turns("some-id", message_in_content=True)
    assert turns[0]["content"] in END_USER_MESSAGES
    assert turns[1]["content"][len("<finish> "):-len(" </finish>")] in END_AGENT_MESSAGES
    assert closing_turns("some-id", True) == turns


def test_nebius_keeps_edit_indentation():
    got, _ = _convert("nebius_SWE-agent-trajectories")
    edits = [c for t in got for c in t["content"] if c["class_"] == "api_action" and c["function"] == "edit"]
    assert any(c["kwargs"]["replacement_text"].startswith('"        if transform_in[0]') for c in edits)
    expected = load("nebius_SWE-agent-trajectories", "sample_std.json")
    official = [c for t in expected for c in t["content"] if c["class_"] == "api_action" and c["function"] == "edit"]
    assert any(c["kwargs"]["replacement_text"].startswith('"if transform_in[0]') for c in official)


def test_nnetnav_keeps_press_enter_after():
    got, _ = _convert("nnetnav-live")
    first_type = next(c for c in got[0]["content"] if c["class_"] == "api_action")
    assert first_type["kwargs"]["press_enter_after"] == "1"  # raw: type [89] [...] [1]
    official = next(c for c in load("nnetnav-live", "sample_std.json")[0]["content"] if c["class_"] == "api_action")
    assert official["kwargs"]["press_enter_after"] == "0"


def test_nnetnav_groups_step_rows_and_rejects_incomplete_groups():
    raw = load("nnetnav-live", "sample_raw.json")
    rows = [Row(i + 1, r) for i, r in enumerate(raw)]
    outs = list(get_converter("nnetnav-live").stream(rows))
    assert len(outs) == 5 and sum(len(o.lines) for o in outs) == len(raw)
    # drop the final 'stop' step of the first trajectory: it no longer completes
    first = [r for r in raw if r["id"] == raw[0]["id"]]
    outs = list(get_converter("nnetnav-live").stream([Row(i + 1, r) for i, r in enumerate(first[:-1])]))
    assert outs[0].value is None and "did not complete" in outs[0].error


def test_malformed_rows_are_rejected_with_reason_and_the_rest_converts():
    good = load("agenttuning_os", "sample_raw.json")[0]
    bad_action = copy.deepcopy(good)
    bad_action["conversations"][1]["content"] = "Think: hmm\n\nAct: dance"
    rows = [Row(1, good), Row(2, None, "invalid JSON: x"), Row(3, bad_action), Row(4, ["not", "a", "dict"])]
    res = list(convert_rows("agenttuning_os", rows))
    assert res[0].value["id"] == good["id"]
    assert [r.lines for r in res[1:]] == [(2,), (3,), (4,)]
    assert "invalid JSON" in res[1].reason
    assert "cannot parse the action" in res[2].reason
    assert "expected a JSON object" in res[3].reason


def test_schema_violations_from_a_converter_are_rejects():
    raw = {"id": "m", "conversations": [{"role": "user", "content": "A. x"}, {"role": "assistant", "content": "Thought: t\nAnswer: A."}]}
    conv = get_converter("agenttuning_mind2web")
    ok = conv.convert(raw)
    assert ok["content"][1]["content"] == "<finish> A. </finish>"
    raw2 = dict(raw, id=None)  # id must be a string after conversion... str(None) is 'None'
    assert conv.convert(raw2)["id"] == "None"


def test_filtered_rows_are_skips_not_silent_drops():
    raw = load("nebius_SWE-agent-trajectories", "sample_raw.json")[0]
    res = list(convert_rows("nebius_SWE-agent-trajectories", [Row(7, dict(raw, target=False))]))
    assert res[0].value is None and res[0].reason.startswith("skipped: target is false")


def test_version_120_output():
    raw = load("agenttuning_db", "sample_raw.json")[:1]
    (converted,) = convert_rows("agenttuning_db", [Row(1, raw[0])], version="1.2.0")
    value = converted.value
    assert value["schema_version"] == "1.2.0" and value["content"][0]["reward"] is None
    with pytest.raises(ValueError, match="unknown version"):
        list(convert_rows("agenttuning_db", [], version="2.0"))


def test_unknown_converter_lists_known_names():
    with pytest.raises(KeyError, match="agenttuning_os"):
        get_converter("nope")


def test_docstrings_list_deliberate_differences():
    for name in converter_names():
        doc = get_converter(name).__doc__ or ""
        assert "Deliberate differences" in doc, name
