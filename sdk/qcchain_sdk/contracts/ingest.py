"""Typed client of the ``ingest`` contract (reads of what the ingestion service anchored, seed 001).

Batches are anchored by the ingestion service (``qcchain_ingest``), not through this client; here are the
reads every org uses: batch headers, records as the caller may see them, history, counts, per-appid
summaries, and the check of an inclusion proof against the root the ledger holds.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_gateway.errors import NotFoundError
from qcchain_model.merkle import InclusionProof, verify_inclusion

from ..contractlike import ContractLike

log = logging.getLogger(__name__)

__all__ = ["IngestClient"]


class IngestClient:
    """``ingest`` contract of the ``qcchain`` chaincode, over the chaincode's default contract.

    Errors of the gateway stages propagate unchanged (``qcchain_gateway.errors``).
    """

    def __init__(self, contract: ContractLike) -> None:
        self._contract = contract

    def _evaluate(self, fn: str, *args: str) -> Any:
        return json.loads(self._contract.evaluate_transaction(f"ingest:{fn}", *args))

    def batch(self, appid: str, batch_no: str) -> dict[str, Any] | None:
        """The on-chain header of a batch (unit, appid, batchNo, txcode, busType, count, Merkle root, tx), or None."""
        try:
            return self._evaluate("batch", appid, batch_no)  # type: ignore[no-any-return]
        except NotFoundError:
            return None

    def get(self, record_id: str) -> dict[str, Any] | None:
        """A record as the caller may see it (``access``: full, masked or metadata), or None."""
        try:
            return self._evaluate("get", record_id)  # type: ignore[no-any-return]
        except NotFoundError:
            return None

    def history(self, record_id: str) -> list[dict[str, Any]]:
        """Every version's metadata (batch, busType, digest, leaf index, tx). Raises NotFoundError."""
        return self._evaluate("history", record_id)  # type: ignore[no-any-return]

    def count(self, org_no: str, txcode: str = "") -> int:
        """Distinct record IDs of a using unit on chain (of one table, or all)."""
        return int(self._evaluate("count", org_no, txcode)["records"])

    def summary(self, appid: str) -> dict[str, Any]:
        """``{appid, batches, records, last: {txcode: {batch_no, at}}}`` from the appid's batch headers."""
        return self._evaluate("summary", appid)  # type: ignore[no-any-return]

    def verify_proof(self, record: dict[str, Any], proof: dict[str, Any], appid: str, batch_no: str) -> dict[str, Any]:
        """Check that ``record`` is in the batch ``(appid, batch_no)`` as anchored: its canonical bytes lead by
        ``proof`` to the Merkle root the ledger holds. Returns the on-chain header.

        Raises:
            LookupError: no such batch on chain. qcchain_model.errors.InvalidProof (a ValueError): the proof
            does not hold.
        """
        header = self.batch(appid, batch_no)
        if header is None:
            raise LookupError(f"no batch {batch_no} of appid {appid} on chain")
        verify_inclusion(canonical_json(record), InclusionProof.from_dict(proof), header["merkle_root"])
        return header

    def media_access(self, record_id: str, field: str, nonce: bytes) -> dict[str, Any]:
        """Log on chain (a transaction) that this org fetches the file of M field ``field`` of a record;
        returns ``{record_id, field, sm3, grant}``. Present ``grant`` and ``nonce`` (hex) to the ingestion
        server's ``GET /media/{sm3}`` once. ``nonce``: 16..64 random bytes, sent in the transient map only.

        Raises:
            EndorseError (NotFound: no such live record/field; Forbidden: not entitled), SubmitError, CommitError.
        """
        raw = self._contract.submit_transaction("ingest:media_access", record_id, field, transient={"nonce": nonce})
        return json.loads(raw)  # type: ignore[no-any-return]
