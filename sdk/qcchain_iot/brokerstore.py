"""The embedded broker's durable state (SQLite, WAL, ``synchronous=FULL``): persistent sessions, their
subscriptions and the QoS 1 messages queued for them.

A message routed to a persistent session is inserted here and committed BEFORE the publisher gets its
PUBACK; it is deleted only after the subscriber's PUBACK. A broker restart (or crash) therefore loses no
acknowledged message: everything still queued is reloaded by :meth:`BrokerStore.load` and redelivered.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["BrokerStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (client_id TEXT PRIMARY KEY, username TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (client_id TEXT NOT NULL, filter TEXT NOT NULL, qos INTEGER NOT NULL,
    PRIMARY KEY (client_id, filter));
CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY, client_id TEXT NOT NULL,
    topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ix_queue_client ON queue (client_id, id);
"""


class BrokerStore:
    """One SQLite file; every method commits or raises sqlite3.Error."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def load(self) -> tuple[dict[str, tuple[str, dict[str, int]]], dict[str, list[tuple[int, str, bytes, int]]]]:
        """(client id -> (username, {filter: qos})) of every persistent session, and (client id -> its
        queued ``(row id, topic, payload, qos)`` in order)."""
        sessions: dict[str, tuple[str, dict[str, int]]] = {
            cid: (user, {}) for cid, user in self.db.execute("SELECT client_id, username FROM sessions")}
        for cid, flt, qos in self.db.execute("SELECT client_id, filter, qos FROM subscriptions"):
            if cid in sessions:
                sessions[cid][1][flt] = qos
        queued: dict[str, list[tuple[int, str, bytes, int]]] = {}
        for row_id, cid, topic, payload, qos in self.db.execute(
                "SELECT id, client_id, topic, payload, qos FROM queue ORDER BY id"):
            queued.setdefault(cid, []).append((row_id, topic, bytes(payload), qos))
        return sessions, queued

    def next_id(self) -> int:
        """The row id the next queued message gets."""
        return int(self.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM queue").fetchone()[0])

    def save_session(self, client_id: str, username: str, subscriptions: dict[str, int]) -> None:
        """Create or replace a persistent session (bound to ``username``) and its subscriptions."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?)", (client_id, username))
            self.db.execute("DELETE FROM subscriptions WHERE client_id = ?", (client_id,))
            self.db.executemany("INSERT INTO subscriptions VALUES (?, ?, ?)",
                                [(client_id, f, q) for f, q in sorted(subscriptions.items())])

    def drop_session(self, client_id: str) -> None:
        """Forget a session, its subscriptions and its queue (a clean-session connect)."""
        with self.db:
            self.db.execute("BEGIN")
            for table in ("sessions", "subscriptions", "queue"):
                self.db.execute(f"DELETE FROM {table} WHERE client_id = ?", (client_id,))   # noqa: S608 - fixed names

    def commit(self, enqueue: list[tuple[int, str, str, bytes, int]], done: list[int]) -> None:
        """In one transaction: append ``(row id, client_id, topic, payload, qos)`` messages and delete the
        delivered rows ``done``. Raises sqlite3.Error: not stored (the caller acknowledges nothing)."""
        with self.db:
            self.db.execute("BEGIN")
            if done:
                self.db.executemany("DELETE FROM queue WHERE id = ?", [(i,) for i in done])
            if enqueue:
                self.db.executemany("INSERT INTO queue VALUES (?, ?, ?, ?, ?)", enqueue)

    def close(self) -> None:
        self.db.close()
