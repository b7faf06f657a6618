"""`MemoryBank`: ReasoningBank's memory as one SQLite file (WAL), with exact in-memory top-k.

    >>> import numpy as np, tempfile, os
    >>> from experio.memory import MemoryBank, Experience, MemoryItem
    >>> bank = MemoryBank(os.path.join(tempfile.mkdtemp(), "bank.db"), dim=4)
    >>> e = Experience("t1", "open the red door", np.array([1, 0, 0, 0], "f4"), "success", "door opened")
    >>> eid = bank.store(e, [MemoryItem("Find the key first", "Locked doors need keys.",
    ...                                 "Look for a key before trying a locked door.")])
    >>> [(hit.experience.task_id, hit.items[0].title, round(hit.similarity, 2))
    ...  for hit in bank.retrieve(np.array([0.8, 0.6, 0, 0], "f4"), k=1)]
    [('t1', 'Find the key first', 0.8)]

Consolidation is append-only, as in the paper: nothing is merged, changed or forgotten.

The bank is three parts: the file (`storage`: schema, the checks that refuse a foreign,
damaged or other-version file untouched, row encoding), the in-memory index (`index`: exact
cosine top-k over every stored query embedding, ties to the older experience) and export /
import (`transfer`: JSONL with exact embeddings, bad lines to a rejects file). This class
joins them: transactions, the lock, reading, retrieval.

No self-retrieval: an experience enters the index only when `store` commits it, i.e. after
its task ran and was judged. The official code adds the current query to the index before
the task runs, so a task can retrieve itself; here that cannot happen, and `retrieve` also
takes `exclude_task_ids` (e.g. the running task's id when a stream repeats tasks).

Concurrency: every write is one short `BEGIN IMMEDIATE` transaction; SQLite's busy timeout
waits for other writers and a retry loop covers what it does not. Threads may share one
`MemoryBank` (calls are serialised by a lock) or open their own; processes open their own.
Before each retrieval the index reads the rows written since (by anyone).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np

from experio.runs import RejectsFile

from .errors import MemoryBankError, MemoryInputError, UnknownExperienceError
from .index import Index
from .records import STATUSES, Experience, MemoryItem, Retrieved, now
from .storage import (DEFAULT_DIM, EXP_COLUMNS, ITEM_COLUMNS, check_header, connect, create_bank_file,
                      experience_from_row, experience_row, insert, is_busy, item_fields, item_from_row, items_of,
                      last_seq, unit_vector)
from .transfer import ImportSummary, import_rows, read_export, write_export

T = TypeVar("T")
EXPORT_BATCH = 1000  # experiences whose items are read in one query while exporting


class MemoryBank:
    """Experiences and memory items in one SQLite file; exact cosine top-k over query embeddings.

    `MemoryBank(path)` opens the bank at `path` or creates it (parents included). `dim` is the
    embedding dimension of a new bank (default 384, MiniLM); an existing bank keeps its own,
    and a `dim` that differs from it is an error.
    `busy_timeout` (seconds) bounds how long a write waits for other writers.
    """

    def __init__(self, path: str | os.PathLike, *, dim: int | None = None, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.busy_timeout = float(busy_timeout)
        if self.path.is_dir():
            raise MemoryBankError("is a folder, not a memory bank file", self.path,
                                  "Pass a file path such as runs/NAME/memory.db")
        if not self.path.exists():
            create_bank_file(self.path, DEFAULT_DIM if dim is None else dim)
        check_header(self.path)
        self._lock = threading.RLock()
        self._con = connect(self.path, self.busy_timeout)
        self.dim = self._read_dim()
        if dim is not None and dim != self.dim:
            self._con.close()
            raise MemoryBankError(f"holds {self.dim}-dimensional embeddings, not {dim}", self.path,
                                  "Open it with the embedder it was built with, or use another path")
        self._index = Index(self.dim)

    def _read_dim(self) -> int:
        row = self._query(lambda c: c.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone())
        if row is None or not str(row[0]).isdigit():
            self._con.close()
            raise MemoryBankError("has no valid embedding dimension in its meta table", self.path,
                                  "The file is damaged; restore it from a backup")
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> "MemoryBank":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MemoryBank({str(self.path)!r}, dim={self.dim})"

    # ------------------------------------------------------------------ writing
    def store(self, experience: Experience, items: Sequence[MemoryItem] = ()) -> int:
        """Append one experience and its memory items in one transaction; return its id.

        `experience.id` and the items' ids are ignored (the bank assigns them); `created` is
        kept when set (e.g. replaying old runs), else stamped now. Only now does the
        experience become retrievable.
        """
        return self.store_many([(experience, items)])[0]

    def store_many(self, records: Iterable[tuple[Experience, Sequence[MemoryItem]]]) -> list[int]:
        """Append many (experience, items) pairs in one transaction (fast bulk loading)."""
        rows = [(experience_row(e, self.dim), [item_fields(i) for i in items]) for e, items in records]

        def write(con: sqlite3.Connection) -> list[int]:
            seq, stamp, ids = last_seq(con), now(), []
            for row, fields in rows:
                seq += 1
                created = stamp if row[-1] is None else row[-1]
                ids.append(insert(con, seq, row, [(None, f, stamp) for f in fields], created=created))
            return ids

        return self._write(write)

    def add_experience(self, task_id: str, query: str, embedding: np.ndarray, status: str, rationale: str = "", *,
                       run_path: str | os.PathLike | None = None, trajectory_id: str | None = None,
                       source: str = "reasoningbank") -> int:
        """Append one experience without items; return its id. (`store` does both at once.)"""
        return self.store(Experience(task_id, query, embedding, status, rationale,  # type: ignore[arg-type]
                                     None if run_path is None else str(run_path), trajectory_id, source))

    def add_items(self, experience_id: int, items: Sequence[MemoryItem]) -> list[int]:
        """Append memory items to a stored experience, in one transaction; return their ids."""
        fields = [item_fields(i) for i in items]

        def write(con: sqlite3.Connection) -> list[int]:
            if con.execute("SELECT 1 FROM experiences WHERE id = ?", (experience_id,)).fetchone() is None:
                raise UnknownExperienceError(f"no experience with id {experience_id} in {self.path}")
            stamp, out = now(), []
            for f in fields:
                cur = con.execute("INSERT INTO items(experience_id, title, description, content, created)"
                                  " VALUES (?,?,?,?,?)", (experience_id, *f, stamp))
                out.append(int(cur.lastrowid))
            return out

        return self._write(write)

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one BEGIN IMMEDIATE transaction; retry while other writers hold the lock."""
        deadline, delay = time.monotonic() + self.busy_timeout, 0.002
        while True:
            with self._lock:
                try:
                    self._con.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as e:
                    if not is_busy(e) or time.monotonic() > deadline:
                        raise MemoryBankError(f"stayed locked by another writer for {self.busy_timeout:.0f} s ({e})",
                                              self.path, "Retry later, or raise busy_timeout") from None
                else:
                    try:
                        out = fn(self._con)
                        self._con.execute("COMMIT")
                        return out
                    except sqlite3.OperationalError as e:
                        self._rollback()
                        if not is_busy(e) or time.monotonic() > deadline:
                            raise
                    except sqlite3.DatabaseError as e:
                        self._rollback()
                        raise MemoryBankError(f"could not be written ({e})", self.path,
                                              "The file may be damaged; check it with `sqlite3 FILE 'PRAGMA integrity_check'`") from None
                    except BaseException:
                        self._rollback()
                        raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _rollback(self) -> None:
        try:
            self._con.execute("ROLLBACK")
        except sqlite3.OperationalError:
            pass  # no transaction left to roll back

    def _query(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return fn(self._con)
            except sqlite3.DatabaseError as e:
                if isinstance(e, sqlite3.OperationalError) and is_busy(e):
                    raise MemoryBankError(f"stayed locked for {self.busy_timeout:.0f} s ({e})", self.path,
                                          "Retry later, or raise busy_timeout") from None
                raise MemoryBankError(f"could not be read ({e})", self.path,
                                      "The file may be damaged; restore it from a backup or an export") from None

    # ------------------------------------------------------------------ reading
    def retrieve(self, query_embedding: np.ndarray, k: int = 1, *, exclude_task_ids: Iterable[str] = (),
                 status: str | None = None, source: str | None = None) -> list[Retrieved]:
        """The `k` stored experiences whose queries are most similar to `query_embedding`.

        Returns `Retrieved(experience, items, similarity)` best first (exact cosine; ties: older
        first). `exclude_task_ids` drops experiences of those tasks; `status` ("success" /
        "failure") and `source` keep only experiences with that verdict / method tag.
        The paper's default is k=1 (it found more items hurt slightly).
        """
        q = unit_vector(query_embedding, self.dim, "query embedding")
        if status is not None and status not in STATUSES:
            raise MemoryInputError(f"status must be 'success', 'failure' or None, got {status!r}")
        with self._lock:
            self._query(self._index.refresh)
            snap = self._index.snapshot()
            codes = self._index.task_codes
            exclude = [codes[t] for t in set(exclude_task_ids) if t in codes]
            source_code = None if source is None else self._index.source_codes.get(source, -1)
        hits = snap.top_k(q, k, exclude, status, source_code)
        if not hits:
            return []
        ids = [h[0] for h in hits]
        records = self._fetch(ids)
        return [Retrieved(records[i][0], records[i][1], sim) for i, sim in hits]

    def get(self, experience_id: int) -> tuple[Experience, list[MemoryItem]]:
        """One experience and its items, or KeyError."""
        found = self._fetch([experience_id])
        if experience_id not in found:
            raise UnknownExperienceError(f"no experience with id {experience_id} in {self.path}")
        return found[experience_id]

    def _fetch(self, ids: list[int]) -> dict[int, tuple[Experience, list[MemoryItem]]]:
        marks = ",".join("?" * len(ids))

        def read(con: sqlite3.Connection) -> dict[int, tuple[Experience, list[MemoryItem]]]:
            found = [experience_from_row(r) for r in
                     con.execute(f"SELECT {EXP_COLUMNS} FROM experiences WHERE id IN ({marks})", ids)]
            items = items_of(con, ids)
            return {e.id: (e, items.get(e.id, [])) for e in found}  # type: ignore[misc]

        return self._query(read)

    def experiences(self) -> list[Experience]:
        """Every experience, in insertion order."""
        return list(self.iter_experiences())

    def iter_experiences(self, batch: int = 1000) -> Iterator[Experience]:
        last = 0
        while True:
            rows = self._query(lambda c: c.execute(
                f"SELECT seq, {EXP_COLUMNS} FROM experiences WHERE seq > ? ORDER BY seq LIMIT ?", (last, batch)).fetchall())
            if not rows:
                return
            last = rows[-1][0]
            yield from (experience_from_row(r[1:]) for r in rows)

    def items(self, experience_id: int | None = None) -> list[MemoryItem]:
        """Every memory item in id order (or those of one experience)."""
        if experience_id is None:
            rows = self._query(lambda c: c.execute(f"SELECT {ITEM_COLUMNS} FROM items ORDER BY id").fetchall())
        else:
            rows = self._query(lambda c: c.execute(
                f"SELECT {ITEM_COLUMNS} FROM items WHERE experience_id = ? ORDER BY id", (experience_id,)).fetchall())
        return [item_from_row(r) for r in rows]

    def __len__(self) -> int:
        """The number of experiences (the unit retrieval ranks)."""
        return int(self._query(lambda c: c.execute("SELECT count(*) FROM experiences").fetchone()[0]))

    @property
    def num_items(self) -> int:
        return int(self._query(lambda c: c.execute("SELECT count(*) FROM items").fetchone()[0]))

    # ------------------------------------------------------------------ export / import
    def export_jsonl(self, path: str | os.PathLike) -> int:
        """Write every experience with its items, one JSON line each, in insertion order.

        Embeddings are base64 of the float32 little-endian bytes (exact). The file is written
        to a temporary name and renamed into place. Returns the number of lines.
        """
        return write_export(path, self._with_items(self.iter_experiences()))

    def _with_items(self, experiences: Iterable[Experience]) -> Iterator[tuple[Experience, list[MemoryItem]]]:
        """Each experience with its items, the items read for `EXPORT_BATCH` experiences at a time."""
        batch: list[Experience] = []
        for e in experiences:
            batch.append(e)
            if len(batch) == EXPORT_BATCH:
                yield from self._items_for(batch)
                batch = []
        yield from self._items_for(batch)

    def _items_for(self, batch: list[Experience]) -> list[tuple[Experience, list[MemoryItem]]]:
        items = self._query(lambda c: items_of(c, [e.id for e in batch]))  # type: ignore[misc]
        return [(e, items.get(e.id, [])) for e in batch]  # type: ignore[arg-type]

    def import_jsonl(self, path: str | os.PathLike, *, batch: int = 500) -> ImportSummary:
        """Append the experiences of an `export_jsonl` file.

        Ids are kept where they are free, so importing an export into an empty bank gives the
        same bank (and the same export). A line equal to a stored experience with its id (items
        included) is a duplicate and skipped, so re-importing is harmless; a line whose id is
        taken by a different record gets a new id (counted in `renumbered`). A malformed line
        is written to `PATH.rejects.jsonl` as {"line", "reason", "row"} and the import goes on.
        A missing file is an InputFileError.
        """
        rejects = RejectsFile(path)
        counts = {"imported": 0, "duplicates": 0, "renumbered": 0}
        pending: list[tuple[Experience, list[MemoryItem]]] = []
        try:
            for record in read_export(path, self.dim, rejects):
                pending.append(record)
                if len(pending) >= batch:
                    self._import(pending, counts)
                    pending = []
            self._import(pending, counts)
        except BaseException:
            rejects.abort()
            raise
        written = rejects.commit()
        return ImportSummary(counts["imported"], counts["duplicates"], counts["renumbered"], rejects.count,
                             None if written is None else Path(written))

    def _import(self, pending: list[tuple[Experience, list[MemoryItem]]], counts: dict[str, int]) -> None:
        if not pending:
            return
        rows = [(e, experience_row(e, self.dim), items) for e, items in pending]
        for key, n in self._write(lambda con: import_rows(con, rows)).items():
            counts[key] += n
