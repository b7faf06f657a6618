"""experio.memory.MemoryBank: storage, exact retrieval, export/import, safety, concurrency."""

from __future__ import annotations

import json
import multiprocessing as mp
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from experio.memory import Experience, MemoryBank, MemoryBankError, MemoryItem

DIM = 8


def unit(*values: float) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def exp(task: str, emb: np.ndarray, status: str = "success", **kw) -> Experience:
    return Experience(task_id=task, query=f"query of {task}", embedding=emb, status=status, rationale="r", **kw)


def item(n: int | str) -> MemoryItem:
    return MemoryItem(f"Strategy {n}", f"Description of strategy {n}.", f"Content of strategy {n}, general.")


@pytest.fixture
def bank(tmp_path: Path) -> MemoryBank:
    with MemoryBank(tmp_path / "bank.db", dim=DIM) as b:
        yield b


def test_store_then_retrieve_most_similar_with_its_items(bank: MemoryBank):
    a = bank.store(exp("a", unit(1, 0)), [item(1), item(2)])
    b = bank.store(exp("b", unit(0, 1), "failure", run_path="runs/x/trajectories.jsonl", trajectory_id="react/b"), [item(3)])
    bank.store(exp("c", unit(-1, 0)))
    hits = bank.retrieve(unit(0.2, 1.0), k=2)
    assert [h.experience.id for h in hits] == [b, a]
    top = hits[0]
    assert top.experience.status == "failure" and top.experience.run_path == "runs/x/trajectories.jsonl"
    assert top.experience.trajectory_id == "react/b"
    assert [i.title for i in top.items] == ["Strategy 3"] and top.items[0].experience_id == b
    assert top.similarity == pytest.approx(float(unit(0.2, 1.0) @ unit(0, 1)), abs=1e-6)
    assert [i.title for i in hits[1].items] == ["Strategy 1", "Strategy 2"]
    assert len(bank) == 3 and bank.num_items == 3
    assert len(bank.retrieve(unit(1, 0), k=10)) == 3


def test_ties_go_to_the_older_experience(bank: MemoryBank):
    first = bank.store(exp("a", unit(1, 1)))
    second = bank.store(exp("b", unit(1, 1)))
    assert [h.experience.id for h in bank.retrieve(unit(1, 1), k=2)] == [first, second]
    assert bank.retrieve(unit(1, 1), k=1)[0].experience.id == first
    # `created` decides before insertion order (a replay or import can bring older experiences later)
    old = bank.store(exp("c", unit(1, 1), created=1.0))
    assert bank.get(old)[0].created == 1.0
    assert [h.experience.id for h in bank.retrieve(unit(1, 1), k=3)] == [old, first, second]
    assert bank.retrieve(unit(1, 1), k=1)[0].experience.id == old


def test_filters_and_exclusion(bank: MemoryBank):
    bank.store(exp("t1", unit(1, 0)))
    f = bank.store(exp("t2", unit(1, 0.1), "failure", source="awm"))
    assert [h.experience.task_id for h in bank.retrieve(unit(1, 0), k=1, exclude_task_ids={"t1"})] == ["t2"]
    assert [h.experience.id for h in bank.retrieve(unit(1, 0), status="failure", k=5)] == [f]
    assert [h.experience.id for h in bank.retrieve(unit(1, 0), source="awm", k=5)] == [f]
    assert bank.retrieve(unit(1, 0), source="nothing") == []
    assert bank.retrieve(unit(1, 0), exclude_task_ids=["t1", "t2"]) == []


def test_no_self_retrieval_before_store(bank: MemoryBank):
    """The running task is not in the index: only stored (finished, judged) tasks are."""
    bank.store(exp("past", unit(0, 1)))
    query = unit(1, 0)  # the current task's embedding, not stored yet
    hits = bank.retrieve(query, k=5)
    assert [h.experience.task_id for h in hits] == ["past"]
    bank.store(exp("current", query))
    assert bank.retrieve(query, k=1)[0].experience.task_id == "current"  # now it is a past experience
    assert bank.retrieve(query, k=1, exclude_task_ids={"current"})[0].experience.task_id == "past"


def test_index_sees_writes_of_another_connection(tmp_path: Path):
    p = tmp_path / "bank.db"
    reader, writer = MemoryBank(p, dim=DIM), MemoryBank(p)
    assert writer.dim == DIM
    reader.store(exp("a", unit(1, 0)))
    assert len(reader.retrieve(unit(0, 1), k=5)) == 1  # index loaded
    writer.store(exp("b", unit(0, 1)))
    assert reader.retrieve(unit(0, 1), k=1)[0].experience.task_id == "b"


def test_add_experience_then_items(bank: MemoryBank):
    eid = bank.add_experience("t", "q", unit(1), "success", "ok", run_path=Path("r/t.jsonl"), trajectory_id="x")
    ids = bank.add_items(eid, [item(1), item(2)])
    assert [i.id for i in bank.items(eid)] == ids
    with pytest.raises(KeyError):
        bank.add_items(999, [item(3)])
    assert bank.num_items == 2


def test_bad_input_is_refused_and_nothing_is_written(bank: MemoryBank):
    with pytest.raises(ValueError, match="status"):
        bank.store(exp("t", unit(1), status="maybe"))
    with pytest.raises(ValueError, match="shape"):
        bank.store(exp("t", np.ones(DIM + 1, np.float32)))
    with pytest.raises(ValueError, match="zeros"):
        bank.store(exp("t", np.zeros(DIM, np.float32)))
    with pytest.raises(ValueError, match="title"):
        bank.store(exp("t", unit(1)), [MemoryItem(" ", "d", "c")])
    assert len(bank) == 0 and bank.num_items == 0


def test_unnormalised_embeddings_are_normalised(bank: MemoryBank):
    bank.store(exp("t", np.full(DIM, 3.0, np.float32)))
    [e] = bank.experiences()
    assert np.linalg.norm(e.embedding) == pytest.approx(1.0, abs=1e-6)
    assert bank.retrieve(np.full(DIM, 5.0, np.float32))[0].similarity == pytest.approx(1.0, abs=1e-6)


def test_export_import_round_trip(tmp_path: Path, bank: MemoryBank):
    rng = np.random.default_rng(0)
    for n in range(20):
        v = rng.standard_normal(DIM).astype(np.float32)
        bank.store(exp(f"t{n}", v / np.linalg.norm(v), "success" if n % 3 else "failure",
                       run_path=None if n % 2 else "runs/a/trajectories.jsonl", trajectory_id=f"id{n}"),
                   [item(f"{n}.{j}") for j in range(n % 4)])
    out = tmp_path / "export.jsonl"
    assert bank.export_jsonl(out) == 20
    copy = MemoryBank(tmp_path / "copy.db", dim=DIM)
    summary = copy.import_jsonl(out)
    assert (summary.imported, summary.duplicates, summary.rejected) == (20, 0, 0)
    assert copy.experiences() == bank.experiences()
    assert copy.items() == bank.items()
    copy.export_jsonl(tmp_path / "again.jsonl")
    assert (tmp_path / "again.jsonl").read_bytes() == out.read_bytes()
    # re-importing is harmless: every line is a duplicate
    again = copy.import_jsonl(out)
    assert (again.imported, again.duplicates) == (0, 20) and len(copy) == 20
    # into a bank that already uses those ids: new ids, nothing lost
    other = MemoryBank(tmp_path / "other.db", dim=DIM)
    other.store(exp("z", unit(1)), [item("z")])
    s = other.import_jsonl(out)
    assert s.imported == 20 and s.renumbered >= 1 and s.duplicates == 0 and len(other) == 21 and other.num_items == bank.num_items + 1


def test_import_rejects_malformed_lines_and_goes_on(tmp_path: Path, bank: MemoryBank):
    bank.store(exp("good", unit(1)), [item(1)])
    src = tmp_path / "in.jsonl"
    bank.export_jsonl(src)
    good = json.loads(src.read_text())
    bad_status = dict(good, id=None, status="maybe")
    bad_dim = dict(good, id=None, embedding_b64="AAAA")
    bad_item = dict(good, id=None, items=[{"title": "", "description": "d", "content": "c"}])
    lines = [json.dumps(dict(good, id=None, task_id="first")), "{not json", json.dumps(bad_status), "",
             json.dumps([1, 2]), json.dumps(bad_dim), json.dumps(bad_item), json.dumps(dict(good, id=None, task_id="last"))]
    src.write_text("\n".join(lines) + "\n")
    target = MemoryBank(tmp_path / "t.db", dim=DIM)
    s = target.import_jsonl(src)
    assert (s.imported, s.rejected) == (2, 5)
    assert [e.task_id for e in target.experiences()] == ["first", "last"]
    rejects = [json.loads(x) for x in Path(f"{src}.rejects.jsonl").read_text().splitlines()]
    assert s.rejects_path == Path(f"{src}.rejects.jsonl")
    assert [r["line"] for r in rejects] == [2, 3, 5, 6, 7]
    reasons = [r["reason"] for r in rejects]
    assert "not valid JSON" in reasons[0] and "status" in reasons[1] and "object" in reasons[2]
    assert "embedding" in reasons[3] and "title" in reasons[4]
    assert rejects[0]["row"] == "{not json"


# ---------------------------------------------------------------------- foreign and corrupt files
def _assert_refused(path: Path, match: str) -> None:
    before = path.read_bytes()
    with pytest.raises(MemoryBankError, match=match) as err:
        MemoryBank(path)
    assert str(path) in str(err.value) and "nothing was changed" in str(err.value)
    assert path.read_bytes() == before


def test_text_file_is_refused_untouched(tmp_path: Path):
    p = tmp_path / "notes.db"
    p.write_text("shopping list: eggs, milk\n" * 10)
    _assert_refused(p, "not a SQLite file")


def test_foreign_sqlite_database_is_refused_untouched(tmp_path: Path):
    p = tmp_path / "other.db"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE experiences(x)")
    con.execute("INSERT INTO experiences VALUES (1)")
    con.commit()
    con.close()
    _assert_refused(p, "another application")


def test_other_schema_version_is_refused_untouched(tmp_path: Path):
    p = tmp_path / "bank.db"
    MemoryBank(p, dim=DIM).close()
    con = sqlite3.connect(p)
    con.execute("PRAGMA user_version = 7")
    con.close()
    _assert_refused(p, "schema version 7")


def test_corrupt_bank_is_refused_untouched(tmp_path: Path):
    p = tmp_path / "bank.db"
    with MemoryBank(p, dim=DIM) as b:
        for n in range(50):
            b.store(exp(f"t{n}", unit(1, n)), [item(n)])
    data = bytearray(p.read_bytes())
    data[100:] = bytes((i * 7 + 3) % 256 for i in range(len(data) - 100))  # garbage after the header
    p.write_bytes(bytes(data))
    _assert_refused(p, "damaged")


def test_empty_file_and_folder_are_refused(tmp_path: Path):
    empty = tmp_path / "empty.db"
    empty.touch()
    _assert_refused(empty, "empty file")
    with pytest.raises(MemoryBankError, match="folder"):
        MemoryBank(tmp_path)


def test_dimension_mismatch_is_refused(tmp_path: Path):
    MemoryBank(tmp_path / "b.db", dim=DIM).close()
    with pytest.raises(MemoryBankError, match="8-dimensional"):
        MemoryBank(tmp_path / "b.db", dim=384)


# ---------------------------------------------------------------------- concurrency
def _writer_process(path: str, worker: int, n: int) -> None:
    bank = MemoryBank(path, dim=DIM, busy_timeout=120)
    rng = np.random.default_rng(worker)
    for i in range(n):
        bank.store(exp(f"w{worker}-{i}", rng.standard_normal(DIM).astype(np.float32)), [item(f"{worker}.{i}.a"), item(f"{worker}.{i}.b")])
        if i % 10 == 0:
            bank.retrieve(rng.standard_normal(DIM).astype(np.float32), k=3)
    bank.close()


def _check_complete(path: Path, workers: int, n: int) -> None:
    bank = MemoryBank(path)
    assert len(bank) == workers * n
    assert bank.num_items == 2 * workers * n
    assert {e.task_id for e in bank.experiences()} == {f"w{w}-{i}" for w in range(workers) for i in range(n)}
    for e in bank.experiences()[:: max(1, n // 5)]:
        assert sorted(i.title for i in bank.items(e.id)) == [f"Strategy {e.task_id[1:].replace('-', '.')}.a",
                                                             f"Strategy {e.task_id[1:].replace('-', '.')}.b"]
    assert len(bank.retrieve(unit(1), k=workers * n)) == workers * n
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def test_threads_sharing_one_bank_lose_nothing(tmp_path: Path):
    p = tmp_path / "bank.db"
    shared = MemoryBank(p, dim=DIM)
    workers, n = 8, 40

    def work(w: int) -> None:
        rng = np.random.default_rng(w)
        for i in range(n):
            shared.store(exp(f"w{w}-{i}", rng.standard_normal(DIM).astype(np.float32)), [item(f"{w}.{i}.a"), item(f"{w}.{i}.b")])
            shared.retrieve(rng.standard_normal(DIM).astype(np.float32), k=2)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _check_complete(p, workers, n)


def test_threads_with_own_banks_lose_nothing(tmp_path: Path):
    p = tmp_path / "bank.db"
    workers, n = 6, 30
    threads = [threading.Thread(target=_writer_process, args=(str(p), w, n)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _check_complete(p, workers, n)


@pytest.mark.parametrize("workers", [2, 4])
def test_processes_writing_at_once_lose_nothing(tmp_path: Path, workers: int):
    p = tmp_path / "bank.db"  # created by the racing processes themselves
    n = 60
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer_process, args=(str(p), w, n)) for w in range(workers)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join(timeout=180)
    assert [pr.exitcode for pr in procs] == [0] * workers
    _check_complete(p, workers, n)


# ---------------------------------------------------------------------- exact retrieval at scale
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("cutoff", [0, None])  # 0: the float16 first pass even for a small bank
def test_retrieve_equals_brute_force(tmp_path: Path, monkeypatch, seed: int, cutoff: int | None):
    """Random banks with duplicates, near-ties and equal timestamps: `retrieve` returns exactly
    what sorting every allowed experience by (exact cosine desc, created asc, insertion asc) gives."""
    from experio.embed import topk

    if cutoff is not None:
        monkeypatch.setattr(topk, "_SMALL", cutoff)
    rng = np.random.default_rng(seed)
    dim, n = 32, int(rng.integers(300, 3_000))
    m = rng.standard_normal((n, dim)).astype(np.float32)
    for j in range(n // 8):  # duplicates and near-duplicates of a few rows
        src = m[rng.integers(0, 4)]
        m[rng.integers(0, n)] = src if j % 2 else src + rng.standard_normal(dim) * 10.0 ** rng.integers(-7, -3)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    tasks = [f"t{rng.integers(0, 40)}" for _ in range(n)]
    status = ["success" if rng.random() < 0.6 else "failure" for _ in range(n)]
    source = [str(rng.choice(["reasoningbank", "awm", "synapse"])) for _ in range(n)]
    created = rng.integers(0, 5, n).astype(float)  # many equal timestamps: insertion order decides
    with MemoryBank(tmp_path / "b.db", dim=dim) as b:
        ids = b.store_many((Experience(tasks[i], f"q{i}", m[i], status[i], "r", source=source[i], created=created[i]), [])
                           for i in range(n))
        stored = np.stack([e.embedding for e in b.experiences()])  # what the bank holds (normalised again)
        ids = np.array(ids)
        for trial in range(12):
            q = stored[rng.integers(0, n)].copy() if trial % 2 else rng.standard_normal(dim).astype(np.float32)
            q /= np.linalg.norm(q)
            k = int(rng.choice([1, 3, 10, 5000]))
            kw: dict = {}
            if trial % 3 == 1:
                kw["exclude_task_ids"] = {f"t{i}" for i in rng.integers(0, 40, 20)}
            if trial % 4 == 2:
                kw["status"] = "failure"
            if trial % 5 == 3:
                kw["source"] = "awm"
            keep = np.ones(n, bool)
            keep &= ~np.isin(tasks, list(kw.get("exclude_task_ids", ())))
            if "status" in kw:
                keep &= np.array(status) == kw["status"]
            if "source" in kw:
                keep &= np.array(source) == kw["source"]
            rows = np.flatnonzero(keep)
            exact = (stored[rows].astype(np.float64) * q.astype(np.float64)).sum(axis=1)
            want = rows[np.lexsort((rows, created[rows], -exact))][:k]
            hits = b.retrieve(q, k=k, **kw)
            assert [h.experience.id for h in hits] == ids[want].tolist(), (seed, trial)
            assert [h.similarity for h in hits] == sorted((h.similarity for h in hits), reverse=True)
