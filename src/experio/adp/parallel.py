"""Ordered, bounded fan-out of chunk work to worker processes.

:class:`OrderedPool` runs ``fn(job, chunk)`` for a stream of chunks and yields
the results in input order. With one worker it calls ``fn`` in this process
(the same code path, so the output of any worker count is byte-identical);
with more, a process pool does the work while at most ``max_inflight``
chunks are queued or finished-but-unwritten, so memory stays flat however
large the input.

Workers start from a fork server (where the platform has one): a small
process started once that has imported ``experio.adp``, forked for each
worker. That is quick (no interpreter start or import per pool), safe in a
parent with threads (a progress bar), and the workers do not inherit
whatever large objects the calling process holds. Elsewhere workers are
spawned. Workers ignore SIGINT: Ctrl-C reaches the parent, which terminates
and reaps them on the way out of the ``with`` block; if the parent is killed
outright, the workers read end-of-file on their task pipe and exit.

Workers do not import the caller's main module. Python's fork server and spawn
normally re-run a script's top level in every new process, so a script that calls
``export_file(..., workers=2)`` without an ``if __name__ == "__main__":`` guard
would start pools from inside its own workers, over and over. A worker here only
needs ``experio.adp`` (the job names a registered converter or exporter; one
defined in the caller's script runs in the caller's process anyway), so the main
module is hidden from multiprocessing while the workers start.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
from collections import deque
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from experio.errors import UsageError

#: modules the fork server imports once, so forked workers start ready
_PRELOAD = ["experio.adp.pipeline", "pyarrow.parquet"]
_context: Any = None


def usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask, which containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _mp_context() -> Any:
    global _context
    if _context is None:
        if "forkserver" in mp.get_all_start_methods():
            _context = mp.get_context("forkserver")
            # Takes effect when the fork server starts (first pool of this process).
            _context.set_forkserver_preload(_PRELOAD)
        else:
            _context = mp.get_context("spawn")
    return _context


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """While workers start, give multiprocessing no main module to re-import in them.

    It re-imports ``__main__`` from its ``__spec__`` name or its ``__file__``; both are put
    back at once, before any other code of the caller runs again.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    missing = object()
    saved = {k: main.__dict__.get(k, missing) for k in ("__spec__", "__file__")}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is missing:
                main.__dict__.pop(k, None)
            else:
                main.__dict__[k] = v


class OrderedPool:
    """``with OrderedPool(workers) as pool: for r in pool.map(fn, job, chunks): ...``

    ``fn`` must be a module-level function and ``job`` and the chunks
    picklable when ``workers > 1``. Leaving the ``with`` block by an exception
    (Ctrl-C included) terminates the workers and waits for them to exit.
    """

    def __init__(self, workers: int, max_inflight: int | None = None) -> None:
        if workers < 1:
            raise UsageError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.max_inflight = max_inflight or 2 * workers
        self._pool: Any = None

    def __enter__(self) -> "OrderedPool":
        if self.workers > 1:
            with _main_module_hidden():
                self._pool = _mp_context().Pool(self.workers, initializer=_ignore_sigint)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self._pool is None:
            return
        if exc_type is None:
            self._pool.close()
        else:
            self._pool.terminate()
        self._pool.join()  # reap every worker: no zombies, whatever happened
        self._pool = None

    def map(self, fn: Callable[[Any, Any], Any], job: Any, chunks: Iterable[Any]) -> Iterator[Any]:
        """``fn(job, chunk)`` for each chunk, results in chunk order."""
        if self._pool is None:
            for chunk in chunks:
                yield fn(job, chunk)
            return
        pending: deque = deque()
        for chunk in chunks:
            pending.append(self._pool.apply_async(fn, (job, chunk)))
            if len(pending) >= self.max_inflight:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
