"""ADP throughput: raw -> ADP -> OpenHands on the AgentInstruct and Orca samples.

The official sample rows of the six AgentInstruct splits and Orca AgentInstruct
are replicated (with unique ids) to ``--rows`` raw rows, spread over the seven
datasets, then each dataset is converted to ADP (JSONL) and exported to
OpenHands SFT rows, once with JSONL and once with Parquet outputs. Each output
format runs in a fresh child process, so its peak RSS is its own.

    python benchmarks/adp_throughput.py --rows 200000

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
import time
from pathlib import Path

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


def run_pipeline(inputs: dict, workdir: str, suffix: str, queue) -> None:  # noqa: ANN001
    """Child process: convert + export every dataset; report timings and peak RSS."""
    from experio.adp import convert_file, export_file

    t_conv = t_exp = 0.0
    n_in = n_out = rejected = 0
    for ds, (path, _) in inputs.items():
        std = Path(workdir) / f"{ds}.std{suffix}"
        sft = Path(workdir) / f"{ds}.openhands{suffix}"
        s1 = convert_file(ds, path, std)
        s2 = export_file("openhands", std, sft, dataset=ds)
        t_conv += s1.seconds
        t_exp += s2.seconds
        n_in += s1.rows_in
        n_out += s2.rows_out
        rejected += s1.rejected + s2.rejected
        assert s1.balanced and s2.balanced
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"rows": n_in, "out": n_out, "rejected": rejected, "convert_s": t_conv, "export_s": t_exp, "rss_mb": rss_mb})


def measure(inputs: dict, suffix: str) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        p = ctx.Process(target=run_pipeline, args=(inputs, d, suffix, q))
        p.start()
        res = q.get()
        p.join()
        res["wall_s"] = time.perf_counter() - t0
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000, help="raw rows in total (default 200000)")
    ap.add_argument("--formats", default="jsonl,parquet", help="output formats to measure")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        inputs = make_inputs(args.rows, Path(tmp))
        size = sum(p.stat().st_size for p, _ in inputs.values()) / 1e6
        print(f"input: {args.rows:,} raw rows over {len(DATASETS)} datasets, {size:,.0f} MB JSONL "
              f"(made in {time.perf_counter() - t0:.1f} s); {os.cpu_count()} CPUs")
        rows = []
        for fmt in args.formats.split(","):
            r = measure(inputs, "." + fmt.strip())
            conv_rate = r["rows"] / r["convert_s"]
            exp_rate = r["rows"] / r["export_s"]
            e2e = r["rows"] / (r["convert_s"] + r["export_s"])
            rows.append((fmt, r, conv_rate, exp_rate, e2e))
    print()
    print(f"{'output':8} {'traj':>9} {'rejected':>8} {'convert/s':>10} {'export/s':>10} "
          f"{'end-to-end/s':>13} {'x target':>8} {'peak RSS MB':>12}")
    for fmt, r, c, e, e2e in rows:
        print(f"{fmt:8} {r['rows']:>9,} {r['rejected']:>8} {c:>10,.0f} {e:>10,.0f} {e2e:>13,.0f} "
              f"{e2e / TARGET_RATE:>8.2f} {r['rss_mb']:>12,.0f}")
    print(f"\ntarget: >= {TARGET_RATE:,.0f} trajectories/s end to end, peak RSS < {TARGET_RSS_MB:.0f} MB")
    ok = all(e2e >= TARGET_RATE and r["rss_mb"] < TARGET_RSS_MB for _, r, _, _, e2e in rows)
    print("result: " + ("meets the target" if ok else "BELOW the target"))


if __name__ == "__main__":
    main()
