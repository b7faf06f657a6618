"""Append-only trajectory log for agent runs.

Each :meth:`TrajectoryWriter.write` validates one trajectory, appends it as one
JSONL line and flushes, so a killed run loses at most the line in flight. On
reopening, a cut-off last line left by a killed run is removed before
appending; :func:`experio.adp.read_trajectories` with
``tolerate_truncated_tail=True`` reads such a file without error.

>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "run", "trajectories.jsonl")
>>> with TrajectoryWriter(p) as w:
...     w.write({"id": "ep0", "content": [
...         {"class_": "text_observation", "content": "go", "name": None, "source": "user"}],
...         "details": {}})
>>> open(p).read().count("\\n")
1
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from experio.adp.schema import RELEASE, Trajectory, to_wire


class TrajectoryWriter:
    """Append ADP trajectories to a JSONL file, one line each, flushed per write.

    ``version`` is the wire form ("release" or "1.2.0"); ``fsync=True`` also
    forces each line to disk (slower; for runs that must survive power loss).
    """

    def __init__(self, path: str | os.PathLike, version: str = RELEASE, fsync: bool = False) -> None:
        self.path = Path(path)
        self.version = version
        self.fsync = fsync
        self.count = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_partial_last_line(self.path)
        self._fh = open(self.path, "ab")

    def write(self, traj: Trajectory | dict) -> None:
        """Validate and append one trajectory (a model or an ADP dict)."""
        model = traj if isinstance(traj, Trajectory) else Trajectory.model_validate(traj)
        self._fh.write(orjson.dumps(to_wire(model, self.version), option=orjson.OPT_APPEND_NEWLINE))
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())
        self.count += 1

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "TrajectoryWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drop_partial_last_line(path: Path) -> None:
    """Cut a file back to its last newline (the remains of an interrupted write)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        size = f.seek(0, os.SEEK_END)
        pos, chunk = size, 1 << 16
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            block = f.read(pos - start)
            i = block.rfind(b"\n")
            if i != -1:
                f.truncate(start + i + 1)
                return
            pos = start
        f.truncate(0)
