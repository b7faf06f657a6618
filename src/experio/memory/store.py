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

Retrieval (as the official code: over past task queries, not items) is exact cosine top-k
over in-memory copies of every stored query embedding (float32, plus float16 for speed):
`experio.embed.exact_top_k_two_pass` scans the float16 copy, then re-ranks exactly (float64)
every row its proven error bound cannot rule out; ties go to the older experience (earlier
`created`, then insertion order). The in-memory matrices are loaded once and then extended with the rows it has not seen (by
insertion sequence) before each retrieval, so writes by this object, other threads and other
processes are all found; when nothing changed that costs one indexed `max(seq)` query.

No self-retrieval: an experience enters the index only when `store` commits it, i.e. after
its task ran and was judged. The official code adds the current query to the index before
the task runs, so a task can retrieve itself; here that cannot happen, and `retrieve` also
takes `exclude_task_ids` (e.g. the running task's id when a stream repeats tasks).

Concurrency: every write is one short `BEGIN IMMEDIATE` transaction; SQLite's busy timeout
waits for other writers and a retry loop covers what it does not. Threads may share one
`MemoryBank` (calls are serialised by a lock) or open their own; processes open their own.

Safety: a bank file carries `PRAGMA application_id` = 0x45584D42 ("EXMB") and
`user_version` = 1. A file that is not SQLite, another application's database, another
schema version or a corrupt bank raises `MemoryBankError` and is never written, migrated or
overwritten. A new bank is built in a temporary file and linked into place, so a bank file
never exists half-made.
"""

from __future__ import annotations

import base64
import json
import math
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np

from ..embed.topk import exact_top_k_two_pass, half_copy
from .errors import MemoryBankError
from .records import STATUSES, Experience, MemoryItem, Retrieved, now

APPLICATION_ID = 0x45584D42  # "EXMB": experio memory bank
SCHEMA_VERSION = 1
DEFAULT_DIM = 384  # all-MiniLM-L6-v2
EXPORT_FORMAT = "experio.memory/1"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_NORM_TOLERANCE = 1e-4
_LOAD_CHUNK = 50_000

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE experiences(
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,            -- insertion order: what the in-memory index follows
    task_id TEXT NOT NULL,
    query TEXT NOT NULL,
    embedding BLOB NOT NULL,                -- float32 little-endian, `dim` values, L2-normalised
    status TEXT NOT NULL CHECK (status IN ('success', 'failure')),
    rationale TEXT NOT NULL,
    run_path TEXT,                          -- the run's trajectories.jsonl (ADP)
    trajectory_id TEXT,                     -- the trajectory's id in it
    source TEXT NOT NULL,                   -- method tag
    created REAL NOT NULL                   -- seconds since the epoch
);
CREATE INDEX experiences_task ON experiences(task_id);
CREATE TABLE items(
    id INTEGER PRIMARY KEY,
    experience_id INTEGER NOT NULL REFERENCES experiences(id),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    content TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX items_experience ON items(experience_id, id);
"""
_EXP_COLUMNS = "id, task_id, query, embedding, status, rationale, run_path, trajectory_id, source, created"
_ITEM_COLUMNS = "id, experience_id, title, description, content, created"

T = TypeVar("T")


@dataclass(frozen=True)
class ImportSummary:
    """What `import_jsonl` did. `renumbered`: lines whose ids were taken by other records."""

    imported: int
    duplicates: int
    renumbered: int
    rejected: int
    rejects_path: Path | None


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
            _create(self.path, DEFAULT_DIM if dim is None else dim)
        _check_header(self.path)
        self._lock = threading.RLock()
        self._con = self._connect()
        self.dim = self._read_dim()
        if dim is not None and dim != self.dim:
            self._con.close()
            raise MemoryBankError(f"holds {self.dim}-dimensional embeddings, not {dim}", self.path,
                                  "Open it with the embedder it was built with, or use another path")
        self._index = _Index(self.dim)

    # ------------------------------------------------------------------ opening
    def _connect(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                  check_same_thread=False)
            mode = con.execute("PRAGMA journal_mode").fetchone()[0]
            if mode.lower() != "wal":
                con.close()
                raise MemoryBankError(f"is in journal mode {mode!r}, not WAL, so it was not made by experio",
                                      self.path, "Use the file experio created, or another path")
            con.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            con.execute("PRAGMA synchronous = NORMAL")  # safe in WAL: a crash may lose the last commit, never corrupts
            con.execute("PRAGMA foreign_keys = ON")
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as e:
            raise MemoryBankError(f"is a damaged memory bank ({e})", self.path,
                                  "Restore it from a backup or an export_jsonl file; "
                                  "`sqlite3 FILE .recover` may save what is left") from None
        missing = {"meta", "experiences", "items"} - names
        if missing:
            con.close()
            raise MemoryBankError(f"lacks the table(s) {', '.join(sorted(missing))}", self.path,
                                  "The file is damaged or was edited by hand; restore it from a backup")
        return con

    def _read_dim(self) -> int:
        row = self._query(lambda c: c.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone())
        if row is None or not str(row[0]).isdigit():
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
        rows = [(self._exp_row(e), [_item_fields(i) for i in items]) for e, items in records]

        def write(con: sqlite3.Connection) -> list[int]:
            seq = con.execute("SELECT coalesce(max(seq), 0) FROM experiences").fetchone()[0]
            stamp, ids = now(), []
            for erow, irows in rows:
                seq += 1
                created = stamp if erow[-1] is None else erow[-1]
                cur = con.execute(
                    "INSERT INTO experiences(seq, task_id, query, embedding, status, rationale, run_path,"
                    " trajectory_id, source, created) VALUES (?,?,?,?,?,?,?,?,?,?)", (seq, *erow[:-1], created))
                eid = int(cur.lastrowid)
                con.executemany("INSERT INTO items(experience_id, title, description, content, created)"
                                " VALUES (?,?,?,?,?)", [(eid, *f, stamp) for f in irows])
                ids.append(eid)
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
        fields = [_item_fields(i) for i in items]

        def write(con: sqlite3.Connection) -> list[int]:
            if con.execute("SELECT 1 FROM experiences WHERE id = ?", (experience_id,)).fetchone() is None:
                raise KeyError(f"no experience with id {experience_id} in {self.path}")
            stamp, out = now(), []
            for f in fields:
                cur = con.execute("INSERT INTO items(experience_id, title, description, content, created)"
                                  " VALUES (?,?,?,?,?)", (experience_id, *f, stamp))
                out.append(int(cur.lastrowid))
            return out

        return self._write(write)

    def _exp_row(self, e: Experience) -> tuple:
        if not isinstance(e, Experience):
            raise TypeError(f"expected an Experience, got {type(e).__name__}")
        for name in ("task_id", "query", "source"):
            value = getattr(e, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"experience {name} must be a non-empty string, got {value!r}")
        if e.status not in STATUSES:
            raise ValueError(f"experience status must be 'success' or 'failure', got {e.status!r}")
        if not isinstance(e.rationale, str):
            raise ValueError(f"experience rationale must be a string, got {type(e.rationale).__name__}")
        blob = self._vector(e.embedding, "experience embedding").tobytes()
        return (e.task_id, e.query, blob, e.status, e.rationale,
                None if e.run_path is None else str(e.run_path), e.trajectory_id, e.source, e.created)

    def _vector(self, v: Any, what: str) -> np.ndarray:
        v = np.asarray(v, dtype=np.float32)
        if v.ndim == 2 and v.shape[0] == 1:
            v = v[0]
        if v.shape != (self.dim,):
            raise ValueError(f"{what} has shape {v.shape}, this bank holds ({self.dim},) vectors")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{what} holds NaN or infinite values")
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            raise ValueError(f"{what} is all zeros; it has no direction to compare")
        if abs(norm - 1.0) > _NORM_TOLERANCE:
            v = v / np.float32(norm)
        return np.ascontiguousarray(v, dtype="<f4")

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one BEGIN IMMEDIATE transaction; retry while other writers hold the lock."""
        deadline, delay = time.monotonic() + self.busy_timeout, 0.002
        while True:
            with self._lock:
                try:
                    self._con.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as e:
                    if not _busy(e) or time.monotonic() > deadline:
                        raise MemoryBankError(f"stayed locked by another writer for {self.busy_timeout:.0f} s ({e})",
                                              self.path, "Retry later, or raise busy_timeout") from None
                    began = False
                else:
                    began = True
                if began:
                    try:
                        out = fn(self._con)
                        self._con.execute("COMMIT")
                        return out
                    except sqlite3.OperationalError as e:
                        self._rollback()
                        if not _busy(e) or time.monotonic() > deadline:
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
                if isinstance(e, sqlite3.OperationalError) and _busy(e):
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
        q = self._vector(query_embedding, "query embedding")
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be 'success', 'failure' or None, got {status!r}")
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
            raise KeyError(f"no experience with id {experience_id} in {self.path}")
        return found[experience_id]

    def _fetch(self, ids: list[int]) -> dict[int, tuple[Experience, list[MemoryItem]]]:
        marks = ",".join("?" * len(ids))

        def read(con: sqlite3.Connection) -> dict[int, tuple[Experience, list[MemoryItem]]]:
            exps = {r[0]: (_experience(r), []) for r in
                    con.execute(f"SELECT {_EXP_COLUMNS} FROM experiences WHERE id IN ({marks})", ids)}
            for r in con.execute(f"SELECT {_ITEM_COLUMNS} FROM items WHERE experience_id IN ({marks}) ORDER BY id", ids):
                exps[r[1]][1].append(_item(r))
            return exps

        return self._query(read)

    def experiences(self) -> list[Experience]:
        """Every experience, in insertion order."""
        return list(self.iter_experiences())

    def iter_experiences(self, batch: int = 1000) -> Iterator[Experience]:
        last = 0
        while True:
            rows = self._query(lambda c: c.execute(
                f"SELECT seq, {_EXP_COLUMNS} FROM experiences WHERE seq > ? ORDER BY seq LIMIT ?", (last, batch)).fetchall())
            if not rows:
                return
            last = rows[-1][0]
            yield from (_experience(r[1:]) for r in rows)

    def items(self, experience_id: int | None = None) -> list[MemoryItem]:
        """Every memory item in id order (or those of one experience)."""
        if experience_id is None:
            rows = self._query(lambda c: c.execute(f"SELECT {_ITEM_COLUMNS} FROM items ORDER BY id").fetchall())
        else:
            rows = self._query(lambda c: c.execute(
                f"SELECT {_ITEM_COLUMNS} FROM items WHERE experience_id = ? ORDER BY id", (experience_id,)).fetchall())
        return [_item(r) for r in rows]

    def __len__(self) -> int:
        """The number of experiences (the unit retrieval ranks)."""
        return int(self._query(lambda c: c.execute("SELECT count(*) FROM experiences").fetchone()[0]))

    @property
    def num_items(self) -> int:
        return int(self._query(lambda c: c.execute("SELECT count(*) FROM items").fetchone()[0]))

    def task_ids(self) -> set[str]:
        """Tasks with at least one stored experience."""
        return {r[0] for r in self._query(lambda c: c.execute("SELECT DISTINCT task_id FROM experiences").fetchall())}

    # ------------------------------------------------------------------ export / import
    def export_jsonl(self, path: str | os.PathLike) -> int:
        """Write every experience with its items, one JSON line each, in insertion order.

        Embeddings are base64 of the float32 little-endian bytes (exact). The file is written
        to a temporary name and renamed into place. Returns the number of lines.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        n = 0
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                batch: list[Experience] = []
                for e in self.iter_experiences():
                    batch.append(e)
                    if len(batch) == 1000:
                        n += self._export_batch(f, batch)
                        batch = []
                n += self._export_batch(f, batch)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return n

    def _export_batch(self, f: Any, batch: list[Experience]) -> int:
        if not batch:
            return 0
        ids = [e.id for e in batch]
        marks = ",".join("?" * len(ids))
        rows = self._query(lambda c: c.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE experience_id IN ({marks}) ORDER BY id", ids).fetchall())
        by_exp: dict[int, list[MemoryItem]] = {}
        for r in rows:
            by_exp.setdefault(r[1], []).append(_item(r))
        for e in batch:
            f.write(json.dumps(experience_to_json(e, by_exp.get(e.id or 0, [])), ensure_ascii=False) + "\n")
        return len(batch)

    def import_jsonl(self, path: str | os.PathLike, *, batch: int = 500) -> ImportSummary:
        """Append the experiences of an `export_jsonl` file.

        Ids are kept where they are free, so importing an export into an empty bank gives the
        same bank (and the same export). A line equal to a stored experience with its id (items
        included) is a duplicate and skipped, so re-importing is harmless; a line whose id is
        taken by a different record gets a new id (counted in `renumbered`). A malformed line
        is written to `PATH.rejects.jsonl` as {"line", "reason", "text"} and the import goes on.
        """
        path = Path(path)
        rejects_path = Path(f"{path}.rejects.jsonl")
        rejects: list[dict[str, Any]] = []
        counts = {"imported": 0, "duplicates": 0, "renumbered": 0}
        pending: list[tuple[Experience, list[MemoryItem]]] = []
        try:
            fh = open(path, encoding="utf-8", errors="strict")
        except OSError as e:
            raise MemoryBankError(f"cannot be read ({e.strerror})", path, "Check the path") from None
        with fh:
            lineno = 0
            while True:
                try:
                    line = fh.readline()
                except UnicodeDecodeError as e:
                    raise MemoryBankError(f"is not UTF-8 text (after line {lineno}: {e.reason})", path,
                                          "Pass a file written by export_jsonl") from None
                if not line:
                    break
                lineno += 1
                if not line.strip():
                    continue
                try:
                    pending.append(experience_from_json(json.loads(line), self.dim))
                except json.JSONDecodeError as e:
                    rejects.append({"line": lineno, "reason": f"not valid JSON ({e.msg} at column {e.colno})", "text": line.rstrip("\n")})
                except (ValueError, TypeError, KeyError) as e:
                    rejects.append({"line": lineno, "reason": str(e), "text": line.rstrip("\n")})
                if len(pending) >= batch:
                    self._import_batch(pending, counts)
                    pending = []
        self._import_batch(pending, counts)
        if rejects:
            tmp = rejects_path.with_name(f".{rejects_path.name}.{uuid.uuid4().hex[:8]}.tmp")
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects), encoding="utf-8")
            os.replace(tmp, rejects_path)
        else:
            rejects_path.unlink(missing_ok=True)  # a stale list from an earlier import of this file
        return ImportSummary(counts["imported"], counts["duplicates"], counts["renumbered"], len(rejects),
                             rejects_path if rejects else None)

    def _import_batch(self, pending: list[tuple[Experience, list[MemoryItem]]], counts: dict[str, int]) -> None:
        if not pending:
            return
        rows = [(e, self._exp_row(e), items) for e, items in pending]

        def write(con: sqlite3.Connection) -> None:
            seq = con.execute("SELECT coalesce(max(seq), 0) FROM experiences").fetchone()[0]
            for e, erow, items in rows:
                eid = e.id
                if eid is not None:
                    old = con.execute(f"SELECT {_EXP_COLUMNS} FROM experiences WHERE id = ?", (eid,)).fetchone()
                    if old is not None:
                        old_items = [_item(r) for r in con.execute(
                            f"SELECT {_ITEM_COLUMNS} FROM items WHERE experience_id = ? ORDER BY id", (eid,))]
                        if _experience(old) == e and [i.to_dict() for i in old_items] == [i.to_dict() for i in items]:
                            counts["duplicates"] += 1
                            continue
                        eid = None
                        counts["renumbered"] += 1
                seq += 1
                created = now() if e.created is None else e.created
                cur = con.execute(
                    "INSERT INTO experiences(id, seq, task_id, query, embedding, status, rationale, run_path,"
                    " trajectory_id, source, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)", (eid, seq, *erow[:-1], created))
                eid = int(cur.lastrowid)
                for item in items:
                    iid = item.id
                    if iid is not None and con.execute("SELECT 1 FROM items WHERE id = ?", (iid,)).fetchone():
                        iid = None
                    con.execute("INSERT INTO items(id, experience_id, title, description, content, created)"
                                " VALUES (?,?,?,?,?,?)", (iid, eid, *_item_fields(item),
                                                          created if item.created is None else item.created))
                counts["imported"] += 1

        self._write(write)


# ---------------------------------------------------------------------- the in-memory index
class _Snapshot:
    """Views of the index's arrays at one moment (rows are only ever appended)."""

    def __init__(self, index: "_Index") -> None:
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


class _Index:
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

    def snapshot(self) -> _Snapshot:
        return _Snapshot(self)

    def refresh(self, con: sqlite3.Connection) -> None:
        """Load the rows stored (by anyone) since the last refresh."""
        top = con.execute("SELECT coalesce(max(seq), 0) FROM experiences").fetchone()[0]
        if top == self.last_seq:
            return
        cur = con.execute("SELECT seq, id, task_id, embedding, status, source, created FROM experiences"
                          " WHERE seq > ? ORDER BY seq", (self.last_seq,))
        while rows := cur.fetchmany(_LOAD_CHUNK):
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


# ---------------------------------------------------------------------- file creation and checks
def _create(path: Path, dim: int) -> None:
    """Build a new bank in a temporary file, then link it into place (never over a file)."""
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            con.executescript(_SCHEMA)
            con.executemany("INSERT INTO meta(key, value) VALUES (?, ?)",
                            [("dim", str(dim)), ("created", repr(now())), ("format", EXPORT_FORMAT)])
            con.execute("PRAGMA journal_mode = WAL")
        finally:
            con.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: theirs is checked like any existing file
        except OSError:
            # No hard links here (some network or FUSE file systems): an exclusive create is
            # the next best no-clobber step.
            with open(path, "xb") as out, open(tmp, "rb") as src:
                out.write(src.read())
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)


def _check_header(path: Path) -> None:
    """Refuse, before SQLite touches it, a file that is not a bank of this schema version."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as e:
        raise MemoryBankError(f"cannot be read ({e.strerror})", path, "Check the path and its permissions") from None
    if not head:
        raise MemoryBankError("is an empty file, not a memory bank", path,
                              "Delete it to let experio create a bank there, or choose another path")
    if not head.startswith(_SQLITE_MAGIC):
        raise MemoryBankError("is not a SQLite file, so not a memory bank", path,
                              "Choose another path for the bank, or move this file away")
    if len(head) < 100:
        raise MemoryBankError("is a truncated SQLite file", path, "Restore it from a backup")
    user_version = int.from_bytes(head[60:64], "big")
    app_id = int.from_bytes(head[68:72], "big")
    if app_id != APPLICATION_ID:
        raise MemoryBankError(
            f"is a SQLite database of another application (application_id {app_id:#010x}, "
            f"a memory bank has {APPLICATION_ID:#010x})", path,
            "Choose another path for the bank; experio will not write into another program's database")
    if user_version != SCHEMA_VERSION:
        newer = user_version > SCHEMA_VERSION
        raise MemoryBankError(
            f"is a memory bank of schema version {user_version}; this experio reads version {SCHEMA_VERSION}",
            path, "Upgrade experio to open it" if newer else
            "Export it with the experio version that wrote it (export_jsonl) and import it here")


def _busy(e: sqlite3.OperationalError) -> bool:
    msg = str(e).lower()
    return "locked" in msg or "busy" in msg


# ---------------------------------------------------------------------- rows and JSON
def _item_fields(item: MemoryItem) -> tuple[str, str, str]:
    if not isinstance(item, MemoryItem):
        raise TypeError(f"expected a MemoryItem, got {type(item).__name__}")
    for name in ("title", "description", "content"):
        value = getattr(item, name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"memory item {name} must be a non-empty string, got {value!r}")
    return item.title, item.description, item.content


def _experience(r: tuple) -> Experience:
    return Experience(task_id=r[1], query=r[2], embedding=np.frombuffer(r[3], dtype="<f4").astype(np.float32),
                      status=r[4], rationale=r[5], run_path=r[6], trajectory_id=r[7], source=r[8],
                      id=int(r[0]), created=float(r[9]))


def _item(r: tuple) -> MemoryItem:
    return MemoryItem(title=r[2], description=r[3], content=r[4], id=int(r[0]), experience_id=int(r[1]),
                      created=float(r[5]))


def experience_to_json(e: Experience, items: Sequence[MemoryItem]) -> dict[str, Any]:
    """One export line: the experience, its embedding as base64 float32, its items."""
    emb = np.ascontiguousarray(e.embedding, dtype="<f4")
    return {
        "format": EXPORT_FORMAT, "id": e.id, "task_id": e.task_id, "query": e.query, "status": e.status,
        "rationale": e.rationale, "run_path": e.run_path, "trajectory_id": e.trajectory_id, "source": e.source,
        "created": e.created, "dim": int(emb.shape[0]), "embedding_b64": base64.b64encode(emb.tobytes()).decode("ascii"),
        "items": [i.to_dict() for i in items],
    }


def experience_from_json(d: Any, dim: int) -> tuple[Experience, list[MemoryItem]]:
    """Parse one export line (a dict); ValueError/TypeError names the first problem."""
    if not isinstance(d, dict):
        raise TypeError(f"a line must be a JSON object, got {type(d).__name__}")
    fmt = d.get("format", EXPORT_FORMAT)
    if fmt != EXPORT_FORMAT:
        raise ValueError(f"unknown format {fmt!r} (expected {EXPORT_FORMAT!r})")

    def text(key: str, required: bool = True, nonempty: bool = True) -> str | None:
        if key not in d or d[key] is None:
            if required:
                raise KeyError(f"missing field {key!r}")
            return None
        v = d[key]
        if not isinstance(v, str):
            raise TypeError(f"field {key!r} must be a string, got {type(v).__name__}")
        if nonempty and not v.strip():
            raise ValueError(f"field {key!r} is empty")
        return v

    def number(v: Any, key: str) -> float | None:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise TypeError(f"field {key!r} must be a finite number, got {v!r}")
        return float(v)

    def ident(v: Any, key: str) -> int | None:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise TypeError(f"field {key!r} must be a positive integer, got {v!r}")
        return v

    status = text("status")
    if status not in STATUSES:
        raise ValueError(f"field 'status' must be 'success' or 'failure', got {status!r}")
    if "embedding_b64" in d:
        raw = d["embedding_b64"]
        if not isinstance(raw, str):
            raise TypeError("field 'embedding_b64' must be a base64 string")
        try:
            buf = base64.b64decode(raw, validate=True)
        except ValueError:
            raise ValueError("field 'embedding_b64' is not valid base64") from None
        if len(buf) != 4 * dim:
            raise ValueError(f"embedding has {len(buf) // 4} values, the bank holds {dim}")
        emb = np.frombuffer(buf, dtype="<f4").astype(np.float32)
    elif "embedding" in d:
        vals = d["embedding"]
        if not isinstance(vals, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vals):
            raise TypeError("field 'embedding' must be a list of numbers")
        if len(vals) != dim:
            raise ValueError(f"embedding has {len(vals)} values, the bank holds {dim}")
        emb = np.asarray(vals, dtype=np.float32)
    else:
        raise KeyError("missing field 'embedding_b64' (or 'embedding')")
    if not np.all(np.isfinite(emb)) or not np.any(emb):
        raise ValueError("embedding holds NaN/infinite values or is all zeros")
    raw_items = d.get("items", [])
    if not isinstance(raw_items, list):
        raise TypeError("field 'items' must be a list")
    items = []
    for j, it in enumerate(raw_items):
        if not isinstance(it, dict):
            raise TypeError(f"item {j} must be an object")
        fields = {}
        for key in ("title", "description", "content"):
            v = it.get(key)
            if not isinstance(v, str) or not v.strip():
                raise ValueError(f"item {j} field {key!r} must be a non-empty string")
            fields[key] = v
        items.append(MemoryItem(**fields, id=ident(it.get("id"), f"items[{j}].id"),
                                created=number(it.get("created"), f"items[{j}].created")))
    e = Experience(task_id=text("task_id"), query=text("query"), embedding=emb, status=status,  # type: ignore[arg-type]
                   rationale=text("rationale", required=False, nonempty=False) or "",
                   run_path=text("run_path", required=False), trajectory_id=text("trajectory_id", required=False),
                   source=text("source", required=False) or "reasoningbank",
                   id=ident(d.get("id"), "id"), created=number(d.get("created"), "created"))
    return e, items
