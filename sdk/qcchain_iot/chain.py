"""The chain side of the telemetry pipeline: window roots anchored through ``devices:anchor_windows``
(:class:`ChainAnchor`, a :class:`~qcchain_iot.windows.RootAnchor`) and the warnings relay from the
``iot_alerts`` outbox to ``warnings:raise_warning`` (:class:`WarningRelay`).

The relay delivers at least once: an alert stays ``pending`` until its warning is committed on chain;
after a crash it is sent again and the contract recognises the deterministic warning id (``duplicate:
true``, nothing written), so a warning is never raised twice. Each raised warning carries its triggering
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

    def _raise(self, alert: Any, row: Any) -> tuple[str, int]:
        """Raise one alert's warning on chain: (``raised``, ``duplicates`` or ``failed`` (logged) — the counter
        to bump —, the time the chain answered in ms). The outbox is updated by the caller."""
        if row is None:
            log.warning("warning %s: its reading is not stored; left pending", alert.warning_id[:16])
            return "failed", 0
        doc = device_warning(alert.warning_id, alert.colour, SOURCE_OF_RULE.get(alert.rule, "device"),
                             alert.device_id, alert.rule, self.responsible_msp,
                             summary_of(alert.rule, alert.quantity, alert.colour, alert.detail), leaf_dict(row))
        try:
            answer = self.warnings.raise_warning(doc)
        except GatewayError as exc:   # a refusal or a transport error: retried next round
            log.warning("warning %s not raised: %s", alert.warning_id[:16], str(exc)[:300])
            return "failed", 0
        return ("duplicates" if answer.get("duplicate") else "raised"), self.clock_ms()

    def relay(self, limit: int = 100, workers: int = 1) -> RelayResult:
        """Raise every pending alert on chain (at most ``limit``), ``workers`` transactions in flight at
        once (distinct warnings write distinct keys, so concurrent ones share a block without conflict);
        a refused one stays pending and is counted in ``failed`` (logged with the contract's reason).

        Raises:
            StoreError: the outbox cannot be read or updated.
        """
        result = RelayResult()
        pending = self._pending(limit)
        if workers <= 1 or len(pending) <= 1:
            outcomes = []
            for alert, row in pending:          # one at a time: each marked as soon as it is committed
                outcomes.append(self._raise(alert, row))
                if outcomes[-1][0] != "failed":
                    self._mark([(alert.warning_id, outcomes[-1][1])])
        else:
            with ThreadPoolExecutor(min(workers, len(pending)), thread_name_prefix="relay") as pool:
                outcomes = list(pool.map(lambda item: self._raise(*item), pending))
            self._mark([(a.warning_id, at) for (a, _), (outcome, at) in zip(pending, outcomes) if outcome != "failed"])
        for outcome, _ in outcomes:
            setattr(result, outcome, getattr(result, outcome) + 1)
        return result

    def run(self, stop: Any, workers: int = 16, poll_s: float = 0.01, limit: int = 500) -> RelayResult:
        """Relay continuously until ``stop`` (an Event) is set: every pending alert goes to the next free one of
        ``workers`` submitters as soon as it is in the outbox (no waiting for a round to finish).

        Raises:
            StoreError: the outbox cannot be read or updated.
        """
        result = RelayResult()
        inflight: dict[str, Future[tuple[str, int]]] = {}
        retry_at: dict[str, float] = {}          # a refused alert waits a second before its next try
        with ThreadPoolExecutor(workers, thread_name_prefix="relay") as pool:
            while not stop.is_set() or inflight:
                committed = []
                for wid in [w for w, f in inflight.items() if f.done()]:
                    outcome, at = inflight.pop(wid).result()
                    setattr(result, outcome, getattr(result, outcome) + 1)
                    if outcome == "failed":
                        retry_at[wid] = time.monotonic() + 1.0
                    else:
                        committed.append((wid, at))
                self._mark(committed)                   # one outbox transaction per round
                if not stop.is_set() and len(inflight) < 2 * workers:
                    now = time.monotonic()
                    waiting = {w for w, t in retry_at.items() if t > now}
                    # readings are looked up only for the alerts about to be submitted
                    for alert, row in self._pending(min(limit, 2 * workers - len(inflight)), set(inflight) | waiting):
                        inflight[alert.warning_id] = pool.submit(self._raise, alert, row)
                time.sleep(poll_s)
        return result
