"""The memory bank's file: one SQLite database (WAL), its schema, its checks, its rows.

A bank file carries `PRAGMA application_id` = 0x45584D42 ("EXMB") and `user_version` = 1.
`check_header` refuses, before SQLite touches it, a file that is not SQLite, another
application's database or another schema version; `connect` refuses one that is not in WAL
mode or lacks the tables. A new bank is built in a temporary file and linked into place
(`create_bank_file`), so a bank file never exists half-made and is never overwritten.

Rows: an experience is `EXP_COLUMNS` with its embedding as float32 little-endian bytes; an
item is `ITEM_COLUMNS`. `experience_row` / `item_fields` check a record before it is written
(MemoryInputError names the field), `experience_from_row` / `item_from_row` read one back.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import MemoryBankError, MemoryInputError
from .records import STATUSES, Experience, MemoryItem, now

APPLICATION_ID = 0x45584D42  # "EXMB": experio memory bank
SCHEMA_VERSION = 1
DEFAULT_DIM = 384  # all-MiniLM-L6-v2
EXPORT_FORMAT = "experio.memory/1"
NORM_TOLERANCE = 1e-4
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
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
EXP_COLUMNS = "id, task_id, query, embedding, status, rationale, run_path, trajectory_id, source, created"
ITEM_COLUMNS = "id, experience_id, title, description, content, created"
INSERT_EXPERIENCE = ("INSERT INTO experiences(id, seq, task_id, query, embedding, status, rationale, run_path,"
                     " trajectory_id, source, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
INSERT_ITEM = "INSERT INTO items(id, experience_id, title, description, content, created) VALUES (?,?,?,?,?,?)"


# ---------------------------------------------------------------------- creating and opening
def create_bank_file(path: Path, dim: int) -> None:
    """Build a new bank in a temporary file, then link it into place (never over a file)."""
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise MemoryInputError(f"dim must be a positive integer, got {dim!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            con.executescript(SCHEMA)
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


def check_header(path: Path) -> None:
    """Refuse, before SQLite touches it, a file that is not a bank of this schema version."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as e:
        raise MemoryBankError(f"cannot be read ({e.strerror})", path, "Check the path and its permissions") from None
    if not head:
        raise MemoryBankError("is an empty file, not a memory bank", path,
                              "Delete it to let experio create a bank there, or choose another path")
    if not head.startswith(SQLITE_MAGIC):
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


def connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A connection to a checked bank file: WAL, busy timeout, foreign keys; its tables present."""
    try:
        con = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        mode = con.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            con.close()
            raise MemoryBankError(f"is in journal mode {mode!r}, not WAL, so it was not made by experio",
                                  path, "Use the file experio created, or another path")
        con.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        con.execute("PRAGMA synchronous = NORMAL")  # safe in WAL: a crash may lose the last commit, never corrupts
        con.execute("PRAGMA foreign_keys = ON")
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:
        raise MemoryBankError(f"is a damaged memory bank ({e})", path,
                              "Restore it from a backup or an export_jsonl file; "
                              "`sqlite3 FILE .recover` may save what is left") from None
    missing = {"meta", "experiences", "items"} - names
    if missing:
        con.close()
        raise MemoryBankError(f"lacks the table(s) {', '.join(sorted(missing))}", path,
                              "The file is damaged or was edited by hand; restore it from a backup")
    return con


def is_busy(e: sqlite3.OperationalError) -> bool:
    msg = str(e).lower()
    return "locked" in msg or "busy" in msg


# ---------------------------------------------------------------------- rows
def unit_vector(v: Any, dim: int, what: str) -> np.ndarray:
    """`v` as a float32 little-endian vector of `dim` values, L2-normalised (MemoryInputError if it cannot be)."""
    v = np.asarray(v, dtype=np.float32)
    if v.ndim == 2 and v.shape[0] == 1:
        v = v[0]
    if v.shape != (dim,):
        raise MemoryInputError(f"{what} has shape {v.shape}, this bank holds ({dim},) vectors")
    if not np.all(np.isfinite(v)):
        raise MemoryInputError(f"{what} holds NaN or infinite values")
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        raise MemoryInputError(f"{what} is all zeros; it has no direction to compare")
    if abs(norm - 1.0) > NORM_TOLERANCE:
        v = v / np.float32(norm)
    return np.ascontiguousarray(v, dtype="<f4")


def experience_row(e: Experience, dim: int) -> tuple:
    """The checked column values of an experience, without id and seq (`created` may be None)."""
    if not isinstance(e, Experience):
        raise MemoryInputError(f"expected an Experience, got {type(e).__name__}")
    for name in ("task_id", "query", "source"):
        value = getattr(e, name)
        if not isinstance(value, str) or not value.strip():
            raise MemoryInputError(f"experience {name} must be a non-empty string, got {value!r}")
    if e.status not in STATUSES:
        raise MemoryInputError(f"experience status must be 'success' or 'failure', got {e.status!r}")
    if not isinstance(e.rationale, str):
        raise MemoryInputError(f"experience rationale must be a string, got {type(e.rationale).__name__}")
    blob = unit_vector(e.embedding, dim, "experience embedding").tobytes()
    return (e.task_id, e.query, blob, e.status, e.rationale,
            None if e.run_path is None else str(e.run_path), e.trajectory_id, e.source, e.created)


def item_fields(item: MemoryItem) -> tuple[str, str, str]:
    """The checked title, description and content of a memory item."""
    if not isinstance(item, MemoryItem):
        raise MemoryInputError(f"expected a MemoryItem, got {type(item).__name__}")
    for name in ("title", "description", "content"):
        value = getattr(item, name)
        if not isinstance(value, str) or not value.strip():
            raise MemoryInputError(f"memory item {name} must be a non-empty string, got {value!r}")
    return item.title, item.description, item.content


def insert(con: sqlite3.Connection, seq: int, row: tuple, items: Sequence[tuple[int | None, tuple, float]],
           *, created: float, experience_id: int | None = None) -> int:
    """Insert one experience (`row` from `experience_row`) and its items `(id, fields, created)`; its id.

    `experience_id` and item ids of None are assigned by SQLite.
    """
    cur = con.execute(INSERT_EXPERIENCE, (experience_id, seq, *row[:-1], created))
    eid = int(cur.lastrowid)
    con.executemany(INSERT_ITEM, [(iid, eid, *fields, stamp) for iid, fields, stamp in items])
    return eid


def last_seq(con: sqlite3.Connection) -> int:
    """The last insertion sequence number (0 for an empty bank)."""
    return int(con.execute("SELECT coalesce(max(seq), 0) FROM experiences").fetchone()[0])


def experience_from_row(r: tuple) -> Experience:
    return Experience(task_id=r[1], query=r[2], embedding=np.frombuffer(r[3], dtype="<f4").astype(np.float32),
                      status=r[4], rationale=r[5], run_path=r[6], trajectory_id=r[7], source=r[8],
                      id=int(r[0]), created=float(r[9]))


def item_from_row(r: tuple) -> MemoryItem:
    return MemoryItem(title=r[2], description=r[3], content=r[4], id=int(r[0]), experience_id=int(r[1]),
                      created=float(r[5]))


def items_of(con: sqlite3.Connection, ids: Sequence[int]) -> dict[int, list[MemoryItem]]:
    """The items of the experiences `ids`, by experience id, each list in id order."""
    out: dict[int, list[MemoryItem]] = {}
    if not ids:
        return out
    marks = ",".join("?" * len(ids))
    for r in con.execute(f"SELECT {ITEM_COLUMNS} FROM items WHERE experience_id IN ({marks}) ORDER BY id", list(ids)):
        out.setdefault(r[1], []).append(item_from_row(r))
    return out
