"""PNG plots of an emergence Report (matplotlib, Agg backend; imported only when writing)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

if TYPE_CHECKING:
    from .analyze import Report

#: the y-axis unit of each measure in measures.png (the others are information, in bits)
UNITS = {"stability": "share of H(V)", "self_persistence": "share of H(X)"}


def plot_nulls(report: Report, path: Path, measure: str = "capacity") -> Path:
    """Per condition: observed group values against the pooled row-shuffle and time-shift nulls."""
    conds = list(report.conditions)
    fig, axes = plt.subplots(1, len(conds), figsize=(4.5 * len(conds), 3.4), squeeze=False)
    for ax, c in zip(axes[0], conds):
        observed = np.array([g.observed[measure] for g in report.groups if g.condition == c])
        null = report.nulls[c][measure]
        allv = np.concatenate([observed, null["row"], null["shift"]])
        edges = np.histogram_bin_edges(allv[np.isfinite(allv)], bins=30)
        ax.hist(null["row"], bins=edges, density=True, alpha=0.45, label="null: row shuffle")
        ax.hist(null["shift"], bins=edges, density=True, alpha=0.45, label="null: time shift")
        ax.hist(observed, bins=edges, density=True, histtype="step", lw=2, color="k", label="observed groups")
        ax.set_title(f"{c} ({len(observed)} groups)")
        ax.set_xlabel(f"{measure} (bits)")
    axes[0][0].set_ylabel("density")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_measures(report: Report, path: Path) -> Path:
    """One panel per measure: the groups' values per condition (box + points)."""
    from .analyze import MEASURE_KEYS

    conds = list(report.conditions)
    cols = 3
    rows = -(-len(MEASURE_KEYS) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.9 * rows), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, m in zip(axes.ravel(), MEASURE_KEYS):
        data = [np.array([g.observed[m] for g in report.groups if g.condition == c], dtype=float) for c in conds]
        data = [d[np.isfinite(d)] for d in data]
        ax.boxplot(data, showfliers=False)
        for k, d in enumerate(data, start=1):
            ax.plot(k + rng.uniform(-0.12, 0.12, len(d)), d, ".", alpha=0.5, ms=4)
        ax.set_xticks(range(1, len(conds) + 1), conds, fontsize=8)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_title(m, fontsize=9)
        ax.set_ylabel(UNITS.get(m, "bits"), fontsize=8)
    for ax in axes.ravel()[len(MEASURE_KEYS):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
