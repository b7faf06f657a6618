"""Retrieval at scale for experio.memory.MemoryBank (issue 5).

    PYTHONPATH=src python benchmarks/memory_retrieval.py [--sizes 100000 1000000] [--queries 300]

For each size: a bank of N experiences (384-dim random unit embeddings, one memory item each)
is built with batched inserts (`store_many`, 10k rows per transaction; rows/s), then 1,000
single-row `store` calls are timed (one transaction each; rows/s). A fresh `MemoryBank` then
loads its in-memory index (first retrieval) and answers random unit queries: p50 / p99
latency of `retrieve` for k=1 and k=5, end to end (index top-k + reading the hits' records).
Exactness: on a sample of queries the returned ids must equal numpy brute force
(argsort of M @ q over the same float32 matrix). Target: p50 under 5 ms at 100k on 2 cores.
Baseline: numpy brute force (M @ q + argpartition) on the same matrix; the ratio shows what
the bank adds on top of the one matrix-vector product every exact search must do.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from experio.memory import Experience, MemoryBank, MemoryItem

DIM = 384


def unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    m = rng.standard_normal((n, DIM), dtype=np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m


def build(path: Path, matrix: np.ndarray, batch: int) -> float:
    item = [MemoryItem("Check the goal", "Re-read the goal before acting.", "Restate what counts as done first.")]
    t0 = time.perf_counter()
    with MemoryBank(path) as bank:
        for s in range(0, len(matrix), batch):
            bank.store_many((Experience(f"task-{i}", f"query {i}", matrix[i], "success" if i % 2 else "failure", "r"), item)
                            for i in range(s, min(s + batch, len(matrix))))
    return len(matrix) / (time.perf_counter() - t0)


def single_inserts(path: Path, rng: np.random.Generator, n: int) -> float:
    rows = unit_rows(rng, n)
    item = [MemoryItem("Check the goal", "Re-read the goal before acting.", "Restate what counts as done first.")]
    with MemoryBank(path) as bank:
        t0 = time.perf_counter()
        for i, v in enumerate(rows):
            bank.store(Experience(f"single-{i}", f"single {i}", v, "success", "r"), item)
        return n / (time.perf_counter() - t0), rows


def percentiles(times: list[float]) -> tuple[float, float]:
    a = np.array(times) * 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--check", type=int, default=50, help="queries checked against brute force")
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--singles", type=int, default=1_000)
    ap.add_argument("--dir", default=None, help="where to build the banks (default: a temporary folder)")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        for n in a.sizes:
            rng = np.random.default_rng(n)
            matrix = unit_rows(rng, n)
            path = Path(tmp) / f"bank-{n}.db"
            batched = build(path, matrix, a.batch)
            single, extra = single_inserts(path, rng, a.singles)
            full = np.concatenate([matrix, extra])
            del matrix
            bank = MemoryBank(path)
            t0 = time.perf_counter()
            bank.retrieve(unit_rows(rng, 1)[0], k=1)
            load = time.perf_counter() - t0
            queries = unit_rows(rng, a.queries)
            lat = {}
            for k in (1, 5):
                bank.retrieve(queries[0], k=k)  # warm
                times = []
                for q in queries:
                    t0 = time.perf_counter()
                    bank.retrieve(q, k=k)
                    times.append(time.perf_counter() - t0)
                lat[k] = percentiles(times)
            base = []  # the baseline: numpy brute force over the same matrix (matvec + argpartition)
            for q in queries:
                t0 = time.perf_counter()
                sims = full @ q
                np.argpartition(-sims, 0)[:1]
                base.append(time.perf_counter() - t0)
            base_p50 = percentiles(base)[0]
            exact = 0
            for q in queries[: a.check]:
                want = np.argsort(-(full @ q), kind="stable")[:5] + 1  # row i was stored with id i + 1
                got = [h.experience.id for h in bank.retrieve(q, k=5)]
                exact += got == want.tolist()
            size_mb = os.path.getsize(path) / 2**20
            bank.close()
            path.unlink()
            rows.append((len(full), lat[1], lat[5], base_p50, batched, single, load, exact, min(a.check, a.queries), size_mb))
            del full
    print(f"\nMemoryBank retrieval, {DIM}-dim random unit embeddings, {os.cpu_count()} cores, "
          f"{a.queries} queries per k; latency = retrieve() end to end\n")
    print("| experiences | k=1 p50 ms | k=1 p99 ms | k=5 p50 ms | k=5 p99 ms | numpy brute force p50 ms "
          "| k=1 p50 / numpy | insert batched rows/s | insert single rows/s | index load s | exact vs numpy | file MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, l1, l5, base, b, s, load, ok, checked, mb in rows:
        print(f"| {n:,} | {l1[0]:.2f} | {l1[1]:.2f} | {l5[0]:.2f} | {l5[1]:.2f} | {base:.2f} | {l1[0] / base:.2f} | "
              f"{b:,.0f} | {s:,.0f} | {load:.2f} | {ok}/{checked} | {mb:,.0f} |")
    first = rows[0]
    print(f"load average {os.getloadavg()[0]:.1f} (other work on the machine inflates latency)")
    print(f"\ntarget p50 < 5 ms at 100k: k=1 p50 {first[1][0]:.2f} ms "
          f"({'met' if first[1][0] < 5 else 'not met'}; {first[1][0] / 5:.2f}x the target)")


if __name__ == "__main__":
    main()
