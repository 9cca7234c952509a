"""One batch of received messages through validation, storage and detection in ONE database transaction.

The consumer acknowledges a batch's messages only after :meth:`Pipeline.process` returned, so a crash
before the commit leaves them unacknowledged (the broker redelivers them) and a crash after it finds them
stored (recognised by ``(device, seq)`` and skipped, detection included). Detector episodes are written in
the same transaction, so a restarted pipeline resumes them and raises no warning twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Mapping

from qcchain_core.canonical import canonical_json
from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from .detector import Alert, Detector, Episode
from .errors import ReadingRejected, StoreError
from .policy import WarningsPolicy
from .reading import Reading, parse_reading
from .store import alerts, devices_seen, episodes, readings
from .topics import parse_topic

log = logging.getLogger(__name__)

__all__ = ["Message", "BatchResult", "Pipeline"]

_COLUMNS = ("device_id", "seq", "org", "ts_ms", "quantity", "value", "unit", "received_ms")
_INSERT = f"INSERT INTO {readings.name} ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_EPISODE_COLUMNS = ("device_id", "rule", "quantity", "colour", "warning_id", "clear_count", "open")
_EPISODE_DELETE = f"DELETE FROM {episodes.name} WHERE device_id = ? AND rule = ? AND quantity = ?"
_EPISODE_INSERT = (f"INSERT INTO {episodes.name} ({', '.join(_EPISODE_COLUMNS)}) "
                   f"VALUES ({', '.join('?' * len(_EPISODE_COLUMNS))})")


def _mark(conn: Connection) -> str | None:
    """The driver's placeholder for hand-written SQL (qmark / format), or None: use SQLAlchemy."""
    return {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(conn.dialect.paramstyle)


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    received_ms: int


@dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    alerts: tuple[Alert, ...] = ()


class Pipeline:
    """Validation + storage + detection. ``device_types``: registered, active device id -> device type;
    a message from any other device is rejected."""

    def __init__(self, engine: Engine, policy: WarningsPolicy, device_types: Mapping[str, str]) -> None:
        self.engine = engine
        self.policy = policy
        self.device_types = device_types
        self.detector = Detector(policy, device_types)
        self._max_seq: dict[str, int] = {}     # highest stored seq per device: a higher one is new for sure
        self._topics: dict[str, tuple[str, str]] = {}
        self.restore()

    def restore(self) -> None:
        """Reload open episodes and warm the detector with each device's recent readings (no alerts).

        Raises:
            StoreError: the database cannot be read.
        """
        try:
            with self.engine.connect() as conn:
                eps = [Episode(r.device_id, r.rule, r.quantity, r.colour, r.warning_id, r.clear_count, r.open)
                       for r in conn.execute(select(episodes))]
                warm_ms = int(max(self.policy.prediction["window_s"], 60) * 1000)
                last = conn.execute(select(devices_seen.c.device_id, devices_seen.c.last_ts_ms)).all()
                max_seq = dict(conn.execute(select(readings.c.device_id, func.max(readings.c.seq))
                                            .group_by(readings.c.device_id)).all())
                rows = []
                for device_id, last_ts in last:
                    rows += conn.execute(select(readings).where(and_(
                        readings.c.device_id == device_id, readings.c.ts_ms >= last_ts - warm_ms))
                        .order_by(readings.c.seq)).all()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot restore the detector: {type(exc).__name__}") from exc
        self.detector = Detector(self.policy, self.device_types)
        self._max_seq = {d: int(m) for d, m in max_seq.items()}
        for row in rows:
            self.detector.observe(Reading(row.org, row.device_id, row.seq, row.ts_ms, row.quantity, row.value,
                                          row.unit))
        self.detector.episodes.clear()
        self.detector.dirty.clear()
        self.detector.load_episodes(eps)

    def _parse(self, batch: Iterable[Message], result: BatchResult) -> list[tuple[Reading, int]]:
        parsed: dict[tuple[str, int], tuple[Reading, int]] = {}
        for msg in batch:
            try:
                where = self._topics.get(msg.topic)
                if where is None:                       # parse_topic is pure: cached per topic string
                    if len(self._topics) > 100_000:
                        self._topics.clear()
                    where = self._topics[msg.topic] = parse_topic(msg.topic)
                org, device_id = where
                if device_id not in self.device_types:
                    raise ReadingRejected("device is not registered or not active")
                r = parse_reading(org, device_id, msg.payload, self.policy, msg.received_ms)
            except ReadingRejected as exc:
                result.rejected += 1
                log.warning("reading rejected on %s: %s", msg.topic[:160], exc)
                continue
            if (r.device_id, r.seq) in parsed:
                result.duplicates += 1
            else:
                parsed[(r.device_id, r.seq)] = (r, msg.received_ms)
        return list(parsed.values())

    def process(self, batch: list[Message]) -> BatchResult:
        """Validate, store and run detection on a batch; one transaction.

        Raises:
            StoreError: the transaction failed (nothing of the batch is stored; the detector is restored).
        """
        result = BatchResult()
        items = self._parse(batch, result)
        if not items:
            return result
        try:
            with self.engine.begin() as conn:
                new = self._insert_new(conn, items, result)
                found: list[Alert] = []
                for r, _ in sorted(new, key=lambda x: (x[0].device_id, x[0].seq)):
                    found += self.detector.observe(r)
                self._write_detection(conn, found, new)
        except SQLAlchemyError as exc:
            self.restore()
            raise StoreError(f"storing a batch failed: {type(exc).__name__}") from exc
        for r, _ in new:
            if r.seq > self._max_seq.get(r.device_id, -1):
                self._max_seq[r.device_id] = r.seq
        result.alerts = tuple(found)
        return result

    def _insert_new(self, conn: Connection, items: list[tuple[Reading, int]],
                    result: BatchResult) -> list[tuple[Reading, int]]:
        # a seq above the device's highest stored one is new; only the others (redeliveries, late or
        # out-of-order readings) are looked up
        unsure = [(r.device_id, r.seq) for r, _ in items if r.seq <= self._max_seq.get(r.device_id, -1)]
        existing: set[tuple[str, int]] = set()
        for i in range(0, len(unsure), 400):
            chunk = unsure[i:i + 400]
            existing |= {(d, s) for d, s in conn.execute(
                select(readings.c.device_id, readings.c.seq).where(
                    tuple_(readings.c.device_id, readings.c.seq).in_(chunk)))}
        new = [(r, rec) for r, rec in items if (r.device_id, r.seq) not in existing] if existing else items
        result.duplicates += len(items) - len(new)
        result.stored = len(new)
        if new:
            rows = [(r.device_id, r.seq, r.org, r.ts_ms, r.quantity, r.value, r.unit, rec) for r, rec in new]
            mark = _mark(conn)
            if mark:                                    # the driver's executemany: no per-row SQL compilation
                conn.exec_driver_sql(_INSERT.replace("?", mark), rows)
            else:
                conn.execute(readings.insert(), [dict(zip(_COLUMNS, row)) for row in rows])
        return new

    def _write_detection(self, conn: Connection, found: list[Alert], new: list[tuple[Reading, int]]) -> None:
        if found:
            conn.execute(alerts.insert(), [
                {"warning_id": a.warning_id, "device_id": a.device_id, "org": a.org, "rule": a.rule,
                 "quantity": a.quantity, "colour": a.colour, "reading_seq": a.reading_seq,
                 "reading_ts_ms": a.reading_ts_ms, "detail": canonical_json(a.detail).decode(),
                 "created_ms": max(rec for _, rec in new), "status": "pending", "committed_ms": 0}
                for a in found])
        self._write_episodes(conn, self.detector.take_dirty())
        latest: dict[str, tuple[Reading, int]] = {}
        for r, rec in new:
            if r.device_id not in latest or r.ts_ms > latest[r.device_id][0].ts_ms:
                latest[r.device_id] = (r, rec)
        self._upsert_seen(conn, latest)

    @staticmethod
    def _write_episodes(conn: Connection, changed: list[Episode]) -> None:
        if not changed:
            return
        mark = _mark(conn)
        keys = [(e.device_id, e.rule, e.quantity) for e in changed]
        rows = [(e.device_id, e.rule, e.quantity, e.colour, e.warning_id, e.clear_count, e.open) for e in changed]
        if mark:                                        # the driver's executemany: no per-batch SQL compilation
            conn.exec_driver_sql(_EPISODE_DELETE.replace("?", mark), keys)
            conn.exec_driver_sql(_EPISODE_INSERT.replace("?", mark), rows)
            return
        conn.execute(episodes.delete().where(or_(*[and_(
            episodes.c.device_id == d, episodes.c.rule == r, episodes.c.quantity == q) for d, r, q in keys])))
        conn.execute(episodes.insert(), [dict(zip(_EPISODE_COLUMNS, row)) for row in rows])

    @staticmethod
    def _upsert_seen(conn: Connection, latest: dict[str, tuple[Reading, int]]) -> None:
        have = {d: ts for d, ts in conn.execute(select(devices_seen.c.device_id, devices_seen.c.last_ts_ms).where(
            devices_seen.c.device_id.in_(list(latest))))}
        for device_id, (r, rec) in latest.items():
            if device_id not in have:
                conn.execute(devices_seen.insert().values(device_id=device_id, org=r.org, last_ts_ms=r.ts_ms,
                                                          last_received_ms=rec))
            elif r.ts_ms > have[device_id]:
                conn.execute(devices_seen.update().where(devices_seen.c.device_id == device_id).values(
                    last_ts_ms=r.ts_ms, last_received_ms=rec))

    def heartbeat(self, now_ms: int) -> list[Alert]:
        """Raise offline warnings for silent devices (persisted like the others).

        Raises:
            StoreError: the transaction failed.
        """
        try:
            with self.engine.begin() as conn:
                seen = [(row.org, row.device_id, row.last_ts_ms, row.last_ts_ms) for row in conn.execute(select(devices_seen))]
                found = self.detector.offline(now_ms, seen)
                if found:
                    conn.execute(alerts.insert(), [
                        {"warning_id": a.warning_id, "device_id": a.device_id, "org": a.org, "rule": a.rule,
                         "quantity": a.quantity, "colour": a.colour, "reading_seq": a.reading_seq,
                         "reading_ts_ms": a.reading_ts_ms, "detail": canonical_json(a.detail).decode(),
                         "created_ms": now_ms, "status": "pending", "committed_ms": 0} for a in found])
                self._write_episodes(conn, self.detector.take_dirty())
        except SQLAlchemyError as exc:
            self.restore()
            raise StoreError(f"heartbeat check failed: {type(exc).__name__}") from exc
        return found
