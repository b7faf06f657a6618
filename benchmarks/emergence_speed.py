"""Speed of experio.emergence's vectorised pair PIDs against `dit` in a loop.

    PYTHONPATH=src python benchmarks/emergence_speed.py [--groups 200] [--shuffles 200] [--dit-subset 300]

Workload (issue 6): 200 groups x 20 rounds x 10 agents (guesses 0..50, median-split per agent),
all 45 pairs per group, PID of the TDMI (sources X_i,t, X_j,t; target (X_i,t+1, X_j,t+1)),
for the observed data and 200 row-shuffle surrogates: 200 x 201 x 45 = 1.81 M PIDs, I_min.
Then the same PID tables through dit (PID_WB; PID_CCS; PID_BROJA with its exact cone solver)
in a loop for a subset: time per PID, speed ratio, and max |difference|.
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings

import numpy as np

from experio.emergence import analyze_groups
from experio.emergence.analyze import GroupData
from experio.emergence.dynamics import batch_pair_pid, p_value, row_shuffle
from experio.emergence.info import batch_counts, midrank_bins
from experio.emergence.pid import ATOMS, pid_tables


def pair_tables(codes: np.ndarray, k: int = 2) -> np.ndarray:
    """The PID tables p[s1, s2, (y1, y2)] of all pairs of codes (B, T, N)."""
    xn, xf = codes[:, :-1], codes[:, 1:]
    pairs = np.array(list(itertools.combinations(range(codes.shape[2]), 2)))
    i, j = pairs[:, 0], pairs[:, 1]
    code = (((xn[:, :, i] * k + xn[:, :, j]) * k + xf[:, :, i]) * k + xf[:, :, j]).transpose(0, 2, 1)
    c = batch_counts(code, k**4)
    return (c / c.sum(-1, keepdims=True)).reshape(-1, k, k, k * k)


def dit_loop(tables: np.ndarray, cls, **kw) -> tuple[np.ndarray, float]:
    import dit

    out, t0 = [], time.perf_counter()
    for p in tables:
        cells = [o for o in itertools.product(*map(range, p.shape)) if p[o] > 0]
        d = dit.Distribution(cells, [p[o] for o in cells])
        r = cls(d, [[0], [1]], [2], **kw)
        out.append([r.get_pi(((0,), (1,))), r.get_pi(((0,),)), r.get_pi(((1,),)), r.get_pi(((0, 1),))])
    return np.array(out), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--agents", type=int, default=10)
    ap.add_argument("--shuffles", type=int, default=200)
    ap.add_argument("--dit-subset", type=int, default=300)
    ap.add_argument("--skip-analyze", action="store_true")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    values = rng.integers(0, 51, size=(a.groups, a.rounds, a.agents)).astype(float)
    n_pairs = a.agents * (a.agents - 1) // 2
    rows = []

    # 1. the workload: observed + row-shuffle surrogates, all pairs, I_min, median + p-value
    t0 = time.perf_counter()
    surr = np.concatenate([values[None], row_shuffle(values, rng, a.shuffles)])  # (1+S, G, T, N)
    valid = np.ones((a.groups, a.rounds), dtype=bool)
    medians = []
    per = max(1, 4000 // a.groups)
    for s0 in range(0, len(surr), per):
        block = surr[s0 : s0 + per].reshape(-1, a.rounds, a.agents)
        codes = midrank_bins(block.transpose(0, 2, 1), 2).transpose(0, 2, 1)
        syn = batch_pair_pid(codes, np.tile(valid, (len(block) // a.groups, 1)), 2, 1, "imin")["synergy"]
        medians.append(np.median(syn, axis=1).reshape(-1, a.groups))
    medians = np.concatenate(medians)
    pv = p_value(medians[0], medians[1:])
    t_ours = time.perf_counter() - t0
    n_pid = a.groups * (1 + a.shuffles) * n_pairs
    rows.append(("experio I_min, all pairs x groups x (1 + shuffles)", n_pid, t_ours, t_ours / n_pid * 1e6))
    print(f"(share of random groups with p < 0.05: {np.mean(pv < 0.05):.3f}, expected about 0.05)")

    # 2. the same PID values through dit in a loop, for a subset of the observed tables
    codes = midrank_bins(values.transpose(0, 2, 1), 2).transpose(0, 2, 1)
    tables = pair_tables(codes)
    sub = tables[: a.dit_subset]
    comparisons = []
    try:
        warnings.filterwarnings("ignore")
        from dit.pid import PID_BROJA, PID_CCS, PID_WB

        for name, measure, cls, kw, m in (("I_min", "imin", PID_WB, {}, len(sub)),
                                          ("CCS", "ccs", PID_CCS, {}, min(len(sub), 100)),
                                          ("BROJA", "broja", PID_BROJA, {"method": "cone"}, min(len(sub), 100))):
            ref, t_dit = dit_loop(sub[:m], cls, **kw)
            t1 = time.perf_counter()
            ours = pid_tables(sub[:m], measure)
            t_batch = time.perf_counter() - t1
            ours = np.stack([ours[k] for k in ATOMS], axis=1)
            comparisons.append((name, m, t_dit / m * 1e6, t_batch / m * 1e6, np.abs(ours - ref).max()))
    except ImportError as e:
        print(f"dit comparison skipped: {e}")

    # 3. the whole analysis (all measures, both nulls) for the same data
    if not a.skip_analyze:
        groups = [GroupData(f"g{g}", "bench", np.arange(a.rounds), [f"a{j}" for j in range(a.agents)], values[g]) for g in range(a.groups)]
        t2 = time.perf_counter()
        analyze_groups(groups, shuffles=a.shuffles, seed=0)
        t_all = time.perf_counter() - t2
        rows.append(("analyze_groups: Psi/Delta/Gamma, pair PIDs, 120 triples; row + shift nulls", 2 * n_pid + n_pid // (1 + a.shuffles), t_all, t_all / (2 * n_pid) * 1e6))

    print(f"\nworkload: {a.groups} groups x {a.rounds} rounds x {a.agents} agents ({n_pairs} pairs), {a.shuffles} shuffles, 2 bins")
    print(f"{'what':<82} {'PIDs':>10} {'seconds':>9} {'us/PID':>8}")
    for what, n, t, us in rows:
        print(f"{what:<82} {n:>10,} {t:>9.1f} {us:>8.2f}")
    if comparisons:
        print(f"\n{'measure':<8} {'subset':>6} {'dit us/PID':>11} {'experio us/PID':>15} {'ratio':>8} {'max |diff|':>11}")
        for name, m, ud, uo, diff in comparisons:
            print(f"{name:<8} {m:>6} {ud:>11.0f} {uo:>15.2f} {ud / uo:>8.0f}x {diff:>11.2e}")
        ud = comparisons[0][2]
        print(f"\ndit I_min in a loop for the full workload would take about {ud * n_pid / 1e6 / 3600:.1f} h "
              f"({ud / rows[0][3]:.0f}x the vectorised run's {rows[0][3]:.2f} us/PID).")


if __name__ == "__main__":
    main()
