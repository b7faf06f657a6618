"""Analyse group logs: every measure per group and per condition, against two nulls.

Input: one CSV per group, layout ``round,agent_1,...,agent_N`` (header first; the first column
is the round index, every other column one agent's numeric guess per round). The group
guessing game writes this; so can any other tool. Conditions come from a mapping
``{"plain": [paths], "persona": [paths]}`` or, for a plain list, from each file's parent folder::

    from experio.emergence import analyze_groups
    report = analyze_groups({"plain": ["runs/g/plain/001.csv", ...]}, shuffles=200, seed=0)
    report.conditions["plain"].share_significant["capacity"]["shift"]   # share of groups, p < alpha
    report.write("runs/emergence-plain")    # report.md, metrics.json, config.json, *.png

Pipeline per group (and, identically, per null surrogate of it):
1. bin each agent's guesses into `bins` quantile bins (its own quantiles; ties kept together);
   the macro V_t is the group's sum of guesses, binned the same way;
2. Psi, Delta, Gamma (lag `lag`), per-agent self-TDMI I(X_j,t; X_j,t+l);
3. emergence capacity: median over the N(N-1)/2 pairs of the synergy of the TDMI PID;
4. I3, G3, total stability: medians over the N(N-1)(N-2)/6 triples.
Nulls (``shuffles`` surrogates each): ``row`` permutes each round's guesses across agents
(breaks identity and self-persistence), ``shift`` circularly shifts each agent's column by a
random lag (breaks alignment between agents, keeps each agent's own dynamics). p-values are
(1 + #{null >= observed}) / (1 + shuffles).

The COPY trap. Two agents that merely repeat their own guesses give a pair PID whose I_min /
MMI synergy is large (COPY gate: 1 bit) although nobody coordinates. It is detected by the two
nulls: self-persistence survives the time-shift null but not the row shuffle. A group is flagged
when its capacity beats the row-shuffle null (p_row < alpha) but not the time-shift null
(p_shift >= alpha) and the time-shift null reproduces at least half of its excess synergy,
persistence_share = (mean shift null - mean row null) / (observed - mean row null) >= 0.5.
The report also gives each group's self-persistence, the mean over agents
of I(X_j,t; X_j,t+l) / H(X_j,t), and warns for every condition with flagged groups.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from experio.runs import RunFolder, markdown_table, write_json, write_text

from .dynamics import batch_criteria, batch_pair_pid, batch_triples, p_value, row_shuffle, time_shift
from .errors import CSVFormatError, EmergenceInputError
from .info import check_estimator, midrank_bins
from .pid import check_measure

MEASURE_KEYS: tuple[str, ...] = (
    "psi", "delta", "gamma", "capacity", "redundancy", "i3", "g3", "stability", "self_persistence",
)
NULLS: tuple[str, ...] = ("row", "shift")
DEFAULT_BINS = 2  # median split: with <= 20 rounds per group, more bins leave most cells empty
DEFAULT_SHUFFLES = 200  # Riedl 2025: 200 shuffles
ANALYZE_KIND = "emergence analyze"  # the owner recorded in the config.json of an analysis folder


# ----------------------------------------------------------------------------------------
# reading


@dataclass
class GroupData:
    """One group's log: values[t, j] = agent j's guess in round rounds[t]."""

    path: str
    condition: str
    rounds: np.ndarray
    agents: list[str]
    values: np.ndarray


def read_group_csv(path: str | os.PathLike, condition: str | None = None) -> GroupData:
    """Read a ``round,agent_1,...,agent_N`` CSV; malformed files raise CSVFormatError(file:line).

    `condition` defaults to the name of the file's parent folder.
    """
    p = Path(path)
    if not p.is_file():
        raise CSVFormatError(str(p), None, "no such file", "Check the path or the glob.")
    with p.open(newline="", encoding="utf-8") as fh:
        rows = [(n, r) for n, r in enumerate(csv.reader(fh), start=1) if any(c.strip() for c in r)]
    if not rows:
        raise CSVFormatError(str(p), None, "file is empty", "Expected a header 'round,agent_1,...,agent_N'.")
    hline, header = rows[0]
    header = [h.strip() for h in header]
    if len(header) < 3:
        raise CSVFormatError(
            str(p), hline, f"header has {len(header)} column(s) {header}",
            "Expected a round column and at least two agent columns: 'round,agent_1,agent_2,...'.",
        )
    agents = header[1:]
    if len(set(agents)) != len(agents):
        raise CSVFormatError(str(p), hline, f"duplicate agent columns in header {header}", "Give each agent a unique name.")
    rounds, values = [], []
    for n, r in rows[1:]:
        if len(r) != len(header):
            raise CSVFormatError(str(p), n, f"{len(r)} fields but the header has {len(header)}", "Every row needs a round and one value per agent.")
        try:
            rd = float(r[0])
        except ValueError:
            raise CSVFormatError(str(p), n, f"round {r[0]!r} is not a number", "The first column must be the round index.") from None
        if not rd.is_integer():
            raise CSVFormatError(str(p), n, f"round {r[0]!r} is not an integer", "The first column must be the round index.")
        vals = []
        for name, cell in zip(agents, r[1:]):
            try:
                v = float(cell)
            except ValueError:
                raise CSVFormatError(str(p), n, f"value {cell!r} of {name} is not a number", "Fill in a numeric guess (missing guesses are not supported).") from None
            if not math.isfinite(v):
                raise CSVFormatError(str(p), n, f"value {cell!r} of {name} is not finite", "Replace NaN/inf with a numeric guess.")
            vals.append(v)
        if rounds and rd <= rounds[-1]:
            raise CSVFormatError(str(p), n, f"round {int(rd)} does not increase (previous {int(rounds[-1])})", "Sort rows by round; one row per round.")
        rounds.append(rd)
        values.append(vals)
    if not values:
        raise CSVFormatError(str(p), None, "no data rows after the header", "Each round needs one row.")
    return GroupData(
        path=str(p),
        condition=condition if condition is not None else (p.parent.name or "all"),
        rounds=np.array(rounds, dtype=np.int64),
        agents=agents,
        values=np.array(values, dtype=np.float64),
    )


def _collect(inputs) -> list[GroupData]:
    if isinstance(inputs, (str, os.PathLike, GroupData)):
        inputs = [inputs]
    groups: list[GroupData] = []
    if isinstance(inputs, Mapping):
        for cond, items in inputs.items():
            items = [items] if isinstance(items, (str, os.PathLike, GroupData)) else items
            for it in items:
                g = it if isinstance(it, GroupData) else read_group_csv(it, str(cond))
                g.condition = str(cond)
                groups.append(g)
    else:
        for it in inputs:
            groups.append(it if isinstance(it, GroupData) else read_group_csv(it))
    if not groups:
        raise EmergenceInputError("no group files given; pass CSV paths (one per group).")
    return groups


# ----------------------------------------------------------------------------------------
# results


@dataclass
class GroupResult:
    path: str
    condition: str
    n_agents: int
    n_rounds: int
    observed: dict[str, float]
    p_values: dict[str, dict[str, float]]  # measure -> null -> p
    null_means: dict[str, dict[str, float]]  # measure -> null -> mean of the null
    copy_trap: bool


@dataclass
class ConditionSummary:
    n_groups: int
    mean: dict[str, float]
    median: dict[str, float]
    sd: dict[str, float]
    share_significant: dict[str, dict[str, float]]  # measure -> null -> share of groups p < alpha
    n_copy_trap: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class Report:
    config: dict
    groups: list[GroupResult]
    conditions: dict[str, ConditionSummary]
    nulls: dict[str, dict[str, dict[str, list[float]]]]  # condition -> measure -> null -> pooled values
    warnings: list[str]

    def to_dict(self) -> dict:
        return {
            "config": self.config,
            "conditions": {c: asdict(s) for c, s in self.conditions.items()},
            "groups": [asdict(g) for g in self.groups],
            "warnings": self.warnings,
        }

    def markdown(self) -> str:
        cfg = self.config
        lines = [
            "# Emergence analysis",
            "",
            f"{len(self.groups)} group(s) in {len(self.conditions)} condition(s); PID measure `{cfg['measure']}`, "
            f"estimator `{cfg['estimator']}`, {cfg['bins']} quantile bins, lag {cfg['lag']}, "
            f"{cfg['shuffles']} surrogates per null (seed {cfg['seed']}), alpha {cfg['alpha']}.",
            "",
            "Measures (bits; group scores; capacity = median over pairs of the TDMI-PID synergy; "
            "I3 / G3 / stability = medians over triples). Nulls: `row` = each round's guesses permuted "
            "across agents; `shift` = each agent's series circularly shifted in time.",
            "",
        ]
        if self.warnings:
            lines += ["## Warnings", ""] + [f"- {w}" for w in self.warnings] + [""]
        lines += ["## Measures per condition", ""]
        lines += markdown_table(["condition", "n", *MEASURE_KEYS], [
            [c, s.n_groups, *(f"{s.mean[m]:.3f} ± {s.sd[m]:.3f}" for m in MEASURE_KEYS)]
            for c, s in self.conditions.items()])
        lines += ["", "Mean ± SD over groups.", "", "## Share of groups beating each null (p < alpha)", ""]
        keys = [m for m in MEASURE_KEYS if m != "self_persistence"]
        lines += markdown_table(["condition", "null", *keys], [
            [c, nl, *(f"{s.share_significant[m][nl]:.2f}" for m in keys)]
            for c, s in self.conditions.items() for nl in NULLS])
        lines += ["", "## Groups", ""]
        lines += markdown_table(
            ["file", "condition", "agents", "rounds", "psi", "capacity", "p_row", "p_shift", "self-persistence",
             "persistence share", "COPY trap"],
            [[Path(g.path).name, g.condition, g.n_agents, g.n_rounds, f"{g.observed['psi']:.3f}",
              f"{g.observed['capacity']:.3f}", f"{g.p_values['capacity']['row']:.3f}",
              f"{g.p_values['capacity']['shift']:.3f}", f"{g.observed['self_persistence']:.2f}",
              f"{g.observed['persistence_share']:.2f}", "yes" if g.copy_trap else ""] for g in self.groups])
        lines += ["", "## Plots", "", "![null distributions](capacity_nulls.png)", "",
                  "![measures by condition](measures.png)", "",
                  "## How the COPY trap is detected", "",
                  "Agents that only repeat their own guesses look synergistic under I_min and MMI "
                  "(the COPY gate gives 1 bit of synergy). Such self-persistence survives the time-shift "
                  "null but not the row shuffle, so a group whose capacity beats the row-shuffle null "
                  "but not the time-shift null, and whose time-shift null reproduces at least half of its "
                  "excess synergy over the row-shuffle null (persistence share >= 0.5), is flagged; "
                  "self-persistence is the mean over agents of I(X_t; X_t+lag) / H(X_t). BROJA and CCS "
                  "give the COPY gate zero synergy.", ""]
        return "\n".join(lines)

    def write(self, out: str | os.PathLike) -> dict[str, Path]:
        """Write report.md, metrics.json, config.json and PNG plots into `out` (atomically).

        Raises RunFolderError, writing nothing, when `out` is another command's run folder.
        """
        run = RunFolder(out, ANALYZE_KIND)
        run.check_kind()
        out = run.path
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "config": write_json(run.config_path, {"kind": ANALYZE_KIND, **self.config}),
            "metrics": write_text(out / "metrics.json", json.dumps(jsonable(self.to_dict()), indent=2)),
        }
        from .plots import plot_measures, plot_nulls  # matplotlib only when writing plots

        paths["capacity_nulls"] = plot_nulls(self, out / "capacity_nulls.png")
        paths["measures"] = plot_measures(self, out / "measures.png")
        paths["report"] = write_text(out / "report.md", self.markdown())
        return paths


def check_report_folder(out: str | os.PathLike) -> None:
    """Raise RunFolderError when `out` is a run folder of another command (`Report.write` would refuse it)."""
    RunFolder(out, ANALYZE_KIND).check_kind()


def jsonable(x):
    """`x` with numpy scalars and arrays as plain Python values (NaN as None), ready for JSON."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


# ----------------------------------------------------------------------------------------
# the analysis


def _measures_of(values: np.ndarray, lengths: np.ndarray, bins: int, lag: int, measure: str, estimator: str) -> dict[str, np.ndarray]:
    """All group-level measures for values (B, T, N) (NaN = no such round) -> (B,) each."""
    b, t, n = values.shape
    valid = np.arange(t)[None, :] < lengths[:, None]
    x = midrank_bins(values.transpose(0, 2, 1), bins).transpose(0, 2, 1)  # each agent by its own quantiles
    v = midrank_bins(np.where(valid, np.nansum(values, axis=2), np.nan), bins)  # V_t = group sum
    crit = batch_criteria(x, v, valid, bins, bins, lag, estimator)
    atoms = batch_pair_pid(x, valid, bins, lag, measure)
    tri = batch_triples(x, v, valid, bins, bins, lag, estimator)
    with np.errstate(divide="ignore", invalid="ignore"):
        persistence = np.where(crit["h_now"] > 0, crit["self_tdmi"] / crit["h_now"], 0.0).mean(axis=1)
    med = lambda a: np.median(a, axis=1) if a.shape[1] else np.full(b, np.nan)  # noqa: E731
    return {
        "psi": crit["psi"], "delta": crit["delta"], "gamma": crit["gamma"],
        "capacity": med(atoms["synergy"]), "redundancy": med(atoms["redundancy"]),
        "i3": med(tri["i3"]), "g3": med(tri["g3"]), "stability": med(tri["stability"]),
        "self_persistence": persistence,
    }


def analyze_groups(
    inputs: Sequence[str | os.PathLike | GroupData] | Mapping[str, Sequence[str | os.PathLike | GroupData]],
    *,
    bins: int = DEFAULT_BINS,
    shuffles: int = DEFAULT_SHUFFLES,
    seed: int = 0,
    measure: str = "imin",
    estimator: str = "plugin",
    lag: int = 1,
    alpha: float = 0.05,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 4000,
) -> Report:
    """Compute every measure for every group, with row-shuffle and time-shift nulls.

    `inputs`: CSV paths / GroupData (condition = parent folder) or {condition: [paths]}.
    `progress(done, total)` is called as surrogate chunks finish (the CLI shows a bar).
    """
    check_measure(measure)
    check_estimator(estimator)
    if not isinstance(bins, int) or bins < 2:
        raise EmergenceInputError(f"bins must be an integer >= 2, got {bins!r}.")
    if shuffles < 1:
        raise EmergenceInputError(f"shuffles must be >= 1, got {shuffles}.")
    if lag < 1:
        raise EmergenceInputError(f"lag must be >= 1, got {lag}.")
    groups = _collect(inputs)
    for g in groups:
        if len(g.values) < lag + 2:
            raise CSVFormatError(g.path, None, f"only {len(g.values)} round(s)", f"Need at least {lag + 2} rounds for lag {lag}.")
    rng = np.random.default_rng(seed)
    obs, null_vals = _observed_and_nulls(groups, rng, bins, shuffles, lag, measure, estimator, progress, chunk)
    results = _group_results(groups, obs, null_vals, alpha)
    conditions, nulls, warnings = _summarize_conditions(groups, results, null_vals, alpha)
    if measure in ("imin", "mmi") and any(s.n_copy_trap for s in conditions.values()):
        warnings.append(
            f"Measure '{measure}' counts self-persistence as synergy (COPY gate: 1 bit); rerun with "
            f"--measure broja or --measure ccs, which give it 0."
        )
    config = {"bins": bins, "shuffles": shuffles, "seed": seed, "measure": measure, "estimator": estimator,
              "lag": lag, "alpha": alpha, "files": [g.path for g in groups],
              "conditions": {c: [g.path for g in groups if g.condition == c] for c in conditions}}
    return Report(config, results, conditions, nulls, warnings)


def _observed_and_nulls(groups: list[GroupData], rng: np.random.Generator, bins: int, shuffles: int, lag: int,
                        measure: str, estimator: str, progress: Callable[[int, int], None] | None, chunk: int,
                        ) -> tuple[dict[int, dict[str, float]], dict[int, dict[str, dict[str, np.ndarray]]]]:
    """Every measure of each group (by index) and of its row-shuffle and time-shift surrogates.

    Groups of the same size are batched; surrogates are computed in chunks of about `chunk`.
    """
    by_n: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        by_n.setdefault(g.values.shape[1], []).append(i)
    n_surr = 1 + 2 * shuffles
    total = sum(n_surr * len(ix) for ix in by_n.values())
    done = 0
    obs: dict[int, dict[str, float]] = {}
    null_vals: dict[int, dict[str, dict[str, np.ndarray]]] = {}
    for n, ix in by_n.items():
        tmax = max(len(groups[i].values) for i in ix)
        values = np.full((len(ix), tmax, n), np.nan)
        lengths = np.array([len(groups[i].values) for i in ix])
        for r, i in enumerate(ix):
            values[r, : lengths[r]] = groups[i].values
        surr = np.concatenate([values[None], row_shuffle(values, rng, shuffles), time_shift(values, lengths, rng, shuffles)])
        per = max(1, chunk // len(ix))  # surrogates per chunk
        res: dict[str, list[np.ndarray]] = {m: [] for m in MEASURE_KEYS}
        for s0 in range(0, n_surr, per):
            block = surr[s0 : s0 + per]
            out = _measures_of(block.reshape(-1, tmax, n), np.tile(lengths, len(block)), bins, lag, measure, estimator)
            for m in MEASURE_KEYS:
                res[m].append(out[m].reshape(len(block), len(ix)))
            done += len(block) * len(ix)
            if progress:
                progress(done, total)
        for m in MEASURE_KEYS:
            allv = np.concatenate(res[m])  # (1 + 2S, G)
            for r, i in enumerate(ix):
                obs.setdefault(i, {})[m] = float(allv[0, r])
                null_vals.setdefault(i, {})[m] = {"row": allv[1 : 1 + shuffles, r], "shift": allv[1 + shuffles :, r]}
    return obs, null_vals


def _group_results(groups: list[GroupData], obs: dict[int, dict[str, float]],
                   null_vals: dict[int, dict[str, dict[str, np.ndarray]]], alpha: float) -> list[GroupResult]:
    """Per group: p-values against each null, null means, and the COPY-trap flag."""
    results = []
    for i, g in enumerate(groups):
        pv = {m: {nl: float(p_value(np.array(obs[i][m]), null_vals[i][m][nl])) for nl in NULLS} for m in MEASURE_KEYS}
        nm = {m: {nl: float(np.mean(null_vals[i][m][nl])) for nl in NULLS} for m in MEASURE_KEYS}
        # COPY trap: synergy beats the row shuffle but not the time shift, and the time-shift
        # null (which keeps self-persistence) reproduces at least half of the excess synergy
        excess = obs[i]["capacity"] - nm["capacity"]["row"]
        share = (nm["capacity"]["shift"] - nm["capacity"]["row"]) / excess if excess > 0 else 0.0
        obs[i]["persistence_share"] = float(share)
        trap = pv["capacity"]["row"] < alpha <= pv["capacity"]["shift"] and share >= 0.5
        results.append(GroupResult(g.path, g.condition, g.values.shape[1], len(g.values), obs[i], pv, nm, bool(trap)))
    return results


def _summarize_conditions(groups: list[GroupData], results: list[GroupResult],
                          null_vals: dict[int, dict[str, dict[str, np.ndarray]]], alpha: float,
                          ) -> tuple[dict[str, ConditionSummary], dict[str, dict[str, dict[str, list[float]]]], list[str]]:
    """Per condition: the summary, the pooled nulls of capacity and psi, and the warnings."""
    conditions: dict[str, ConditionSummary] = {}
    nulls: dict[str, dict[str, dict[str, list[float]]]] = {}
    warnings: list[str] = []
    for c in dict.fromkeys(g.condition for g in groups):
        rs = [r for r in results if r.condition == c]
        idx = [i for i, g in enumerate(groups) if g.condition == c]
        arr = {m: np.array([r.observed[m] for r in rs]) for m in MEASURE_KEYS}
        share = {m: {nl: float(np.mean([r.p_values[m][nl] < alpha for r in rs])) for nl in NULLS} for m in MEASURE_KEYS}
        n_trap = sum(r.copy_trap for r in rs)
        cw = []
        if n_trap:
            cw.append(
                f"COPY trap in condition '{c}': {n_trap} of {len(rs)} group(s) have synergy (capacity) above "
                f"the row-shuffle null but not above the time-shift null, i.e. it is explained by agents "
                f"repeating their own guesses (mean self-persistence "
                f"{np.mean([r.observed['self_persistence'] for r in rs if r.copy_trap]):.2f}), not by coordination."
            )
        if share["capacity"]["row"] > 0 and share["capacity"]["shift"] < 0.5 * share["capacity"]["row"]:
            cw.append(
                f"Condition '{c}': {share['capacity']['row']:.0%} of groups beat the row-shuffle null but only "
                f"{share['capacity']['shift']:.0%} beat the time-shift null; judge synergy by the time-shift null."
            )
        warnings += cw
        sd = lambda a: float(np.std(a, ddof=1)) if len(a) > 1 else 0.0  # noqa: E731
        conditions[c] = ConditionSummary(
            n_groups=len(rs),
            mean={m: float(np.nanmean(arr[m])) for m in MEASURE_KEYS},
            median={m: float(np.nanmedian(arr[m])) for m in MEASURE_KEYS},
            sd={m: sd(arr[m]) for m in MEASURE_KEYS},
            share_significant=share, n_copy_trap=int(n_trap), warnings=cw,
        )
        nulls[c] = {m: {nl: np.concatenate([null_vals[i][m][nl] for i in idx]).tolist() for nl in NULLS}
                    for m in ("capacity", "psi")}
    return conditions, nulls, warnings
