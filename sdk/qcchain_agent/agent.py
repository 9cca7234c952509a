"""The agent: per txcode, when its update cycle is due, scan the source and queue the changes; then drain
the outbox. Dates are China Standard Time (the ingestion server refuses an ``updateDate`` in its future).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any, Callable, Iterable

from qcchain_core.gm import SM2PublicKey

from .client import IngestClient
from .mapping import Mapping
from .scan import Scanner
from .sender import Sender
from .source import Source
from .state import Store
from .transform import Transformer

log = logging.getLogger(__name__)

__all__ = ["Agent", "CST", "GRACE"]

CST = dt.timezone(dt.timedelta(hours=8))
GRACE = 0.1  # a txcode is overdue when its last complete cycle is older than its period + 10 %


class Agent:
    """One using unit's agent over an open :class:`Store`.

    ``client`` and ``key`` may be None for scan-only use (``check``, benchmarks of detection).
    """

    def __init__(self, mapping: Mapping, store: Store, source: Source, client: IngestClient | None,
                 key: SM2PublicKey | None, now: Callable[[], float] = time.time) -> None:
        self.mapping, self.store, self.source, self.client, self.key = mapping, store, source, client, key
        self.now = now
        self._transformers = {code: Transformer(t, mapping.source.media_root) for code, t in mapping.txcodes.items()}

    def clock(self) -> tuple[str, str, str]:
        """(YYYYMMDD, YYYY-MM-DD, ISO time) of now in China Standard Time."""
        moment = dt.datetime.fromtimestamp(self.now(), CST)
        return moment.strftime("%Y%m%d"), moment.strftime("%Y-%m-%d"), moment.isoformat(timespec="seconds")

    def _age(self, iso: str | None) -> float | None:
        if iso is None:
            return None
        return self.now() - dt.datetime.fromisoformat(iso).timestamp()

    def due(self, txcode: str) -> bool:
        """Whether ``txcode``'s update cycle asks for a scan now (never scanned, or its period has passed)."""
        age = self._age(self.store.cycle_info(txcode)["last_scan"])
        return age is None or age >= self.mapping.txcodes[txcode].interval

    def scan(self, txcode: str, full: bool = False, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Scan one txcode and queue its changes (full: re-send every current record). Raises SourceError."""
        day, today, now = self.clock()
        full = full or not self.store.cycle_info(txcode)["full_done"]
        scanner = Scanner(self.store, self.mapping.txcodes[txcode], self._transformers[txcode],
                          self.mapping.batch_size, day, today, now, full=full)
        return scanner.run(self.source.chunks(self.mapping.txcodes[txcode]), progress).as_dict()

    def send(self) -> dict[str, Any]:
        """Drain the outbox. Raises ValueError: the agent was built without a client or receipt key."""
        if self.client is None or self.key is None:
            raise ValueError("the agent has no ingestion client or receipt key")
        return Sender(self.store, self.client, self.key, self.clock).drain().as_dict()

    def cycle(self, txcodes: Iterable[str] | None = None, full: bool = False, force: bool = False,
              progress: Callable[[str], Callable[[int], None] | None] | None = None) -> dict[str, Any]:
        """One cycle: scan the due (or ``force``d / listed) txcodes, then send. Returns what happened."""
        codes = list(txcodes) if txcodes is not None else list(self.mapping.txcodes)
        scans = []
        for code in codes:
            if force or full or self.due(code):
                scans.append(self.scan(code, full=full, progress=progress(code) if progress else None))
        return {"scans": scans, "send": self.send()}

    def run(self, stop: threading.Event, on_cycle: Callable[[dict[str, Any]], None] | None = None,
            max_wait: float = 60.0) -> None:
        """Cycle until ``stop`` is set, sleeping until the next txcode is due (at most ``max_wait`` s)."""
        while not stop.is_set():
            try:
                report = self.cycle()
            except Exception as exc:  # noqa: BLE001 - the loop outlives one bad cycle; the error is reported
                log.error("cycle failed: %s", exc)
                report = {"error": str(exc)}
            if on_cycle is not None:
                on_cycle(report)
            waits = []
            for code, txmap in self.mapping.txcodes.items():
                age = self._age(self.store.cycle_info(code)["last_scan"])
                waits.append(0.0 if age is None else max(0.0, txmap.interval - age))
            pending = bool(self.store.pending())
            stop.wait(min([max_wait, *waits]) if not pending else min(max_wait, 5.0))

    def status(self) -> dict[str, Any]:
        """Per txcode: cycle, last scan, last acknowledgement, overdue; outbox counts; quarantined rows."""
        pending_by_code: dict[str, int] = {}
        for batch in self.store.batches("pending"):
            pending_by_code[batch.txcode] = pending_by_code.get(batch.txcode, 0) + 1
        codes = []
        for code, txmap in self.mapping.txcodes.items():
            info = self.store.cycle_info(code)
            age = self._age(info["last_scan"])
            overdue = age is None or age > txmap.interval * (1 + GRACE) or (
                pending_by_code.get(code, 0) > 0 and (self._age(info["last_ack"]) or float("inf")) > txmap.interval)
            codes.append({"txcode": code, "cycle": txmap.cycle, "interval_s": txmap.interval,
                          "last_scan": info["last_scan"], "last_ack": info["last_ack"],
                          "records": self.store.count_fingerprints(code), "pending_batches": pending_by_code.get(code, 0),
                          "overdue": overdue})
        return {"appid": self.mapping.server.appid, "txcodes": codes, "batches": self.store.counts(),
                "quarantined_rows": len(self.store.list_quarantine())}
