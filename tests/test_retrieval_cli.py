"""`experio retrieval ...` as a user runs it, on a small corpus file and on the real embedded model."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from experio.cli import app
from experio.retrieval import read_questions

runner = CliRunner()
CATS = ["language", "networking", "database"]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "docs.jsonl"
    rows = [{"id": f"d{i:02d}", "title": f"Entry {i}", "text": f"Entry {i} is about {CATS[i % 3]} things number {i}.",
             "categories": [CATS[i % 3]], "year": 1990 + i % 4, "words": 10 + 7 * i} for i in range(36)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_info_and_tool_commands(corpus_file):
    r = runner.invoke(app, ["retrieval", "info", "--corpus", str(corpus_file)])
    assert r.exit_code == 0, r.output
    assert "36 documents" in r.output and "categories" in r.output and "number" in r.output
    r = runner.invoke(app, ["retrieval", "tool", "--corpus", str(corpus_file),
                            'filter(field="categories", op="contains", value="database")',
                            'aggregate(op="max", field="words", over="R1")'])
    assert r.exit_code == 0, r.output
    assert "R1: 12 documents" in r.output and 'd35 "Entry 35" = 255' in r.output


def test_a_bad_tool_call_is_one_clear_line(corpus_file):
    r = runner.invoke(app, ["retrieval", "tool", "--corpus", str(corpus_file), 'filter(field="colour", op="eq", value=1)'])
    assert r.exit_code != 0
    assert "unknown field 'colour'" in r.output and "Traceback" not in r.output


def test_bench_eval_oracle_and_expert(corpus_file, tmp_path):
    bench = tmp_path / "bench"
    r = runner.invoke(app, ["retrieval", "bench", "--corpus", str(corpus_file), "--out", str(bench),
                            "--per-family", "4"])
    assert r.exit_code == 0, r.output
    assert "overlap between train and test: 0 questions, 0 gold sets" in r.output
    test, train = read_questions(bench / "test.jsonl"), read_questions(bench / "train.jsonl")
    assert test and train
    r = runner.invoke(app, ["retrieval", "eval", str(bench / "test.jsonl"), "--corpus", str(corpus_file),
                            "--methods", "oracle", "--out", str(tmp_path / "ev"), "--quiet"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "ev/metrics.json").read_text())
    assert m["oracle"]["all"]["f1"] == 1.0 and m["oracle"]["all"]["questions"] == len(test)
    r = runner.invoke(app, ["retrieval", "expert", str(bench / "train.jsonl"), "--corpus", str(corpus_file),
                            "--eval-questions", str(bench / "test.jsonl"), "--out", str(tmp_path / "ex"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert f"{len(train)} expert trajectories" in r.output
    r = runner.invoke(app, ["retrieval", "expert", str(bench / "test.jsonl"), "--corpus", str(corpus_file),
                            "--eval-questions", str(bench / "test.jsonl"), "--out", str(tmp_path / "ex2"), "--quiet"])
    assert r.exit_code != 0 and "share" in r.output.lower()


@pytest.mark.model
def test_eval_rag_and_agent_on_the_embedded_model(corpus_file, tmp_path):
    bench = tmp_path / "bench"
    assert runner.invoke(app, ["retrieval", "bench", "--corpus", str(corpus_file), "--out", str(bench),
                               "--per-family", "2"]).exit_code == 0
    r = runner.invoke(app, ["retrieval", "eval", str(bench / "test.jsonl"), "--corpus", str(corpus_file),
                            "--methods", "rag-bm25,agent", "--limit", "1", "--max-steps", "2", "--model", "embedded",
                            "--out", str(tmp_path / "ev"), "--quiet"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "ev/metrics.json").read_text())
    assert m["rag-bm25"]["all"]["questions"] == 1 and m["agent"]["all"]["questions"] == 1
    assert 0.0 <= m["agent"]["all"]["f1"] <= 1.0
    assert (tmp_path / "ev/report.md").read_text().count("| agent |") >= 1
