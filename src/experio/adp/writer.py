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

from experio.adp.schema import RELEASE, Trajectory, check_version, to_wire
from experio.runs import RecordAppender


class TrajectoryWriter(RecordAppender):
    """Append ADP trajectories to a JSONL file, one line each, flushed per write.

    ``version`` is the wire form ("release" or "1.2.0"); ``fsync=True`` also forces each
    line to disk (slower; for runs that must survive power loss). Built on
    `experio.runs.RecordAppender`, which cuts a killed run's partial last line on opening.
    """

    def __init__(self, path: str | os.PathLike, version: str = RELEASE, fsync: bool = False) -> None:
        self.version = check_version(version)
        super().__init__(path, fsync=fsync, encode=self._wire)

    def _wire(self, traj: Trajectory | dict) -> dict:
        model = traj if isinstance(traj, Trajectory) else Trajectory.model_validate(traj)
        return to_wire(model, self.version)

    def write(self, traj: Trajectory | dict) -> None:
        """Validate and append one trajectory (a model or an ADP dict)."""
        super().write(traj)

    def __enter__(self) -> "TrajectoryWriter":
        return self
