"""A memory bank's export and import: JSONL, one experience with its items a line.

    {"format": "experio.memory/1", "id": 1, "task_id": ..., "query": ..., "status": "success",
     "rationale": ..., "run_path": ..., "trajectory_id": ..., "source": ..., "created": ...,
     "dim": 384, "embedding_b64": "<base64 of the float32 little-endian bytes>", "items": [...]}

Embeddings are exact (base64 of their bytes; a plain `"embedding": [numbers]` list is read too).
An export is written under a temporary name and renamed into place (`write_export`). An
import reads line by line (`read_export`): a malformed line goes to `PATH.rejects.jsonl`
(`experio.runs.RejectsFile`: `{"line", "reason", "row"}`, the row as read) and the import
goes on; `import_rows` appends what is good, keeping ids where they are free.
"""

from __future__ import annotations

import base64
import json
import math
import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from experio.errors import input_file
from experio.runs import RejectsFile

from .errors import ExportLineError, MemoryBankError
from .records import STATUSES, Experience, MemoryItem, now
from .storage import EXP_COLUMNS, EXPORT_FORMAT, INSERT_ITEM, ITEM_COLUMNS, experience_from_row, insert, item_fields, \
    item_from_row, last_seq


@dataclass(frozen=True)
class ImportSummary:
    """What `import_jsonl` did. `renumbered`: lines whose ids were taken by other records."""

    imported: int
    duplicates: int
    renumbered: int
    rejected: int
    rejects_path: Path | None


# ---------------------------------------------------------------------- one line
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
    """Parse one export line (a dict); ExportLineError names the first problem."""
    if not isinstance(d, dict):
        raise ExportLineError(f"a line must be a JSON object, got {type(d).__name__}")
    fmt = d.get("format", EXPORT_FORMAT)
    if fmt != EXPORT_FORMAT:
        raise ExportLineError(f"unknown format {fmt!r} (expected {EXPORT_FORMAT!r})")
    status = _text(d, "status")
    if status not in STATUSES:
        raise ExportLineError(f"field 'status' must be 'success' or 'failure', got {status!r}")
    e = Experience(task_id=_text(d, "task_id"), query=_text(d, "query"), embedding=_embedding(d, dim),
                   status=status,  # type: ignore[arg-type]
                   rationale=_text(d, "rationale", required=False, nonempty=False) or "",
                   run_path=_text(d, "run_path", required=False), trajectory_id=_text(d, "trajectory_id", required=False),
                   source=_text(d, "source", required=False) or "reasoningbank",
                   id=_ident(d.get("id"), "id"), created=_number(d.get("created"), "created"))
    return e, _items(d.get("items", []))


def _text(d: dict, key: str, required: bool = True, nonempty: bool = True) -> Any:
    if key not in d or d[key] is None:
        if required:
            raise ExportLineError(f"missing field {key!r}")
        return None
    v = d[key]
    if not isinstance(v, str):
        raise ExportLineError(f"field {key!r} must be a string, got {type(v).__name__}")
    if nonempty and not v.strip():
        raise ExportLineError(f"field {key!r} is empty")
    return v


def _number(v: Any, key: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ExportLineError(f"field {key!r} must be a finite number, got {v!r}")
    return float(v)


def _ident(v: Any, key: str) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ExportLineError(f"field {key!r} must be a positive integer, got {v!r}")
    return v


def _embedding(d: dict, dim: int) -> np.ndarray:
    if "embedding_b64" in d:
        raw = d["embedding_b64"]
        if not isinstance(raw, str):
            raise ExportLineError("field 'embedding_b64' must be a base64 string")
        try:
            buf = base64.b64decode(raw, validate=True)
        except ValueError:
            raise ExportLineError("field 'embedding_b64' is not valid base64") from None
        if len(buf) != 4 * dim:
            raise ExportLineError(f"embedding has {len(buf) // 4} values, the bank holds {dim}")
        emb = np.frombuffer(buf, dtype="<f4").astype(np.float32)
    elif "embedding" in d:
        vals = d["embedding"]
        if not isinstance(vals, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vals):
            raise ExportLineError("field 'embedding' must be a list of numbers")
        if len(vals) != dim:
            raise ExportLineError(f"embedding has {len(vals)} values, the bank holds {dim}")
        emb = np.asarray(vals, dtype=np.float32)
    else:
        raise ExportLineError("missing field 'embedding_b64' (or 'embedding')")
    if not np.all(np.isfinite(emb)) or not np.any(emb):
        raise ExportLineError("embedding holds NaN/infinite values or is all zeros")
    return emb


def _items(raw_items: Any) -> list[MemoryItem]:
    if not isinstance(raw_items, list):
        raise ExportLineError("field 'items' must be a list")
    items = []
    for j, it in enumerate(raw_items):
        if not isinstance(it, dict):
            raise ExportLineError(f"item {j} must be an object")
        fields = {}
        for key in ("title", "description", "content"):
            v = it.get(key)
            if not isinstance(v, str) or not v.strip():
                raise ExportLineError(f"item {j} field {key!r} must be a non-empty string")
            fields[key] = v
        items.append(MemoryItem(**fields, id=_ident(it.get("id"), f"items[{j}].id"),
                                created=_number(it.get("created"), f"items[{j}].created")))
    return items


# ---------------------------------------------------------------------- files
def write_export(path: str | os.PathLike, records: Iterable[tuple[Experience, Sequence[MemoryItem]]]) -> int:
    """Write one line per (experience, items) to `path` (temporary name, then renamed); the line count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    n = 0
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for e, items in records:
                f.write(json.dumps(experience_to_json(e, items), ensure_ascii=False) + "\n")
                n += 1
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def read_export(path: str | os.PathLike, dim: int, rejects: RejectsFile
                ) -> Iterator[tuple[Experience, list[MemoryItem]]]:
    """The good lines of an export file, in order; every bad one is added to `rejects`.

    A missing path or a folder is an InputFileError; a file that is not UTF-8 a MemoryBankError.
    """
    path = input_file(path, "export file")
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
                return
            lineno += 1
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                rejects.add(lineno, f"not valid JSON ({e.msg} at column {e.colno})", line.rstrip("\n"))
                continue
            try:
                parsed = experience_from_json(record, dim)
            except ExportLineError as e:
                rejects.add(lineno, str(e), line.rstrip("\n"))
                continue
            yield parsed


def import_rows(con: sqlite3.Connection, rows: Sequence[tuple[Experience, tuple, list[MemoryItem]]]) -> dict[str, int]:
    """Append (experience, its checked row, items) in an open transaction; the counts of what happened.

    Ids are kept where they are free. A line equal to the stored experience with its id (items
    included) is a duplicate and skipped; one whose id is taken by a different record gets a
    new id (`renumbered`, also counted as imported).
    """
    counts = {"imported": 0, "duplicates": 0, "renumbered": 0}
    seq = last_seq(con)
    for e, row, items in rows:
        eid = e.id
        if eid is not None:
            old = con.execute(f"SELECT {EXP_COLUMNS} FROM experiences WHERE id = ?", (eid,)).fetchone()
            if old is not None:
                old_items = [item_from_row(r) for r in con.execute(
                    f"SELECT {ITEM_COLUMNS} FROM items WHERE experience_id = ? ORDER BY id", (eid,))]
                if experience_from_row(old) == e and [i.to_dict() for i in old_items] == [i.to_dict() for i in items]:
                    counts["duplicates"] += 1
                    continue
                eid = None
                counts["renumbered"] += 1
        seq += 1
        created = now() if e.created is None else e.created
        eid = insert(con, seq, row, [], created=created, experience_id=eid)
        for item in items:  # one at a time: an item id is kept only if no item, imported or not, has it yet
            con.execute(INSERT_ITEM, (_free_item_id(con, item.id), eid, *item_fields(item),
                                      created if item.created is None else item.created))
        counts["imported"] += 1
    return counts


def _free_item_id(con: sqlite3.Connection, iid: int | None) -> int | None:
    """`iid` if no stored item has it, else None (a new id)."""
    if iid is not None and con.execute("SELECT 1 FROM items WHERE id = ?", (iid,)).fetchone():
        return None
    return iid
