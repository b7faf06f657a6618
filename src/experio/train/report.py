"""metrics.json, report.md and loss.png of an SFT run, and its progress bar.

`history` is what the loop records (and checkpoints carry across a resume):

    {"train": [{"step", "epoch", "loss", "lr", "tokens", "labelled_tokens", "seconds"}, ...],
     "eval":  [{"step", "loss", "tokens"}, ...]}

`tokens` are the input tokens of a step (prompt + completion, no padding), `seconds` the
wall time of its forward, backward and optimizer step; tokens/s is their ratio over the run.
"""

from __future__ import annotations

import resource
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from experio.runs import markdown_table, save_figure, write_json, write_text


def peak_rss_bytes() -> int:
    """The peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def compute_metrics(history: dict, summary: dict) -> dict[str, Any]:
    train, evals = history.get("train", []), history.get("eval", [])
    tokens = sum(s["tokens"] for s in train)
    seconds = sum(s["seconds"] for s in train)
    return {
        **summary,
        "steps": len(train),
        "tokens": tokens,
        "labelled_tokens": sum(s["labelled_tokens"] for s in train),
        "train_seconds": round(seconds, 3),
        "tokens_per_s": round(tokens / seconds, 2) if seconds else None,
        "first_train_loss": train[0]["loss"] if train else None,
        "last_train_loss": train[-1]["loss"] if train else None,
        "first_eval_loss": evals[0]["loss"] if evals else None,
        "last_eval_loss": evals[-1]["loss"] if evals else None,
        "peak_rss_bytes": peak_rss_bytes(),
        "train": train,
        "eval": evals,
    }


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "n/a"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def write_report(out: str | Path, history: dict, summary: dict, config: dict) -> dict[str, Any]:
    """Write metrics.json, loss.png and report.md; return the metrics."""
    out = Path(out)
    m = compute_metrics(history, summary)
    write_json(out / "metrics.json", m)
    plot_loss(out / "loss.png", m["train"], m["eval"])
    rows = [
        ("examples (train / eval)", f"{m.get('train_examples')} / {m.get('eval_examples')}"),
        ("trajectories (train / eval)", f"{m.get('train_trajectories')} / {m.get('eval_trajectories')}"),
        ("rejected rows", m.get("rejected", 0)),
        ("optimizer steps", f"{m['steps']} of {m.get('total_steps')}"),
        ("tokens (labelled)", f"{m['tokens']} ({m['labelled_tokens']})"),
        ("tokens/s", _fmt(m["tokens_per_s"], 1)),
        ("training wall time (s)", _fmt(m["train_seconds"], 1)),
        ("train loss first -> last", f"{_fmt(m['first_train_loss'])} -> {_fmt(m['last_train_loss'])}"),
        ("eval loss first -> last", f"{_fmt(m['first_eval_loss'])} -> {_fmt(m['last_eval_loss'])}"),
        ("peak RSS (GB, this process)", f"{m['peak_rss_bytes'] / 1e9:.2f}"),
    ]
    settings = [(k, v) for k, v in config.items() if k not in ("kind",)]
    lines = ["# SFT run", "", *markdown_table(["measure", "value"], rows), "",
             "Loss: mean cross-entropy (nats) per labelled token (completion + EOS). "
             "Eval loss at step 0 is the base model's.", "", "![loss](loss.png)", "",
             "## Settings", "", *markdown_table(["setting", "value"], settings), ""]
    write_text(out / "report.md", "\n".join(lines))
    return m


def plot_loss(path: Path, train: list[dict], evals: list[dict]) -> Path:
    """Train loss per step and eval loss at the steps it was measured, over the optimizer step."""
    return plot_curves(path, train, evals, "loss", ("train", "eval (held out)"), "loss per labelled token (nats)",
                       "SFT loss")


def plot_curves(path: Path, train: list[dict], evals: list[dict], key: str, labels: tuple[str, str], ylabel: str,
                title: str) -> Path:
    """`key` of the train records per step (a line) and of the eval records (markers), over the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    if train:
        ax.plot([s["step"] for s in train], [s[key] for s in train], "-", alpha=0.8, label=labels[0])
    if evals:
        ax.plot([s["step"] for s in evals], [s[key] for s in evals], "o--", markerfacecolor="none", label=labels[1])
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if train or evals:
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


@contextmanager
def step_progress(total: int, completed: int, *, enabled: bool, label: str = "sft", metric: str = "loss"
                  ) -> Iterator[Callable[..., None]]:
    """A rich bar over optimizer steps with the last `metric` and tokens/s; yields `update(value, tokens_per_s)`."""
    if not enabled:
        yield lambda loss, tps: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                   TextColumn(metric + " {task.fields[loss]} · {task.fields[tps]} tok/s"),
                   TimeElapsedColumn(), TimeRemainingColumn())
    task = bar.add_task(label, total=total, completed=completed, loss="-", tps="-")

    def update(loss: float, tps: float | None) -> None:
        bar.update(task, advance=1, loss=f"{loss:.3f}", tps="-" if tps is None else f"{tps:.0f}")

    bar.start()
    try:
        yield update
    finally:
        bar.stop()
