"""The in-memory index of a memory bank: every stored query embedding, exact cosine top-k.

Retrieval (as the official code: over past task queries, not items) is exact cosine top-k
over in-memory copies of every stored query embedding (float32, plus float16 for speed):
`experio.embed.exact_top_k_two_pass` scans the float16 copy, then re-ranks exactly (float64)
every row its proven error bound cannot rule out; ties go to the older experience (earlier
`created`, then insertion order).

The matrices are loaded once and then extended with the rows not seen yet (by insertion
sequence, `Index.refresh`), so writes by the bank's own object, other threads and other
processes are all found; when nothing changed that costs one indexed `max(seq)` query. Rows
are only ever appended: a `Snapshot` (views of the arrays at one moment) stays valid while
the index grows, so a search needs no lock.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from experio.embed import exact_top_k_two_pass, half_copy

LOAD_CHUNK = 50_000  # rows read from SQLite at a time


class Snapshot:
    """Views of the index's arrays at one moment (rows are only ever appended)."""

    def __init__(self, index: "Index") -> None:
        n = index.n
        self.matrix, self.matrix16 = index.matrix[:n], index.matrix16[:n]
        self.max_residual, self.max_norm = index.max_residual, index.max_norm
        self.ids, self.seq, self.created = index.ids[:n], index.seq[:n], index.created[:n]
        self.task, self.success, self.source = index.task[:n], index.success[:n], index.source[:n]

    def top_k(self, q: np.ndarray, k: int, exclude: list[int], status: str | None,
              source: int | None) -> list[tuple[int, float]]:
        """Ids and similarities of the best `k` rows; `exclude` task codes, `source` a source code.

        Exact: the same rows as sorting every allowed row by (exact cosine desc, created asc,
        insertion order asc), found by `exact_top_k_two_pass` (a float16 scan, then an exact
        float64 re-rank of the rows the scan's error bound cannot rule out).
        """
        n = self.matrix.shape[0]
        if n == 0 or k <= 0:
            return []
        keep = None
        if exclude:
            keep = ~np.isin(self.task, exclude)
        if status is not None:
            ok = self.success if status == "success" else ~self.success
            keep = ok if keep is None else keep & ok
        if source is not None:
            ok = self.source == source
            keep = ok if keep is None else keep & ok
        rows, sims = exact_top_k_two_pass(q, self.matrix, self.matrix16, k, max_residual=self.max_residual,
                                          max_norm=self.max_norm, keep=keep, tiebreak=(self.created, self.seq))
        return [(int(self.ids[i]), float(s)) for i, s in zip(rows, sims)]


class Index:
    """Every stored query embedding as one float32 matrix and its float16 copy (the fast first
    pass of retrieval), grown by doubling, plus filters. `max_residual` / `max_norm`: the
    largest ||x - float16(x)|| and ||x|| over the rows, the constants of the exactness bound."""

    def __init__(self, dim: int) -> None:
        self.dim, self.n, self.last_seq = dim, 0, 0
        self.matrix = np.empty((0, dim), dtype=np.float32)
        self.matrix16 = np.empty((0, dim), dtype=np.float16)
        self.max_residual = self.max_norm = 0.0
        self.ids = np.empty(0, np.int64)
        self.seq = np.empty(0, np.int64)
        self.created = np.empty(0, np.float64)
        self.task = np.empty(0, np.int32)
        self.success = np.empty(0, bool)
        self.source = np.empty(0, np.int32)
        self.task_codes: dict[str, int] = {}
        self.source_codes: dict[str, int] = {}

    def snapshot(self) -> Snapshot:
        return Snapshot(self)

    def refresh(self, con: sqlite3.Connection) -> None:
        """Load the rows stored (by anyone) since the last refresh."""
        top = con.execute("SELECT coalesce(max(seq), 0) FROM experiences").fetchone()[0]
        if top == self.last_seq:
            return
        cur = con.execute("SELECT seq, id, task_id, embedding, status, source, created FROM experiences"
                          " WHERE seq > ? ORDER BY seq", (self.last_seq,))
        while rows := cur.fetchmany(LOAD_CHUNK):
            self._append(rows)

    def _append(self, rows: list[tuple]) -> None:
        m, need = len(rows), self.n + len(rows)
        if need > self.matrix.shape[0]:
            self._grow(max(need, 2 * self.matrix.shape[0], 1024))
        blob = b"".join(r[3] for r in rows)
        if len(blob) != m * self.dim * 4:
            bad = next(r[1] for r in rows if len(r[3]) != self.dim * 4)
            raise sqlite3.DatabaseError(f"experience {bad} has an embedding of the wrong size")
        s = slice(self.n, need)
        block = np.frombuffer(blob, dtype="<f4").reshape(m, self.dim)
        block16, residual, norm = half_copy(block)
        self.matrix[s], self.matrix16[s] = block, block16
        # Maxima only grow (rows are append-only), so a snapshot may read them later.
        self.max_residual, self.max_norm = max(self.max_residual, residual), max(self.max_norm, norm)
        self.seq[s] = [r[0] for r in rows]
        self.ids[s] = [r[1] for r in rows]
        self.task[s] = [self.task_codes.setdefault(r[2], len(self.task_codes)) for r in rows]
        self.success[s] = [r[4] == "success" for r in rows]
        self.source[s] = [self.source_codes.setdefault(r[5], len(self.source_codes)) for r in rows]
        self.created[s] = [r[6] for r in rows]
        self.n, self.last_seq = need, int(rows[-1][0])

    def _grow(self, cap: int) -> None:
        # New arrays: snapshots taken earlier keep views of the old ones, which stay valid.
        def grown(a: np.ndarray) -> np.ndarray:
            out = np.empty((cap,) + a.shape[1:], dtype=a.dtype)
            out[: self.n] = a[: self.n]
            return out

        self.matrix, self.matrix16 = grown(self.matrix), grown(self.matrix16)
        self.ids, self.seq, self.created = map(grown, (self.ids, self.seq, self.created))
        self.task, self.success, self.source = map(grown, (self.task, self.success, self.source))
