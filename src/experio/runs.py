"""Run folders: config entries, the append-only records file, resume, rejects, progress, reports.

Every command that writes `--out runs/NAME` goes through this module, so every run folder
behaves the same way:

    runs/NAME/
      config.json          {"kind": "agent", ...}: which command owns the folder, each run's settings
      trajectories.jsonl   the records, append-only, one JSON line each: the source of truth
      metrics.json         recomputed from the records by the report
      report.md, *.png     the same as tables and plots

Writes are atomic (a temporary file in the same folder, then `os.replace`) or append-only
(one flushed line per record; a cut-off last line left by a killed run is dropped on read
and cut on the next append), so a killed run loses at most the record in flight.

    >>> import tempfile, pathlib
    >>> run = RunFolder(pathlib.Path(tempfile.mkdtemp()) / "demo", kind="agent")
    >>> run.open(resume=False, finished=0)          # creates the folder, claims it for "agent"
    >>> run.set_config(["fold"], {"max_steps": 40})
    {'kind': 'agent', 'fold': {'max_steps': 40}}
    >>> with run.appender() as records:
    ...     records.write({"id": "ep0"})
    >>> run.records()
    [{'id': 'ep0'}]
    >>> run.open(resume=False, finished=1)         # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    experio.errors.ResumeRequired: .../demo already has 1 finished episode(s); pass --resume ...
    >>> pct(0.125), pct(None)
    ('12.5 %', 'n/a')
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import orjson

from experio.errors import InputFileError, ResumeRequired, RunFolderError

RECORDS = "trajectories.jsonl"
CONFIG = "config.json"


# ---------------------------------------------------------------------------- atomic files

def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` atomically (temporary file in the same folder, then rename)."""
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
    """Write `value` as indented JSON, atomically."""
    return write_text(path, json.dumps(value, indent=2, default=str) + "\n")


def read_json(path: str | os.PathLike) -> dict:
    """A JSON object from `path` ({} when absent); a clear RunFolderError when it is not JSON."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunFolderError(f"{path} is not valid JSON ({e}); restore it or choose another --out") from e
    if not isinstance(value, dict):
        raise RunFolderError(f"{path} holds a JSON {type(value).__name__}, not an object; choose another --out")
    return value


def update_json(path: str | os.PathLike, keys: Sequence[str], value: Any) -> dict:
    """Set `value` at the nested `keys` of a JSON file (created if absent), atomically.

    Several runs share one folder (each context manager or memory method): each keeps its
    own entry in config.json.
    """
    data = read_json(path)
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    write_json(path, data)
    return data


# ------------------------------------------------------------------------- records files

def read_records(path: str | os.PathLike) -> list[dict]:
    """Every JSON line of an append-only records file ([] when absent).

    A cut-off last line (no newline, not JSON: the remains of a killed write) is dropped;
    any other bad line is a RunFolderError naming file and line.
    """
    path = Path(path)
    if not path.exists():
        return []
    out = []
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError as e:
                if not line.endswith(b"\n"):
                    break  # the cut-off tail of a killed run
                raise RunFolderError(f"{path}:{n} is not valid JSON ({e}); the records file was edited "
                                     "or damaged: restore it or choose another --out") from e
    return out


def drop_partial_last_line(path: str | os.PathLike) -> None:
    """Cut a file back to its last newline (the remains of an interrupted write)."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        pos, chunk = f.seek(0, os.SEEK_END), 1 << 16
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            i = f.read(pos - start).rfind(b"\n")
            if i != -1:
                f.truncate(start + i + 1)
                return
            pos = start
        f.truncate(0)


class RecordAppender:
    """Append JSON lines to a records file, one flushed line per `write` (`fsync=True`: to disk too).

    On opening, a cut-off last line left by a killed run is removed first. `encode` turns a
    record into its JSON-able form (e.g. an ADP trajectory into its wire dict).
    """

    def __init__(self, path: str | os.PathLike, *, fsync: bool = False,
                 encode: Callable[[Any], Any] | None = None) -> None:
        self.path, self.fsync, self.encode, self.count = Path(path), fsync, encode, 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        drop_partial_last_line(self.path)
        self._fh = open(self.path, "ab")

    def write(self, record: Any) -> None:
        value = self.encode(record) if self.encode else record
        self._fh.write(orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE, default=str))
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())
        self.count += 1

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "RecordAppender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------- run folder

class RunFolder:
    """One `--out` folder owned by one kind of command ("agent", "memory", "game", ...).

    `open` claims the folder (creating it) and refuses to mix a new run into finished work
    unless resuming; `check_kind` is what a report command calls before writing anything.
    """

    def __init__(self, path: str | os.PathLike, kind: str, records: str = RECORDS) -> None:
        self.path, self.kind = Path(path), kind
        self.records_path = self.path / records
        self.config_path = self.path / CONFIG

    def owner(self) -> str | None:
        """The kind recorded in config.json (None for a new folder or one made before kinds)."""
        return read_json(self.config_path).get("kind")

    def check_kind(self, *, must_exist: bool = False) -> None:
        """Raise RunFolderError if the folder belongs to another command (or is absent, when `must_exist`)."""
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(f"{self.path} is a file, not a run folder; pass the folder a run wrote with --out")
        if must_exist and not self.path.is_dir():
            raise InputFileError(f"run folder {self.path} does not exist; pass the folder a run wrote with --out")
        owner = self.owner()
        if owner is not None and owner != self.kind:
            raise RunFolderError(f"{self.path} is a run folder of `experio {owner}`, not of `experio {self.kind}`; "
                                 f"read it with `experio {owner}` commands, or choose another --out")

    def open(self, *, resume: bool, finished: int, what: str = "episode(s)") -> None:
        """Create and claim the folder; refuse when it holds `finished` work and not `resume`."""
        self.check_kind()
        if finished and not resume:
            raise ResumeRequired(f"{self.path} already has {finished} finished {what}; pass --resume to "
                                 "continue that run, or choose another --out")
        self.path.mkdir(parents=True, exist_ok=True)
        if self.owner() is None:
            update_json(self.config_path, ["kind"], self.kind)

    def set_config(self, keys: Sequence[str], value: Any) -> dict:
        """Record one run's settings at `keys` of config.json (atomic)."""
        return update_json(self.config_path, keys, value)

    def config(self) -> dict:
        return read_json(self.config_path)

    def records(self) -> list[dict]:
        """The folder's records (a cut-off last line dropped)."""
        return read_records(self.records_path)

    def appender(self, **options: Any) -> RecordAppender:
        return RecordAppender(self.records_path, **options)


# ---------------------------------------------------------------------------- model files

def experio_home() -> Path:
    """`$EXPERIO_HOME` (default `~/.cache/experio`): assembled models, caches, built test sets."""
    return Path(os.environ.get("EXPERIO_HOME", Path.home() / ".cache" / "experio"))


def sha256_file(path: str | os.PathLike, progress: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            if progress:
                progress(len(block))
    return digest.hexdigest()


def _stamp_text(path: Path, sha: str) -> str:
    st = path.stat()
    return f"{sha} {st.st_size} {st.st_mtime_ns}\n"


def sha256_matches(path: str | os.PathLike, expected: str,
                   progress: Callable[[int], None] | None = None) -> tuple[bool, str]:
    """(whether `path` hashes to `expected`, its sha256); a match leaves a stamp beside the file
    (`NAME.sha256`: hash, size, mtime) so the next check costs one `stat`."""
    path = Path(path)
    stamp = path.with_name(path.name + ".sha256")
    if stamp.is_file() and stamp.read_text() == _stamp_text(path, expected):
        return True, expected
    actual = sha256_file(path, progress)
    if actual == expected:
        try:
            stamp.write_text(_stamp_text(path, expected))
        except OSError:
            pass  # a read-only model folder only costs a rehash next time
    return actual == expected, actual


def concatenate_files(parts: Sequence[str | os.PathLike], target: str | os.PathLike,
                      progress: Callable[[int], None] | None = None) -> Path:
    """Write the `parts` one after the other into `target`, atomically (a killed run leaves no
    half file under the real name)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(1 << 20):
                        out.write(block)
                        if progress:
                            progress(len(block))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def byte_progress(label: str, total: int, enabled: bool) -> Callable[[int], None] | None:
    """A byte-count progress callback drawn with rich on stderr, or None when disabled.

    Off a terminal (a pipe, a log file) there is no bar: it would leave blank lines there.
    """
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    bar = Progress(TextColumn(label), BarColumn(), DownloadColumn(), transient=True, console=console)
    task = bar.add_task(label, total=total)
    done = [0]

    def advance(n: int) -> None:
        if done[0] == 0:
            bar.start()
        done[0] += n
        bar.update(task, advance=n)
        if done[0] >= total:
            bar.stop()

    return advance


# --------------------------------------------------------------------------- rejects file

def rejects_path(output: str | os.PathLike) -> str:
    """Where the rejected rows of a run writing `output` go: `OUTPUT.rejects.jsonl`."""
    return f"{output}.rejects.jsonl"


class RejectsFile:
    """`OUTPUT.rejects.jsonl`: one line per rejected input row, `{"line", "reason", "row"}`.

    `line` is the row's 1-based line (or row) number in its input, `row` the raw row as read
    (text when it did not parse); a row built from several input lines also has `lines`.
    It is written under a temporary name and put in place by `commit` together with the
    output: a run without rejects removes an old rejects file, a failed run (`abort`) leaves
    the old one untouched.
    """

    def __init__(self, output: str | os.PathLike) -> None:
        self.path = rejects_path(output)
        self.tmp_path = str(Path(self.path).with_name(f".{Path(self.path).name}.{os.getpid()}.tmp"))
        self.count = 0
        self.reasons: dict[str, int] = {}
        self._fh = None

    def add(self, line: int | Sequence[int], reason: str, row: Any) -> None:
        lines = [line] if isinstance(line, int) else list(line)
        if self._fh is None:
            self._fh = open(self.tmp_path, "wb")
        record: dict[str, Any] = {"line": lines[0], "reason": reason, "row": row}
        if len(lines) > 1:
            record["lines"] = lines
        self._fh.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE, default=str))
        self.count += len(lines)
        key = (reason.split(":")[0] if ":" in reason else reason)[:120]
        self.reasons[key] = self.reasons.get(key, 0) + len(lines)

    def commit(self) -> str | None:
        """Put the rejects in place; return their path (None, and no file, when there were none)."""
        if self._fh is not None:
            self._fh.close()
            os.replace(self.tmp_path, self.path)
            return self.path
        Path(self.path).unlink(missing_ok=True)
        return None

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            Path(self.tmp_path).unlink(missing_ok=True)


# ------------------------------------------------------------------------------- progress

@contextmanager
def progress(label: str, total: int, completed: int = 0, *, enabled: bool = True,
             counter: str | None = "solved") -> Iterator[Callable[..., None]]:
    """A rich progress bar over `total` units; yields `advance(hit=False)`.

    With `counter`, the bar also shows how many advanced units were hits ("3 solved").
    Disabled, it yields a function that does nothing.
    """
    if not enabled:
        yield lambda hit=False: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn()]
    if counter:
        columns.append(TextColumn(f"{{task.fields[hits]}} {counter}"))
    bar = Progress(*columns, TimeElapsedColumn())
    task = bar.add_task(label, total=total, completed=completed, hits=0)
    hits = 0

    def advance(hit: bool = False) -> None:
        nonlocal hits
        hits += bool(hit)
        bar.update(task, advance=1, hits=hits)

    bar.start()
    try:
        yield advance
    finally:
        bar.stop()


# ------------------------------------------------------------------------- report helpers

def pct(x: float | None, digits: int = 1) -> str:
    """A share as a percentage ("12.5 %"), "n/a" for None."""
    return "n/a" if x is None else f"{100 * x:.{digits}f} %"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table as lines: header, rule, one line per row (cells turned to text)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


_STYLES = [("o", "-"), ("s", "--"), ("^", "-."), ("D", ":"), ("v", "-"), ("x", "--")]


def save_line_plot(path: str | os.PathLike, series: dict[str, Sequence[float]], *, xlabel: str,
                   ylabel: str, title: str, integer_y: bool = False) -> Path:
    """One line per named series over x = 1, 2, ...; saved as PNG (matplotlib, Agg), atomically.

    Each series has its own marker and line style, so lines that coincide stay visible;
    `integer_y` puts ticks on whole numbers only (counts).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, (label, ys) in enumerate(series.items()):
        marker, style = _STYLES[i % len(_STYLES)]
        ax.plot(range(1, len(ys) + 1), ys, marker=marker, linestyle=style, markersize=7 - i % 3 * 1.5,
                markerfacecolor="none", alpha=0.85, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if integer_y:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if series:
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    return path


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save a matplotlib figure to PNG atomically and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)
    return path
