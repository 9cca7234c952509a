"""``agent reconcile`` (D-5.3): compare the source with what the chain holds for this unit.

For every record the source yields now, and every ID the agent ever had acknowledged, the ingestion service
is asked for the latest anchored version with its Merkle inclusion proof and signed receipt; the proof and
receipt are verified, and the anchored record (without batchNo/busType and, unless mapped, updateDate) is
compared with the source record by SM3 digest. Findings: ``missing`` (in the source, not on chain),
``stale`` (on chain with other content), ``unexpected`` (on chain, live, but gone from the source),
``unverified`` (proof or receipt does not check out); rows the agent quarantined are listed apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import SM2PublicKey, sm3
from qcchain_model.errors import InvalidProof
from qcchain_model.merkle import InclusionProof, verify_inclusion

from .client import IngestClient
from .errors import ReceiptError, RowError
from .receipts import verify_receipt_signature
from .source import Source
from .mapping import Mapping
from .state import Store
from .transform import Transformer

__all__ = ["Reconciliation", "reconcile"]


@dataclass
class Reconciliation:
    """The findings of one reconciliation (lists of ``{txcode, id, ...}``)."""

    checked: int = 0
    matching: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    unverified: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)  # known: held back by the agent, see status

    @property
    def clean(self) -> bool:
        """No difference apart from the rows the agent quarantined (and reports)."""
        return not (self.missing or self.stale or self.unexpected or self.unverified)

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "matching": self.matching, "missing": self.missing, "stale": self.stale,
                "unexpected": self.unexpected, "unverified": self.unverified, "quarantined": self.quarantined,
                "clean": self.clean}


def _strip(record: dict[str, Any], keep_update_date: bool) -> dict[str, Any]:
    drop = {"batchNo", "busType"} | (set() if keep_update_date else {"updateDate"})
    return {k: v for k, v in record.items() if k not in drop}


def _anchored(client: IngestClient, key: SM2PublicKey, ident: str) -> tuple[dict[str, Any] | None, str | None]:
    """(latest anchored record or None, problem or None)."""
    answer = client.proof(ident)
    if not answer.ok:
        return None, None if answer.status == 404 else answer.msg
    data = answer.data if isinstance(answer.data, dict) else {}
    record, receipt = data.get("record"), data.get("receipt")
    try:
        verify_receipt_signature(receipt, key)
        root = receipt["header"]["merkle_root"]
        verify_inclusion(canonical_json(record), InclusionProof.from_dict(data.get("proof")), root)
    except (ReceiptError, InvalidProof, KeyError, TypeError) as exc:
        return None, f"proof or receipt does not verify ({exc.__class__.__name__})"
    return record, None


def reconcile(mapping: Mapping, store: Store, source: Source, client: IngestClient, key: SM2PublicKey) -> Reconciliation:
    """Reconcile every mapped txcode. Raises SourceError, TransportError, ServerError."""
    out = Reconciliation()
    for txcode, txmap in mapping.txcodes.items():
        keep_date = any(f.name == "updateDate" for f in txmap.fields)
        transformer = Transformer(txmap, mapping.source.media_root)
        in_source: set[str] = set()
        for chunk in source.chunks(txmap):
            for row in chunk:
                try:
                    record = transformer.record(row)
                except RowError:
                    continue  # quarantined rows are reported by `agent status`
                ident = record["ID"]
                in_source.add(ident)
                out.checked += 1
                anchored, problem = _anchored(client, key, ident)
                if problem:
                    out.unverified.append({"txcode": txcode, "id": ident, "reason": problem})
                elif (anchored is None or anchored.get("busType") == "D") and store.quarantined(txcode, [ident]):
                    out.quarantined.append({"txcode": txcode, "id": ident})
                elif anchored is None or anchored.get("busType") == "D":
                    out.missing.append({"txcode": txcode, "id": ident})
                elif sm3(canonical_json(_strip(anchored, keep_date))) != sm3(canonical_json(_strip(record, keep_date))):
                    out.stale.append({"txcode": txcode, "id": ident, "batchNo": anchored.get("batchNo")})
                else:
                    out.matching += 1
        sent = {item[0] for batch in store.batches("acked") if batch.txcode == txcode for item in batch.items}
        for ident in sorted(sent - in_source):
            anchored, problem = _anchored(client, key, ident)
            if problem:
                out.unverified.append({"txcode": txcode, "id": ident, "reason": problem})
            elif anchored is not None and anchored.get("busType") != "D":
                out.unexpected.append({"txcode": txcode, "id": ident, "batchNo": anchored.get("batchNo")})
    return out
