"""Streaming readers/writers, the JSON-array reader, Parquet, gzip, and the run writer."""

from __future__ import annotations

import gzip
import json

import pytest

from experio.adp import RowWriter, TrajectoryWriter, read_rows, read_trajectories
from experio.adp import InputFormatError
from experio.adp.readers import read_json_array, read_parquet
from test_adp_support import load, sample


def test_json_array_reader_streams_in_small_chunks(tmp_path):
    data = [{"id": str(i), "text": "x" * (i * 37 % 300), "nested": [1, {"a": "]},["}]} for i in range(200)]
    p = tmp_path / "a.json"
    p.write_text(json.dumps(data, indent=2))
    rows = list(read_json_array(p, chunk_size=64))
    assert [r.value for r in rows] == data
    assert [r.line for r in rows] == list(range(1, 201))


def test_json_array_reader_reports_a_broken_array(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('[{"id": "a"}, {"id": ')
    rows = list(read_json_array(p, chunk_size=8))
    assert rows[0].value == {"id": "a"}
    assert rows[1].value is None and "invalid JSON" in rows[1].error
    (tmp_path / "obj.json").write_text('{"id": 1}\n')
    assert [r.value for r in read_rows(tmp_path / "obj.json")] == [{"id": 1}]  # .json that is JSONL


def test_jsonl_bad_lines_keep_their_line_numbers(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\n{oops\n{"a": 2}\n')
    rows = list(read_rows(p))
    assert [(r.line, r.value) for r in rows] == [(1, {"a": 1}), (3, None), (4, {"a": 2})]
    assert "invalid JSON" in rows[1].error and rows[1].raw == "{oops"


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".parquet"])
def test_adp_round_trip_through_every_output_format(tmp_path, suffix):
    trajs = load("agenttuning_os", "sample_std.json")
    p = tmp_path / f"out{suffix}"
    with RowWriter(p, json_columns=("content", "details"), batch_rows=2) as w:
        for t in trajs:
            w.write(t)
    assert [r.value for r in read_rows(p)] == trajs
    if suffix.endswith(".gz"):
        assert gzip.open(p).read(1) == b"{"


def test_parquet_is_written_in_row_groups(tmp_path):
    import pyarrow.parquet as pq

    p = tmp_path / "x.parquet"
    with RowWriter(p, batch_rows=10) as w:
        for i in range(35):
            w.write({"id": str(i), "conversations": [{"from": "human", "value": "v"}]})
    assert pq.ParquetFile(p).num_row_groups == 4
    assert [r.value["id"] for r in read_parquet(p, batch_rows=7)] == [str(i) for i in range(35)]


def test_unknown_formats_are_clear(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(InputFormatError, match="unknown input format"):
        list(read_rows(tmp_path / "x.csv"))
    with pytest.raises(InputFormatError, match="unknown output format"):
        RowWriter(tmp_path / "out.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_rows(tmp_path / "missing.jsonl")


def test_trajectory_writer_appends_and_survives_a_killed_run(tmp_path):
    trajs = load("agenttuning_db", "sample_std.json")
    p = tmp_path / "run" / "trajectories.jsonl"
    with TrajectoryWriter(p) as w:
        w.write(trajs[0])
        w.write(trajs[1])
    with open(p, "ab") as f:  # a run killed in the middle of a write
        f.write(b'{"id": "half", "content": [')
    with pytest.raises(ValueError, match=":3: invalid JSON"):
        list(read_trajectories(p))
    assert [t.id for t in read_trajectories(p, tolerate_truncated_tail=True)] == [trajs[0]["id"], trajs[1]["id"]]
    with TrajectoryWriter(p) as w:  # resuming drops the partial line, then appends
        w.write(trajs[2])
    assert [t.id for t in read_trajectories(p)] == [t["id"] for t in trajs[:3]]


def test_trajectory_writer_validates_and_writes_v12(tmp_path):
    p = tmp_path / "t.jsonl"
    with TrajectoryWriter(p, version="1.2.0") as w:
        w.write({"id": "a", "content": [{"class_": "message_action", "content": "x", "description": None, "reward": 1.0}], "details": {"k": 1}})
        with pytest.raises(Exception, match="source"):
            w.write({"id": "b", "content": [{"class_": "text_observation", "content": "x"}], "details": {}})
    (line,) = p.read_text().splitlines()
    assert json.loads(line)["schema_version"] == "1.2.0"


def test_sample_paths_resolve():
    assert sample("agenttuning_os", "sample_raw.json").is_file()
