"""``workers``: chunked multi-process conversion and export give the same bytes,
the same balance and the same reject line numbers as one process; outputs
appear under their final name only when complete."""

from __future__ import annotations

import json

import pytest

from experio.adp import RowWriter, convert_file, export_file, has_at_least_rows
from experio.adp.readers import read_chunks
from test_adp_support import sample

DATASETS = ["agenttuning_os", "agenttuning_db", "orca_agentinstruct"]


def _replicated_raw(tmp_path, dataset: str, copies: int) -> tuple:
    """The sample raw rows ``copies`` times (unique ids) as JSONL, with a bad line and a
    blank line every 500 lines; returns the path and the bad lines' numbers."""
    base = json.loads(sample(dataset, "sample_raw.json").read_text())
    path, bad, n = tmp_path / f"{dataset}.raw.jsonl", [], 0
    with open(path, "w") as f:
        for i in range(copies):
            for r in base:
                n += 1
                if n % 500 == 0:
                    f.write("{not json\n")
                    bad.append(n)
                    n += 1
                    f.write("\n")
                    continue
                f.write(json.dumps(dict(r, id=f"{r['id']}#{i}")) + "\n")
    return path, bad


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
@pytest.mark.parametrize("dataset", DATASETS)
def test_workers_give_byte_identical_outputs(tmp_path, dataset, suffix):
    raw, bad = _replicated_raw(tmp_path, dataset, 400)
    runs = {}
    for w in (1, 2):
        std, sft = tmp_path / f"std{w}{suffix}", tmp_path / f"sft{w}{suffix}"
        s1 = convert_file(dataset, raw, std, workers=w)
        s2 = export_file("openhands", std, sft, dataset=dataset, workers=w)
        assert s1.balanced and s2.balanced
        assert s1.rows_in > 1000  # several chunks
        rejects = [json.loads(x)["line"] for x in open(s1.rejects_path)]
        runs[w] = (std.read_bytes(), sft.read_bytes(), rejects, s1.rows_in, s1.rows_ok, s2.rows_out)
    assert runs[1] == runs[2]
    assert runs[1][2] == bad  # exact line numbers, blank lines counted


def test_line_numbers_and_balance_across_chunk_boundaries(tmp_path):
    raw, bad = _replicated_raw(tmp_path, "agenttuning_os", 300)
    assert sum(len(c) for c in read_chunks(raw, rows=7)) == sum(1 for x in open(raw) if x.strip())
    s = convert_file("agenttuning_os", raw, tmp_path / "std.jsonl", workers=2)
    assert s.rows_in == s.rows_ok + s.rejected and s.rejected == len(bad)
    assert [json.loads(x)["line"] for x in open(s.rejects_path)] == bad


def test_grouping_converters_run_in_one_process(tmp_path):
    """nnetnav-live joins consecutive rows: workers are ignored, the result is the same."""
    raw = sample("nnetnav-live", "sample_raw.json")
    outs = [convert_file("nnetnav-live", raw, tmp_path / f"o{w}.jsonl", workers=w) for w in (1, 2)]
    assert (tmp_path / "o1.jsonl").read_bytes() == (tmp_path / "o2.jsonl").read_bytes()
    assert outs[0].rows_ok == outs[1].rows_ok > 0


def test_bad_workers_value_is_clear(tmp_path):
    with pytest.raises(ValueError, match="workers must be a positive integer, got 0"):
        convert_file("agenttuning_os", sample("agenttuning_os", "sample_raw.json"), tmp_path / "o.jsonl", workers=0)


def test_a_failed_run_leaves_no_partial_output(tmp_path):
    out = tmp_path / "out.parquet"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with RowWriter(out) as w:
            w.write({"id": "a"})
            raise RuntimeError("interrupted")
    assert out.read_bytes() == b"old"  # the previous file survives
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]  # no temporary left


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_interrupted_parallel_run_stops_workers_and_keeps_no_output(tmp_path, suffix):
    import multiprocessing as mp

    raw, _ = _replicated_raw(tmp_path, "agenttuning_os", 300)
    seen = []

    def interrupt(n):  # Ctrl-C while chunks are in flight
        seen.append(n)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert_file("agenttuning_os", raw, tmp_path / f"sft{suffix}", progress=interrupt, workers=2,
                     to="openhands", adp_output=tmp_path / f"std{suffix}")
    assert [p.name for p in tmp_path.iterdir()] == [raw.name]  # no output, temporary or part file
    assert all(not p.is_alive() for p in mp.active_children() if p.name.startswith("ForkServerPoolWorker"))


def test_has_at_least_rows(tmp_path):
    raw, _ = _replicated_raw(tmp_path, "agenttuning_os", 30)
    assert has_at_least_rows(raw, 100) and not has_at_least_rows(raw, 10_000)


def test_part_files_append_with_and_without_copy_file_range(tmp_path, monkeypatch):
    """Workers hand plain-JSONL results over as part files; the writer appends them in the
    kernel (copy_file_range) or, where that is missing, by reading them."""
    import os

    part = tmp_path / "part.jsonl"
    part.write_bytes(b'{"id": "p1"}\n{"id": "p2"}\n')
    for name, broken in (("kernel.jsonl", False), ("fallback.jsonl", True)):
        if broken:
            def no_copy(*a, **k):
                raise OSError(18, "Invalid cross-device link")

            monkeypatch.setattr(os, "copy_file_range", no_copy)
        with RowWriter(tmp_path / name) as w:
            w.write({"id": "a"})
            w.append_jsonl_file(part, 2)
            w.write({"id": "b"})
        assert w.count == 4
        ids = [json.loads(x)["id"] for x in (tmp_path / name).read_text().splitlines()]
        assert ids == ["a", "p1", "p2", "b"]
    with pytest.raises(ValueError, match="plain JSONL"):
        with RowWriter(tmp_path / "x.jsonl.gz") as w:
            w.append_jsonl_file(part, 2)


def test_parallel_run_leaves_no_part_files(tmp_path):
    raw, _ = _replicated_raw(tmp_path, "agenttuning_db", 200)
    s = convert_file("agenttuning_db", raw, tmp_path / "sft.jsonl", to="openhands",
                     adp_output=tmp_path / "std.jsonl", workers=2)
    assert s.balanced and s.rows_out > 500
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [raw.name, "sft.jsonl", "std.jsonl", "sft.jsonl.rejects.jsonl"])
