"""The agent's durable state: one SQLite file in the state directory, held by one agent at a time.

* ``fingerprint`` — per (txcode, ID) the SM3 digest and canonical bytes of the record last queued: the
  source is never touched, inserts/updates/deletes are found by comparing against it;
* ``batch`` — the outbox: every queued batch (Appendix B body) until acknowledged, with its receipt, or
  quarantined with the server's violations;
* ``seq`` — the batchNo daily sequence (D-A.2), so numbers are never reused across restarts;
* ``quarantine`` — rows refused locally (schema, transform) or by the server, with source key and reason;
* ``cycle`` — per txcode, when its last scan and last acknowledgement succeeded (D-5.4 overdue check).

A batch is inserted in the same transaction that moves the fingerprints, so an agent killed at any point
either queued a change (and will send it until acknowledged) or did not (and detects it again).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from qcchain_core.canonical import canonical_json

from .errors import StateError

__all__ = ["Store", "Batch", "Change", "MAX_SEQ"]

MAX_SEQ = 99_999_999
_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fingerprint(
  txcode TEXT NOT NULL, id TEXT NOT NULL, digest BLOB NOT NULL, record BLOB NOT NULL,
  PRIMARY KEY (txcode, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batch(
  batch_no TEXT PRIMARY KEY, txcode TEXT NOT NULL, bus_type TEXT NOT NULL, payload BLOB NOT NULL,
  items TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
  receipt TEXT, violations TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, send_order TEXT);
CREATE INDEX IF NOT EXISTS batch_state ON batch(state, batch_no);
CREATE TABLE IF NOT EXISTS seq(day TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine(
  txcode TEXT NOT NULL, id TEXT NOT NULL, digest BLOB NOT NULL, source_key TEXT NOT NULL,
  reason TEXT NOT NULL, origin TEXT NOT NULL, batch_no TEXT, at TEXT NOT NULL,
  PRIMARY KEY (txcode, id, digest));
CREATE TABLE IF NOT EXISTS cycle(
  txcode TEXT PRIMARY KEY, last_scan TEXT, last_ack TEXT, full_done INTEGER NOT NULL DEFAULT 0);
"""


@dataclass(frozen=True)
class Change:
    """One detected change: the record (without batchNo/busType) and the fingerprint it replaces."""

    id: str
    prev: bytes | None  # digest before (None: insert)
    digest: bytes | None  # digest after (None: delete)
    record: dict[str, Any]
    canonical: bytes  # canonical bytes of ``record`` (kept as the new fingerprint's record)


@dataclass(frozen=True)
class Batch:
    """One outbox batch."""

    batch_no: str
    txcode: str
    bus_type: str
    data: list[dict[str, Any]]
    items: list[list[Any]]  # [id, prev digest hex | None, new digest hex | None] per record
    state: str
    attempts: int
    last_error: str | None
    receipt: dict[str, Any] | None
    violations: list[Any] | None


def _hex(value: bytes | None) -> str | None:
    return value.hex() if value is not None else None


class Store:
    """The state database of one agent (exclusive: a second agent on the same directory is refused).

    Raises (constructor):
        StateError: the directory cannot be created, is locked by another agent, or the database is unusable.
    """

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.dir / "agent.lock", "a+")  # noqa: SIM115 - held for the Store's life
        except OSError as exc:
            raise StateError(f"state directory {self.dir} is not usable: {exc.strerror}") from exc
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise StateError(f"state directory {self.dir} is in use by another agent") from None
        try:
            self.db = sqlite3.connect(self.dir / "state.sqlite3", isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA temp_store=MEMORY")  # the per-scan seen set (~50 bytes per row)
            self.db.executescript(_SCHEMA)
            if "send_order" not in {r[1] for r in self.db.execute("PRAGMA table_info(batch)")}:
                self.db.execute("ALTER TABLE batch ADD COLUMN send_order TEXT")  # state written before it existed
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS seen(txcode TEXT, id TEXT, digest BLOB, "
                            "PRIMARY KEY (txcode, id)) WITHOUT ROWID")
        except sqlite3.Error as exc:
            self._lock.close()
            raise StateError(f"state database in {self.dir} is unusable: {exc}") from exc
        os.chmod(self.dir / "state.sqlite3", 0o600)

    def close(self) -> None:
        """Close the database and release the directory lock."""
        self.db.close()
        self._lock.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction (rolled back if the block raises)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- fingerprints and the per-scan "seen" set ---------------------------------------------------
    def fingerprints(self, txcode: str, ids: Sequence[str]) -> dict[str, bytes]:
        """The stored digest of each of ``ids`` that has one."""
        out: dict[str, bytes] = {}
        for start in range(0, len(ids), _CHUNK):
            part = ids[start:start + _CHUNK]
            marks = ",".join("?" * len(part))
            out.update(self.db.execute(f"SELECT id, digest FROM fingerprint WHERE txcode=? AND id IN ({marks})",
                                       (txcode, *part)))
        return out

    def count_fingerprints(self, txcode: str | None = None) -> int:
        """How many records are fingerprinted (for one txcode or all)."""
        if txcode is None:
            return int(self.db.execute("SELECT count(*) FROM fingerprint").fetchone()[0])
        return int(self.db.execute("SELECT count(*) FROM fingerprint WHERE txcode=?", (txcode,)).fetchone()[0])

    def iter_fingerprints(self, txcode: str) -> Iterator[tuple[str, bytes, bytes]]:
        """(id, digest, canonical record) of every fingerprinted record of ``txcode``."""
        yield from self.db.execute("SELECT id, digest, record FROM fingerprint WHERE txcode=? ORDER BY id", (txcode,))

    def start_scan(self, txcode: str) -> None:
        """Forget the IDs seen by a previous scan of ``txcode``."""
        self.db.execute("DELETE FROM seen WHERE txcode=?", (txcode,))

    def mark_seen(self, txcode: str, rows: Sequence[tuple[str, bytes]]) -> dict[str, bytes]:
        """Record ``(id, digest)`` as seen in this scan; returns the digest already seen for IDs met before."""
        ids = [r[0] for r in rows]
        before: dict[str, bytes] = {}
        for start in range(0, len(ids), _CHUNK):
            part = ids[start:start + _CHUNK]
            marks = ",".join("?" * len(part))
            before.update(self.db.execute(f"SELECT id, digest FROM seen WHERE txcode=? AND id IN ({marks})",
                                          (txcode, *part)))
        self.db.executemany("INSERT OR IGNORE INTO seen(txcode, id, digest) VALUES (?,?,?)",
                            [(txcode, i, d) for i, d in rows])
        return before

    def unseen(self, txcode: str) -> Iterator[tuple[str, bytes, bytes]]:
        """(id, digest, record) of fingerprinted records of ``txcode`` not seen in this scan (deleted at source)."""
        yield from self.db.execute(
            "SELECT f.id, f.digest, f.record FROM fingerprint f WHERE f.txcode=? AND NOT EXISTS "
            "(SELECT 1 FROM seen s WHERE s.txcode=f.txcode AND s.id=f.id) ORDER BY f.id", (txcode,)).fetchall()

    # -- quarantine ----------------------------------------------------------------------------------
    def quarantined(self, txcode: str, ids: Sequence[str]) -> set[tuple[str, bytes]]:
        """(id, digest) pairs of ``ids`` already quarantined."""
        out: set[tuple[str, bytes]] = set()
        for start in range(0, len(ids), _CHUNK):
            part = ids[start:start + _CHUNK]
            marks = ",".join("?" * len(part))
            out.update(self.db.execute(f"SELECT id, digest FROM quarantine WHERE txcode=? AND id IN ({marks})",
                                       (txcode, *part)))
        return out

    def has_quarantine(self, txcode: str) -> bool:
        """Whether any row of ``txcode`` is quarantined."""
        return self.db.execute("SELECT 1 FROM quarantine WHERE txcode=? LIMIT 1", (txcode,)).fetchone() is not None

    def quarantine(self, rows: Iterable[tuple[str, str, bytes, str, str, str, str | None]], at: str) -> None:
        """Add (txcode, id, digest, source_key, reason, origin, batch_no) rows."""
        self.db.executemany("INSERT OR REPLACE INTO quarantine VALUES (?,?,?,?,?,?,?,?)",
                            [(*r, at) for r in rows])

    def list_quarantine(self) -> list[dict[str, Any]]:
        """Every quarantined row, oldest first."""
        cur = self.db.execute("SELECT txcode, id, source_key, reason, origin, batch_no, at FROM quarantine "
                              "ORDER BY at, txcode, id")
        keys = ("txcode", "id", "source_key", "reason", "origin", "batch_no", "at")
        return [dict(zip(keys, row)) for row in cur]

    # -- outbox ----------------------------------------------------------------------------------
    def next_batch_no(self, day: str) -> str:
        """Allocate the next batchNo of ``day`` (YYYYMMDD); call inside :meth:`transaction`.

        Raises:
            StateError: the day's 8-digit sequence is exhausted.
        """
        row = self.db.execute("SELECT last FROM seq WHERE day=?", (day,)).fetchone()
        last = (row[0] if row else 0) + 1
        if last > MAX_SEQ:
            raise StateError(f"batch sequence of {day} exhausted")
        self.db.execute("INSERT OR REPLACE INTO seq(day, last) VALUES (?,?)", (day, last))
        return f"{day}{last:08d}"

    def enqueue(self, txcode: str, bus_type: str, changes: Sequence[Change], day: str, update_date: str,
                now: str) -> str:
        """Queue one batch of ``changes`` and move their fingerprints, atomically; returns its batchNo."""
        with self.transaction():
            batch_no = self.next_batch_no(day)
            data = [{**c.record, "updateDate": c.record.get("updateDate", update_date), "batchNo": batch_no,
                     "busType": bus_type} for c in changes]
            items = [[c.id, _hex(c.prev), _hex(c.digest)] for c in changes]
            self.db.execute("INSERT INTO batch(batch_no, txcode, bus_type, payload, items, state, created_at, updated_at)"
                            " VALUES (?,?,?,?,?,'pending',?,?)",
                            (batch_no, txcode, bus_type, canonical_json(data), json.dumps(items), now, now))
            if bus_type == "D":
                self.db.executemany("DELETE FROM fingerprint WHERE txcode=? AND id=?", [(txcode, c.id) for c in changes])
            else:
                self.db.executemany("INSERT OR REPLACE INTO fingerprint VALUES (?,?,?,?)",
                                    [(txcode, c.id, c.digest, c.canonical) for c in changes])
            self.db.executemany("DELETE FROM quarantine WHERE txcode=? AND id=?", [(txcode, c.id) for c in changes])
        return batch_no

    def _batch(self, row: Sequence[Any]) -> Batch:
        return Batch(batch_no=row[0], txcode=row[1], bus_type=row[2], data=json.loads(row[3]), items=json.loads(row[4]),
                     state=row[5], attempts=row[6], last_error=row[7],
                     receipt=json.loads(row[8]) if row[8] else None, violations=json.loads(row[9]) if row[9] else None)

    _COLS = "batch_no, txcode, bus_type, payload, items, state, attempts, last_error, receipt, violations"

    def pending(self) -> list[str]:
        """batchNos of the unacknowledged batches, in sending order (batchNo order, except that a refused
        batch's re-queued remainder takes its original's place: see :meth:`requeue`)."""
        return [r[0] for r in self.db.execute("SELECT batch_no FROM batch WHERE state='pending' "
                                              "ORDER BY coalesce(send_order, batch_no), batch_no")]

    def requeue(self, original: str, data: list[dict[str, Any]], items: list[list[Any]], day: str, now: str) -> str:
        """Queue the remainder of the refused batch ``original`` under a new batchNo that is sent where
        ``original`` stood — before every batch queued after it, also after a restart; call inside
        :meth:`transaction`. ``data`` are the records without their batchNo. Returns the new batchNo.

        Raises:
            KeyError: no batch ``original``. StateError: the day's sequence is exhausted.
        """
        row = self.db.execute("SELECT txcode, bus_type, coalesce(send_order, batch_no) FROM batch WHERE batch_no=?",
                              (original,)).fetchone()
        if row is None:
            raise KeyError(original)
        batch_no = self.next_batch_no(day)
        payload = [{**record, "batchNo": batch_no} for record in data]
        # "<place of the original>r" sorts right after the original and before the next batchNo
        self.db.execute("INSERT INTO batch(batch_no, txcode, bus_type, payload, items, state, created_at, updated_at,"
                        " send_order) VALUES (?,?,?,?,?,'pending',?,?,?)",
                        (batch_no, row[0], row[1], canonical_json(payload), json.dumps(items), now, now, row[2] + "r"))
        return batch_no

    def batch(self, batch_no: str) -> Batch:
        """One batch. Raises KeyError: no such batch."""
        row = self.db.execute(f"SELECT {self._COLS} FROM batch WHERE batch_no=?", (batch_no,)).fetchone()
        if row is None:
            raise KeyError(batch_no)
        return self._batch(row)

    def attempted(self, batch_no: str, error: str | None, now: str) -> None:
        """Count one send attempt of ``batch_no`` (with the transient error, if any)."""
        self.db.execute("UPDATE batch SET attempts=attempts+1, last_error=?, updated_at=? WHERE batch_no=?",
                        (error, now, batch_no))

    def acknowledge(self, batch_no: str, receipt: dict[str, Any], now: str) -> None:
        """Mark ``batch_no`` acknowledged with its verified receipt; it is never sent again."""
        with self.transaction():
            txcode = self.db.execute("SELECT txcode FROM batch WHERE batch_no=?", (batch_no,)).fetchone()[0]
            self.db.execute("UPDATE batch SET state='acked', receipt=?, last_error=NULL, updated_at=? WHERE batch_no=?",
                            (json.dumps(receipt, ensure_ascii=False, sort_keys=True), now, batch_no))
            self.db.execute("INSERT INTO cycle(txcode, last_ack) VALUES (?,?) ON CONFLICT(txcode) DO UPDATE SET "
                            "last_ack=excluded.last_ack", (txcode, now))

    def counts(self) -> dict[str, int]:
        """Number of batches per state."""
        return {state: n for state, n in self.db.execute("SELECT state, count(*) FROM batch GROUP BY state")}

    def batches(self, state: str | None = None) -> list[Batch]:
        """All batches (or those in ``state``), in batchNo order."""
        where, args = ("WHERE state=?", (state,)) if state else ("", ())
        return [self._batch(r) for r in self.db.execute(f"SELECT {self._COLS} FROM batch {where} ORDER BY batch_no", args)]

    # -- cycles ----------------------------------------------------------------------------------
    def cycle_info(self, txcode: str) -> dict[str, Any]:
        """``last_scan``, ``last_ack`` (ISO times or None) and ``full_done`` of ``txcode``."""
        row = self.db.execute("SELECT last_scan, last_ack, full_done FROM cycle WHERE txcode=?", (txcode,)).fetchone()
        return {"last_scan": row[0], "last_ack": row[1], "full_done": bool(row[2])} if row else \
            {"last_scan": None, "last_ack": None, "full_done": False}

    def scanned(self, txcode: str, now: str) -> None:
        """Record a complete scan of ``txcode`` (every change queued)."""
        self.db.execute("INSERT INTO cycle(txcode, last_scan, full_done) VALUES (?,?,1) ON CONFLICT(txcode) DO UPDATE "
                        "SET last_scan=excluded.last_scan, full_done=1", (txcode, now))
