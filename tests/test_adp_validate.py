"""Validation of files experio did not convert: unknown tools are warnings without a tool
registry, errors with --strict or a known --dataset; ``available_apis`` is a trajectory's
own registry; repeated ids are errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from experio.adp import validate_path
from experio.cli.adp import app

runner = CliRunner()


def _traj(tid: str, calls: list[tuple[str, dict]], apis: list[str] | None = None) -> dict:
    content = [{"class_": "text_observation", "content": "do it", "name": None, "source": "user"}]
    for fn, kwargs in calls:
        content.append({"class_": "api_action", "function": fn, "kwargs": kwargs, "description": None})
        content.append({"class_": "text_observation", "content": "ok", "name": None, "source": "environment"})
    content.append({"class_": "message_action", "content": "<finish> done </finish>", "description": None})
    out: dict = {"id": tid, "content": content, "details": {}}
    if apis is not None:
        out = {"schema_version": "1.2.0", **out, "available_apis": apis}
    return out


def _file(tmp_path, rows: list[dict], name: str = "run.jsonl"):
    p = tmp_path / name
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def _run(*args):
    res = runner.invoke(app, [str(a) for a in args])
    return res.exit_code, res.output


def test_unknown_tools_without_a_registry_are_warnings_and_strict_makes_them_errors(tmp_path):
    p = _file(tmp_path, [_traj("a", [("teleport", {"to": "mars"})]), _traj("b", [("teleport", {}), ("fly", {})])])
    code, out = _run("validate", p)
    assert code == 0, out
    assert "warning: api_action 'teleport' (2x) cannot be checked: no tool registry" in out
    assert "all checks passed (3 warning(s))" in out
    code, out = _run("validate", p, "--strict")
    assert code == 1 and "3 error(s)" in out, out
    assert "error: api_action 'fly' (1x)" in out


def test_a_known_dataset_makes_unknown_tools_errors(tmp_path):
    p = _file(tmp_path, [_traj("a", [("search", {"keywords": '"x"'}), ("teleport", {})])])
    code, out = _run("validate", p, "--dataset", "agenttuning_webshop")
    assert code == 1 and "'teleport' (1x) is not in the tool registry ('agenttuning_webshop')" in out, out
    assert validate_path(p, "agenttuning_webshop").datasets[0].unknown_functions == {"teleport": 1}  # search is known
    code, out = _run("validate", p, "--dataset", "webshopp")
    assert code == 2 and "unknown dataset 'webshopp'; choose one of: " in out and "agenttuning_webshop" in out


def test_available_apis_are_the_trajectorys_registry(tmp_path):
    apis = ["go(location: str)\n    Move to a place.\n", "look"]
    fine = _traj("ok", [("go", {"location": "kitchen"}), ("look", {"anything": 1})], apis)
    p = _file(tmp_path, [fine])
    code, out = _run("validate", p)
    assert code == 0 and "warning:" not in out and out.strip().endswith("all checks passed"), out
    p = _file(tmp_path, [fine, _traj("bad", [("fly", {}), ("go", {"where": "x"})], apis)], "bad.jsonl")
    code, out = _run("validate", p)
    assert code == 1, out
    assert "api_action 'fly' (1x) is not in the tool registry" in out
    assert "'go' called with unknown parameter(s) ['where']" in out
    rep = validate_path(p).datasets[0]
    assert rep.unknown_functions == {"fly": 1} and rep.errors == 2 and rep.warnings == 0


def test_repeated_ids_are_errors(tmp_path):
    p = _file(tmp_path, [_traj("a", []), _traj("b", []), _traj("a", []), _traj("a", [])])
    code, out = _run("validate", p)
    assert code == 1 and "id 'a' is repeated on lines 1, 3, 4" in out, out
    assert validate_path(p).datasets[0].duplicate_ids == {"a": [1, 3, 4]}


def test_a_toolsets_available_apis_check_its_own_calls(tmp_path):
    from experio.adp import get_toolset

    apis = get_toolset("agenttuning_alfworld").available_apis()
    assert any(a.startswith("go(") for a in apis) and len(apis) == len(get_toolset("agenttuning_alfworld").all_tools())
    good = _traj("g", [("go", {"location": '"shelf 1"'}), ("take", {"item": '"mug 1"', "source": '"shelf 1"'})], apis)
    bad = _traj("b", [("go", {"place": '"shelf 1"'})], apis)
    rep = validate_path(_file(tmp_path, [good, bad])).datasets[0]
    assert rep.unknown_params == {"'go' called with unknown parameter(s) ['place']": 1} and rep.errors == 1
