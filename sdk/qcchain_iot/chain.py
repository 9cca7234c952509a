"""The chain side of the telemetry pipeline: window roots anchored through ``devices:anchor_windows``
(:class:`ChainAnchor`, a :class:`~qcchain_iot.windows.RootAnchor`) and the warnings relay from the
``iot_alerts`` outbox to ``warnings:raise_warning`` (:class:`WarningRelay`).

The relay delivers at least once: an alert stays ``pending`` until its warning is committed on chain;
after a crash it is sent again and the contract recognises the deterministic warning id (``duplicate:
true``, nothing written), so a warning is never raised twice. Pending alerts leave in batches: several
warnings per transaction (``warnings:raise_warnings``), which is what keeps the chain's per-transaction cost
(signing, endorsement, ordering, validation) from growing with a burst of warnings. Each raised warning carries its triggering
reading (the Merkle leaf later anchored with its window) and the SM3 of it as evidence.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from qcchain_gateway.errors import GatewayError
from qcchain_sdk.contracts.warnings import DevicesClient, WarningsClient, device_warning
from sqlalchemy import and_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .errors import StoreError
from .reading import reading_from_row
from .store import alerts, readings
from .windows import WindowRoot

log = logging.getLogger(__name__)

__all__ = ["ChainAnchor", "WarningRelay", "RelayResult", "leaf_dict", "summary_of"]

SOURCE_OF_RULE = {"predict": "prediction"}   # every other detection rule is a "device" warning


def leaf_dict(row: Any) -> dict[str, Any]:
    """The canonical leaf object of a stored reading row (what is hashed into its window's tree)."""
    r = reading_from_row(row)
    return {"org": r.org, "device": r.device_id, "seq": r.seq, "ts": r.ts_ms, "quantity": r.quantity,
            "value": r.value, "unit": r.unit}


def summary_of(rule: str, quantity: str, colour: str, detail: str) -> str:
    """A one-line summary of a detected condition (no payload beyond the rule's own figures)."""
    return f"{colour} {rule} warning on {quantity or 'device'}: {detail}"[:500]


class ChainAnchor:
    """:class:`~qcchain_iot.windows.RootAnchor` over the ``devices`` contract."""

    def __init__(self, devices: DevicesClient) -> None:
        self.devices = devices

    def anchor(self, roots: Sequence[WindowRoot]) -> str:
        """Anchor roots in one transaction; the transaction id. Raises: the contract's errors."""
        windows = [{"device_id": r.device_id, "window_id": r.window_id, "window_start": r.window_start_ms,
                    "count": r.count, "root": r.root} for r in roots]
        return str(self.devices.anchor_windows(windows)["tx_id"])

    def anchored_root(self, window_id: int, device_id: str) -> str | None:
        """The root anchored on chain, or None when the window is not anchored."""
        try:
            return str(self.devices.window(device_id, window_id)["root"])
        except LookupError:
            return None


@dataclass
class RelayResult:
    raised: int = 0
    duplicates: int = 0
    failed: int = 0


class WarningRelay:
    """Send pending outbox alerts to the warnings contract as ``responsible_msp`` (the devices' owner)."""

    def __init__(self, engine: Engine, warnings: WarningsClient, responsible_msp: str,
                 clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.engine, self.warnings, self.responsible_msp, self.clock_ms = engine, warnings, responsible_msp, clock_ms

    def _pending(self, limit: int, skip: frozenset[str] | set[str] = frozenset()) -> list[tuple[Any, Any]]:
        """Up to ``limit`` pending alerts (oldest first, those in ``skip`` left out) with their readings."""
        try:
            with self.engine.connect() as conn:
                rows = [a for a in conn.execute(select(alerts).where(alerts.c.status == "pending")
                                                .order_by(alerts.c.created_ms, alerts.c.warning_id)
                                                .limit(limit + len(skip))).all()
                        if a.warning_id not in skip][:limit]
                out = []
                for a in rows:
                    reading = conn.execute(select(readings).where(and_(
                        readings.c.device_id == a.device_id, readings.c.ts_ms <= a.reading_ts_ms))
                        .order_by(readings.c.ts_ms.desc(), readings.c.seq.desc()).limit(1)).first() \
                        if a.rule == "offline" else conn.execute(select(readings).where(and_(
                            readings.c.device_id == a.device_id, readings.c.seq == a.reading_seq))).first()
                    out.append((a, reading))
        except SQLAlchemyError as exc:
            raise StoreError(f"reading the warnings outbox failed: {type(exc).__name__}") from exc
        return out

    def _mark(self, committed: list[tuple[str, int]]) -> None:
        """Mark ``(warning_id, committed ms)`` alerts committed, in one transaction."""
        if not committed:
            return
        try:
            with self.engine.begin() as conn:
                for warning_id, at in committed:
                    conn.execute(alerts.update().where(alerts.c.warning_id == warning_id)
                                 .values(status="committed", committed_ms=at))
        except SQLAlchemyError as exc:
            raise StoreError(f"marking warnings committed failed: {type(exc).__name__}") from exc

    def _doc(self, alert: Any, row: Any) -> dict[str, Any]:
        return device_warning(alert.warning_id, alert.colour, SOURCE_OF_RULE.get(alert.rule, "device"),
                              alert.device_id, alert.rule, self.responsible_msp,
                              summary_of(alert.rule, alert.quantity, alert.colour, alert.detail), leaf_dict(row))

    def _raise_one(self, warning_id: str, doc: dict[str, Any]) -> tuple[str, str, int]:
        """``raise_warning``: (warning id, ``raised`` / ``duplicates`` / ``failed`` (logged), ms answered)."""
        try:
            answer = self.warnings.raise_warning(doc)
        except GatewayError as exc:   # a refusal or a transport error: retried next round
            log.warning("warning %s not raised: %s", warning_id[:16], str(exc)[:300])
            return warning_id, "failed", 0
        return warning_id, ("duplicates" if answer.get("duplicate") else "raised"), self.clock_ms()

    def _raise(self, items: Sequence[tuple[Any, Any]]) -> list[tuple[str, str, int]]:
        """Raise a batch of alerts' warnings on chain in ONE transaction (``raise_warnings``; a single one
        with ``raise_warning``): per alert (warning id, the counter to bump — ``raised``, ``duplicates`` or
        ``failed`` —, the time the chain answered in ms). A refused batch is sent again one warning at a
        time, so one refused warning (logged with the contract's reason) does not hold back the others. The
        outbox is updated by the caller."""
        out, ready = [], []
        for alert, row in items:
            if row is None:
                log.warning("warning %s: its reading is not stored; left pending", alert.warning_id[:16])
                out.append((alert.warning_id, "failed", 0))
            else:
                ready.append((alert.warning_id, self._doc(alert, row)))
        if len(ready) == 1:
            out.append(self._raise_one(*ready[0]))
        elif ready:
            try:
                answer = self.warnings.raise_warnings([doc for _, doc in ready])
            except GatewayError as exc:
                log.warning("batch of %d warnings not raised (%s); sent one at a time", len(ready), str(exc)[:200])
                out.extend(self._raise_one(wid, doc) for wid, doc in ready)
            else:
                at = self.clock_ms()
                duplicate = {w["warning_id"]: bool(w["duplicate"]) for w in answer["warnings"]}
                out.extend((wid, "duplicates" if duplicate[wid] else "raised", at) for wid, _ in ready)
        return out

    @staticmethod
    def _count(result: RelayResult, outcomes: Sequence[tuple[str, str, int]]) -> list[tuple[str, int]]:
        """Add ``outcomes`` to ``result``; the ``(warning id, ms)`` of those committed on chain."""
        for _, outcome, _ in outcomes:
            setattr(result, outcome, getattr(result, outcome) + 1)
        return [(wid, at) for wid, outcome, at in outcomes if outcome != "failed"]

    def relay(self, limit: int = 100, workers: int = 1, batch: int = 32) -> RelayResult:
        """Raise every pending alert on chain (at most ``limit``), ``batch`` warnings per transaction and
        ``workers`` transactions in flight at once (distinct warnings write distinct keys, so concurrent
        ones share a block without conflict); a refused one stays pending and is counted in ``failed``
        (logged with the contract's reason).

        Raises:
            StoreError: the outbox cannot be read or updated.
        """
        result = RelayResult()
        pending = self._pending(limit)
        chunks = [pending[i:i + max(1, batch)] for i in range(0, len(pending), max(1, batch))]
        if workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:             # one at a time: each batch marked as soon as it is committed
                self._mark(self._count(result, self._raise(chunk)))
        else:
            with ThreadPoolExecutor(min(workers, len(chunks)), thread_name_prefix="relay") as pool:
                outcomes = [o for chunk_out in pool.map(self._raise, chunks) for o in chunk_out]
            self._mark(self._count(result, outcomes))
        return result

    def run(self, stop: Any, workers: int = 4, batch: int = 32, poll_s: float = 0.01) -> RelayResult:
        """Relay continuously until ``stop`` (an Event) is set: whenever one of ``workers`` submitters is
        free, everything pending (up to ``batch`` per transaction) goes to it at once — no waiting for a
        batch to fill, so a lone warning leaves in the next poll and a burst shares transactions. Committed
        alerts are marked in the outbox by a thread of their own: a mark waiting for the database's write
        lock (the consumer commits readings all the time) never holds back the next submissions.

        Raises:
            StoreError: the outbox cannot be read or updated.
        """
        result = RelayResult()
        inflight: dict[Future[list[tuple[str, str, int]]], set[str]] = {}
        marking: dict[Future[None], set[str]] = {}   # answered by the chain, outbox not updated yet
        retry_at: dict[str, float] = {}          # a refused alert waits a second before its next try
        with ThreadPoolExecutor(workers, thread_name_prefix="relay") as pool, \
                ThreadPoolExecutor(1, thread_name_prefix="relay-mark") as marker:
            while not stop.is_set() or inflight or marking:
                outcomes: list[tuple[str, str, int]] = []
                for future in [f for f in inflight if f.done()]:
                    del inflight[future]
                    outcomes.extend(future.result())
                for future in [f for f in marking if f.done()]:
                    del marking[future]
                    future.result()                          # a StoreError ends the relay
                retry_at.update((wid, time.monotonic() + 1.0) for wid, outcome, _ in outcomes if outcome == "failed")
                committed = self._count(result, outcomes)
                if committed:                                # one outbox transaction per round, off this loop
                    marking[marker.submit(self._mark, committed)] = {wid for wid, _ in committed}
                free = workers - len(inflight)
                if not stop.is_set() and free > 0:
                    now = time.monotonic()
                    retry_at = {w: t for w, t in retry_at.items() if t > now}
                    skip = {w for ids in list(inflight.values()) + list(marking.values()) for w in ids} | set(retry_at)
                    # readings are looked up only for the alerts about to be submitted
                    pending = self._pending(free * batch, skip)
                    size = min(batch, max(1, -(-len(pending) // free)))   # spread over the free submitters
                    for i in range(0, len(pending), size):
                        chunk = pending[i:i + size]
                        inflight[pool.submit(self._raise, chunk)] = {a.warning_id for a, _ in chunk}
                time.sleep(poll_s)
        return result
