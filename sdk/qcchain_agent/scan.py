"""Change detection for one txcode: source rows → records → SM3 fingerprints → I / U / D batches.

The source is only read. Each record's fingerprint is SM3 over its canonical JSON (``ID``, ``txCode`` and
the mapped fields — not batchNo/busType, which change on every send). A record whose fingerprint differs
from the stored one is an update, one without a stored fingerprint an insert, a stored ID not seen in the
scan a delete. Changed records are checked against the D-A schema first; a bad row is quarantined with its
source key and reason and the scan goes on. Batches are queued as they fill (each atomically with its
fingerprints), deletes after the whole source has been read.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3

from .errors import RowError
from .mapping import TxMapping
from .state import Change, Store
from .tables import table_of
from .transform import Transformer

log = logging.getLogger(__name__)

__all__ = ["ScanResult", "Scanner", "PLACEHOLDER_BATCH"]

PLACEHOLDER_BATCH = "2000010100000001"  # stands in for the batchNo when a record is checked before queuing


@dataclass
class ScanResult:
    """What one scan of one txcode found and queued."""

    txcode: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    duplicates: int = 0
    quarantined: int = 0
    batches: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("txcode", "rows", "inserted", "updated", "deleted", "unchanged",
                                              "duplicates", "quarantined", "batches")}


class Scanner:
    """Scans the rows of one txcode against the fingerprint store and queues the changes.

    ``day`` (YYYYMMDD), ``today`` (YYYY-MM-DD) and ``now`` (ISO time) come from the caller's clock.
    """

    def __init__(self, store: Store, txmap: TxMapping, transformer: Transformer, batch_size: int,
                 day: str, today: str, now: str, full: bool = False) -> None:
        self.store = store
        self.txmap = txmap
        self.table = table_of(txmap.txcode)
        self.transformer = transformer
        self.batch_size = batch_size
        self.day, self.today, self.now = day, today, now
        self.full = full
        self.result = ScanResult(txmap.txcode)
        self._pending: dict[str, list[Change]] = {"I": [], "U": [], "D": []}
        self._quarantine: list[tuple[str, str, bytes, str, str, str, str | None]] = []
        self._held_before = True  # rows quarantined by earlier scans exist (set per run)

    def _source_key(self, row: Mapping[str, Any]) -> str:
        where = self.txmap.table or "query"
        return f"{where}:" + ",".join(f"{c}={row.get(c)}" for c in self.txmap.id_columns)

    def _reject(self, ident: str, digest: bytes, row: Mapping[str, Any], reason: str) -> None:
        self.result.quarantined += 1
        self._quarantine.append((self.txmap.txcode, ident, digest, self._source_key(row), reason, "agent", None))

    def _emit(self, bus_type: str, change: Change) -> None:
        queue = self._pending[bus_type]
        queue.append(change)
        if len(queue) >= self.batch_size:
            self._flush(bus_type)

    def _flush(self, bus_type: str) -> None:
        queue = self._pending[bus_type]
        if not queue:
            return
        batch_no = self.store.enqueue(self.txmap.txcode, bus_type, queue, self.day, self.today, self.now)
        self.result.batches.append(batch_no)
        self._pending[bus_type] = []

    def _flush_quarantine(self) -> None:
        if self._quarantine:
            self.store.quarantine(self._quarantine, self.now)
            self._quarantine = []

    def chunk(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Process one chunk of source rows (queues the batches that fill up)."""
        txcode = self.txmap.txcode
        prepared: list[tuple[str, bytes, dict[str, Any], bytes, Mapping[str, Any]]] = []
        for row in rows:
            self.result.rows += 1
            try:
                record = self.transformer.record(row)
            except RowError as exc:
                raw = sm3(canonical_json({k: str(v) for k, v in row.items()}))
                ident = _safe_id(self.txmap, row)
                self.store.mark_seen(txcode, [(ident, raw)])  # a bad row is not a deleted record
                if (ident, raw) not in self.store.quarantined(txcode, [ident]):
                    self._reject(ident, raw, row, str(exc))
                continue
            canonical = _canonical(record)
            prepared.append((record["ID"], sm3(canonical), record, canonical, row))
        local: dict[str, bytes] = {}
        unique = []
        for item in prepared:
            if item[0] in local:
                self._duplicate(item, local[item[0]])
            else:
                local[item[0]] = item[1]
                unique.append(item)
        before = self.store.mark_seen(txcode, [(i[0], i[1]) for i in unique])
        ids = [i[0] for i in unique]
        stored = self.store.fingerprints(txcode, ids)
        held = self.store.quarantined(txcode, ids) if self._held_before else set()
        for ident, digest, record, canonical, row in unique:
            if ident in before:
                self._duplicate((ident, digest, record, canonical, row), before[ident])
                continue
            if (ident, digest) in held:
                continue  # already quarantined in this very form; reported once
            prev = stored.get(ident)
            if prev == digest and not self.full:
                self.result.unchanged += 1
                continue
            bus_type = "I" if prev is None else "U"
            problems = self.table.violations({**record, "batchNo": PLACEHOLDER_BATCH, "busType": bus_type,
                                              "updateDate": record.get("updateDate", self.today)})
            if problems:
                self._reject(ident, digest, row, "; ".join(f"{f}: {r}" for f, r in problems))
                continue
            if bus_type == "I":
                self.result.inserted += 1
            else:
                self.result.updated += 1
            self._emit(bus_type, Change(ident, prev, digest, record, canonical))
        self._flush_quarantine()

    def _duplicate(self, item: tuple[str, bytes, dict[str, Any], bytes, Mapping[str, Any]], first: bytes) -> None:
        self.result.duplicates += 1
        if item[1] != first and self.txmap.dedup == "identical":
            self._reject(item[0], item[1], item[4], "ID: duplicate source key with different content "
                                                    "(dedup: identical)")

    def run(self, chunks: Iterable[Sequence[Mapping[str, Any]]], progress: Callable[[int], None] | None = None) -> ScanResult:
        """Scan every chunk, then queue the remaining inserts/updates and the deletes; returns the counts."""
        txcode = self.txmap.txcode
        self.store.start_scan(txcode)
        self._held_before = self.store.has_quarantine(txcode)
        for rows in chunks:
            self.chunk(rows)
            if progress is not None:
                progress(len(rows))
        self._flush("I")
        self._flush("U")
        for ident, digest, record in self.store.unseen(txcode):
            if (ident, digest) in self.store.quarantined(txcode, [ident]):
                continue
            self.result.deleted += 1
            self._emit("D", Change(ident, digest, None, json.loads(record), record))
        self._flush("D")
        self.store.start_scan(txcode)  # free the seen set
        self.store.scanned(txcode, self.now)
        log.info("scan %s: %s", txcode, {k: v for k, v in self.result.as_dict().items() if k != "batches"})
        return self.result


def _canonical(record: dict[str, Any]) -> bytes:
    """``canonical_json(record)`` without its type walk: a :class:`Transformer` record holds only str, int and
    dicts of them (M fields), whose canonical form is exactly this encoding (tested against canonical_json)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _safe_id(txmap: TxMapping, row: Mapping[str, Any]) -> str:
    parts = [str(row.get(c)) for c in txmap.id_columns]
    return (txmap.id_prefix + "-".join(parts))[:64]
