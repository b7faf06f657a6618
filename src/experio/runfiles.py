"""Writing a run folder's files so that a killed run never leaves half a file.

Every run writes config.json, metrics.json, report.md and plots; all go through these helpers:
the text goes to a temporary file in the same folder, then `os.replace` swaps it in atomically.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> write_json(out / "metrics.json", {"success_rate": 0.5}).name
    'metrics.json'
    >>> update_json(out / "config.json", ["fold"], {"max_steps": 40})
    {'fold': {'max_steps': 40}}
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence


def write_text(path: str | os.PathLike, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike, value: Any) -> Path:
    return write_text(path, json.dumps(value, indent=2, default=str) + "\n")


def update_json(path: str | os.PathLike, keys: Sequence[str], value: Any) -> dict:
    """Set `value` at the nested `keys` of a JSON file (created if absent), atomically.

    Several runs share one folder (e.g. each context manager or memory method): each keeps
    its own entry in config.json.
    """
    path = Path(path)
    data = json.loads(path.read_text()) if path.exists() else {}
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    write_json(path, data)
    return data


def save_line_plot(path: str | os.PathLike, series: dict[str, Sequence[float]], *, xlabel: str,
                   ylabel: str, title: str) -> Path:
    """One line per named series over x = 1, 2, ...; saved as PNG (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, ys in series.items():
        ax.plot(range(1, len(ys) + 1), ys, marker=".", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)
    return path
