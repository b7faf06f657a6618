"""ADP throughput: raw -> ADP -> OpenHands on the AgentInstruct and Orca samples.

The official sample rows of the six AgentInstruct splits and Orca AgentInstruct
are replicated (with unique ids) to ``--rows`` raw rows, spread over the seven
datasets, then each dataset goes raw -> ADP -> OpenHands SFT rows, with JSONL
and with Parquet outputs, for each worker count of ``--workers``, in each mode
of ``--modes``: ``two-pass`` (``convert_file`` writes the ADP file, then
``export_file`` reads it back and exports it), ``one-pass+adp`` (``convert_file(...,
to="openhands", adp_output=...)``: the same two files, each trajectory validated
once and never re-read) and ``one-pass`` (the OpenHands file only). Each configuration runs ``--repeat`` times, each in a fresh
child process. Memory is summed over that child and all its descendants (the
fork server and the workers), sampled every 20 ms with psutil, two ways: the
RSS sum counts pages shared between processes (the interpreter, pyarrow,
inherited from the fork server) once per process, so it errs high; the PSS
sum divides each shared page among the processes sharing it, so it adds up
to the memory really used. The child's own peak RSS (getrusage) is printed too.

    python benchmarks/adp_throughput.py --rows 200000 --workers 1,2 --repeat 2 --modes two-pass,one-pass+adp

Target (issue 3): >= 5,000 trajectories/s end to end on 2 cores, peak RSS < 500 MB.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DATASETS = [
    "agenttuning_os",
    "agenttuning_db",
    "agenttuning_alfworld",
    "agenttuning_webshop",
    "agenttuning_kg",
    "agenttuning_mind2web",
    "orca_agentinstruct",
]
TARGET_RATE = 5000.0
TARGET_RSS_MB = 500.0


def find_sample(dataset: str) -> Path:
    for base in (ROOT / "tests" / "data" / "adp", ROOT.parent / "shared" / "data" / "adp"):
        p = base / dataset / "sample_raw.json"
        if p.is_file():
            return p
    raise SystemExit(f"no sample_raw.json for {dataset} in tests/data/adp or ../shared/data/adp")


def make_inputs(rows: int, workdir: Path) -> dict[str, tuple[Path, int]]:
    """Write ``rows`` raw rows (JSONL) spread over the datasets; returns name -> (path, n)."""
    out = {}
    per = [rows // len(DATASETS) + (1 if i < rows % len(DATASETS) else 0) for i in range(len(DATASETS))]
    for ds, n in zip(DATASETS, per):
        base = json.loads(find_sample(ds).read_text())
        lines = [json.dumps(r) for r in base]
        path = workdir / f"{ds}.raw.jsonl"
        with open(path, "w") as f:
            for i in range(n):
                r = json.loads(lines[i % len(lines)])
                r["id"] = f"{r['id']}#{i}"
                f.write(json.dumps(r) + "\n")
        out[ds] = (path, n)
    return out


MODES = ("two-pass", "one-pass+adp", "one-pass")


def run_pipeline(inputs: dict, workdir: str, suffix: str, workers: int, mode: str, queue) -> None:  # noqa: ANN001
    """Child process: raw -> ADP -> OpenHands for every dataset; report timings and peak RSS."""
    from experio.adp import convert_file, export_file

    t_conv = t_exp = 0.0
    n_in = n_out = rejected = 0
    for ds, (path, _) in inputs.items():
        std = Path(workdir) / f"{ds}.std{suffix}"
        sft = Path(workdir) / f"{ds}.openhands{suffix}"
        if mode == "two-pass":
            s1 = convert_file(ds, path, std, workers=workers)
            s2 = export_file("openhands", std, sft, dataset=ds, workers=workers)
            t_exp += s2.seconds
            n_out += s2.rows_out
            rejected += s2.rejected
            assert s2.balanced
        else:
            s1 = convert_file(ds, path, sft, workers=workers, to="openhands",
                              adp_output=std if mode == "one-pass+adp" else None)
            n_out += s1.rows_out
        t_conv += s1.seconds
        n_in += s1.rows_in
        rejected += s1.rejected
        assert s1.balanced
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"rows": n_in, "out": n_out, "rejected": rejected, "convert_s": t_conv, "export_s": t_exp, "rss_mb": rss_mb})


def tree_memory_mb(proc: psutil.Process) -> tuple[float, float]:
    """(RSS sum, PSS sum) of a process and all its descendants, in MB."""
    rss = pss = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            mem = p.memory_full_info()
        except psutil.Error:  # a process that just ended counts 0
            continue
        rss += mem.rss
        pss += getattr(mem, "pss", mem.rss)  # PSS is Linux-only
    return rss / 2**20, pss / 2**20


def measure(inputs: dict, suffix: str, workers: int, mode: str) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        p = ctx.Process(target=run_pipeline, args=(inputs, d, suffix, workers, mode, q))
        p.start()
        peak = [0.0, 0.0]
        done = threading.Event()

        def sample() -> None:
            proc = psutil.Process(p.pid)
            while not done.is_set():
                rss, pss = tree_memory_mb(proc)
                peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
                time.sleep(0.02)

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        res = q.get()
        done.set()
        t.join()
        p.join()
        res["wall_s"] = time.perf_counter() - t0
        res["tree_rss_mb"], res["tree_pss_mb"] = peak
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000, help="raw rows in total (default 200000)")
    ap.add_argument("--formats", default="jsonl,parquet", help="output formats to measure")
    ap.add_argument("--workers", default="1,2", help="worker counts to measure (default 1,2)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per configuration (default 2)")
    ap.add_argument("--modes", default="two-pass,one-pass+adp,one-pass", help=f"pipelines to measure: {', '.join(MODES)}")
    args = ap.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    modes = [m.strip() for m in args.modes.split(",")]
    if any(m not in MODES for m in modes):
        raise SystemExit(f"--modes: choose from {', '.join(MODES)}")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        inputs = make_inputs(args.rows, Path(tmp))
        size = sum(p.stat().st_size for p, _ in inputs.values()) / 1e6
        print(f"input: {args.rows:,} raw rows over {len(DATASETS)} datasets, {size:,.0f} MB JSONL "
              f"(made in {time.perf_counter() - t0:.1f} s); {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.2f} (other processes share the CPUs)")
        rows = []
        for fmt in args.formats.split(","):
            for mode in modes:
                for workers in worker_counts:
                    for run in range(1, args.repeat + 1):
                        r = measure(inputs, "." + fmt.strip(), workers, mode)
                        e2e = r["rows"] / (r["convert_s"] + r["export_s"])
                        rows.append((fmt, mode, workers, run, r, e2e))
                        print(f"  {fmt} {mode} workers={workers} run {run}: {e2e:,.0f} traj/s, RSS sum "
                              f"{r['tree_rss_mb']:,.0f} MB, PSS sum {r['tree_pss_mb']:,.0f} MB", flush=True)
    print()
    print("convert/s and export/s: the two passes of two-pass; a one-pass run has a single pass (shown as convert/s)")
    print(f"{'output':8} {'mode':12} {'workers':>7} {'run':>3} {'traj':>9} {'rejected':>8} {'convert/s':>10} "
          f"{'export/s':>10} {'end-to-end/s':>13} {'x target':>8} {'RSS sum MB':>11} {'PSS sum MB':>11} "
          f"{'parent RSS':>10}")
    for fmt, mode, workers, run, r, e2e in rows:
        c = r["rows"] / r["convert_s"]
        e = f"{r['rows'] / r['export_s']:,.0f}" if r["export_s"] else "-"
        print(f"{fmt:8} {mode:12} {workers:>7} {run:>3} {r['rows']:>9,} {r['rejected']:>8} {c:>10,.0f} "
              f"{e:>10} {e2e:>13,.0f} {e2e / TARGET_RATE:>8.2f} {r['tree_rss_mb']:>11,.0f} "
              f"{r['tree_pss_mb']:>11,.0f} {r['rss_mb']:>10,.0f}")
    print(f"\ntarget: >= {TARGET_RATE:,.0f} trajectories/s end to end, peak RSS < {TARGET_RSS_MB:.0f} MB "
          "(memory: the child and all its workers together, peak PSS sum)")
    for mode in modes:
        for workers in worker_counts:
            got = [(e2e, r) for _, m, w, _, r, e2e in rows if m == mode and w == workers]
            ok = all(e2e >= TARGET_RATE and r["tree_pss_mb"] < TARGET_RSS_MB for e2e, r in got)
            worst = min(e2e for e2e, _ in got)
            print(f"{mode}, {workers} worker(s): slowest run {worst:,.0f} traj/s "
                  f"({worst / TARGET_RATE:.2f}x target): " + ("meets the target" if ok else "BELOW the target"))


if __name__ == "__main__":
    main()
