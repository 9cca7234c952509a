"""Draining the outbox: send pending batches in batchNo order until each is acknowledged or quarantined.

* ``rescode "1"`` with a receipt that verifies (:mod:`.receipts`) → acknowledged, never sent again;
* a transport failure after the client's retries → the batch stays pending (same batchNo next time) and
  sending stops for now, so a later batch never overtakes an earlier one;
* a batch tried before is first looked up with the status endpoint (the server may have stored it before
  the answer was lost) — its stored receipt acknowledges it without a resend;
* ``rescode "0"`` with per-record violations → the batch is quarantined with them, the offending records
  are quarantined (their fingerprints rolled back) and the other records are queued again in a new batch
  that takes the refused batch's place in the sending order (also across a restart);
  a refusal without violations is checked against the status endpoint first (``anchoring`` → retry later).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import SM2PublicKey

from .client import Answer, IngestClient
from .errors import ReceiptError, TransportError
from .receipts import verify_receipt
from .state import Batch, Store

log = logging.getLogger(__name__)

__all__ = ["Sender", "SendResult"]

_ENVELOPE_SENT = ("batchNo", "busType")


@dataclass
class SendResult:
    """What one drain of the outbox did."""

    acknowledged: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    pending: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"acknowledged": len(self.acknowledged), "quarantined": self.quarantined, "requeued": self.requeued,
                "pending": self.pending, "error": self.error}


class Sender:
    """Sends the outbox of ``store`` through ``client``; ``clock()`` gives (day, today, now) strings."""

    def __init__(self, store: Store, client: IngestClient, key: SM2PublicKey,
                 clock: Callable[[], tuple[str, str, str]]) -> None:
        self.store, self.client, self.key, self.clock = store, client, key, clock

    def drain(self) -> SendResult:
        """Send every pending batch in order; stops at the first batch that cannot be delivered now."""
        result = SendResult()
        queue = self.store.pending()
        while queue:
            batch = self.store.batch(queue.pop(0))
            try:
                outcome = self._deliver(batch)
            except (TransportError, ReceiptError) as exc:
                self.store.attempted(batch.batch_no, str(exc), self.clock()[2])
                result.error = str(exc)
                log.warning("batch %s not acknowledged: %s", batch.batch_no, exc)
                break
            if outcome == "acked":
                result.acknowledged.append(batch.batch_no)
            elif outcome == "retry":
                result.error = f"batch {batch.batch_no} is still being stored by the server"
                break
            else:
                result.quarantined.append(batch.batch_no)
                if outcome:  # the remainder goes next, before any later change of the same records
                    result.requeued.append(outcome)
                    queue.insert(0, outcome)
        result.pending = len(self.store.pending())
        return result

    def _deliver(self, batch: Batch) -> str:
        """'acked', 'retry', or the batchNo of the re-queued remainder ('' when nothing is re-queued)."""
        if batch.attempts:
            status = self.client.batch_status(batch.batch_no)
            data = status.data if isinstance(status.data, dict) else {}
            if status.ok and data.get("status") == "anchored":
                return self._ack(batch, data.get("receipt"))
        self.store.attempted(batch.batch_no, None, self.clock()[2])
        answer = self.client.syndata(batch.batch_no, batch.txcode, batch.bus_type, batch.data)
        if answer.ok:
            return self._ack(batch, answer.data)
        violations = [v for v in answer.data if isinstance(v, dict)] if isinstance(answer.data, list) else []
        if answer.status == 429:
            raise TransportError(f"batch {batch.batch_no}: rate limited by the server")
        if not violations:
            status = self.client.batch_status(batch.batch_no)
            data = status.data if isinstance(status.data, dict) else {}
            if status.ok and data.get("status") == "anchored":
                return self._ack(batch, data.get("receipt"))
            if status.ok and data.get("status") == "anchoring":
                return "retry"
        return self._reject(batch, answer, violations)

    def _ack(self, batch: Batch, receipt: Any) -> str:
        verify_receipt(receipt, batch.batch_no, batch.data, self.key)
        self.store.acknowledge(batch.batch_no, receipt, self.clock()[2])
        log.info("batch %s acknowledged (%d records)", batch.batch_no, len(batch.data))
        return "acked"

    def _reject(self, batch: Batch, answer: Answer, violations: list[dict[str, Any]]) -> str:
        day, today, now = self.clock()
        size = len(batch.data)
        per_index: dict[int, list[str]] = {}
        for v in violations:
            index = v.get("index")
            if isinstance(index, int) and 0 <= index < size:
                per_index.setdefault(index, []).append(f"{v.get('field', '')}: {v.get('reason', '')}")
        if not per_index:  # the whole batch is refused
            per_index = {i: [answer.msg or "refused by the server"] for i in range(size)}
        log.warning("batch %s refused by the server: %d of %d records", batch.batch_no, len(per_index), size)
        requeue = ""
        with self.store.transaction() as db:
            db.execute("UPDATE batch SET state='quarantined', violations=?, last_error=?, updated_at=? WHERE batch_no=?",
                       (json.dumps(violations or [{"index": None, "field": "$", "reason": answer.msg}],
                                   ensure_ascii=False), answer.msg, now, batch.batch_no))
            for index, reasons in sorted(per_index.items()):
                ident, prev, new = batch.items[index]
                record = {k: v for k, v in batch.data[index].items() if k not in _ENVELOPE_SENT}
                digest = bytes.fromhex(new if new is not None else prev)
                db.execute("INSERT OR REPLACE INTO quarantine VALUES (?,?,?,?,?,?,?,?)",
                           (batch.txcode, ident, digest, f"ID={ident}", "server: " + "; ".join(reasons), "server",
                            batch.batch_no, now))
                if batch.bus_type == "D":
                    db.execute("INSERT OR REPLACE INTO fingerprint VALUES (?,?,?,?)",
                               (batch.txcode, ident, bytes.fromhex(prev), canonical_json(record)))
                elif prev is None:
                    db.execute("DELETE FROM fingerprint WHERE txcode=? AND id=?", (batch.txcode, ident))
                else:
                    db.execute("UPDATE fingerprint SET digest=? WHERE txcode=? AND id=?",
                               (bytes.fromhex(prev), batch.txcode, ident))
            keep = [i for i in range(size) if i not in per_index]
            if keep:
                requeue = self.store.requeue(batch.batch_no, [batch.data[i] for i in keep],
                                             [batch.items[i] for i in keep], day, now)
        return requeue
