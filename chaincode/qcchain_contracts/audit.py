"""Audit queries (REQUIREMENTS T-8.2, issue 4 "Auditors"): record history, contract lifecycle log,
the channel timeline and the sharing access log. All are evaluate-only and stay available after a
contract is frozen or destroyed (history stays readable). Payloads appear only where the caller is
entitled to them (same rule as ``records:get``); everything else is metadata, digests and signatures,
which clients re-verify (:mod:`qcchain_sdk.contracts.audit`).
"""

from __future__ import annotations

import logging
from typing import Any

from qcchain_core.canonical import canonical_loads
from qcchain_shim import Context, Contract, transaction

from .common import list_by_prefix
from .errors import InvalidInput, NotFound
from .records import entitled_view, record_key

log = logging.getLogger(__name__)

__all__ = ["Audit"]

ACCESS_PREFIX = "shr.access"  # written by qcchain_contracts.sharing.log_access: [record_id, time, tx_id]


class Audit(Contract):
    """``audit:*`` — read-only history for auditors."""

    name = "audit"

    @transaction(evaluate=True)
    def record_history(self, ctx: Context, record_id: str) -> list:
        """Every version of a record, oldest first, with tx id and time. Raises NotFound."""
        versions = []
        for mod in ctx.stub.get_history_for_key(record_key(ctx.stub, record_id)):
            if mod.is_delete or not mod.value:
                continue
            view = entitled_view(ctx, canonical_loads(mod.value))
            view["history_tx_id"] = mod.tx_id
            versions.append(view)
        if not versions:
            raise NotFound(f"record {record_id!r} has no history")
        return sorted(versions, key=lambda v: v["version"])

    @transaction(evaluate=True)
    def lifecycle_log(self, ctx: Context) -> list:
        """Every governance proposal: who proposed, who signed (and when), when and by whom executed."""
        out = []
        for p in list_by_prefix(ctx.stub, "gov.proposal", []):
            out.append({
                "proposal_id": p["proposal_id"], "operation": p["body"]["operation"], "target": p["body"]["target"],
                "version": p["body"]["version"], "package_digest": p["body"]["package_digest"],
                "reason": p["body"]["reason"], "status": p["status"], "proposer_msp": p["proposer_msp"],
                "proposed_at": p["proposed_at"], "signatures": [p["signatures"][m] for m in sorted(p["signatures"])],
                "executed_at": p.get("executed_at"), "executed_by": p.get("executed_by"),
                "counted_signers": p.get("counted_signers", []), "body": p["body"],
            })
        return sorted(out, key=lambda e: (e["proposed_at"], e["proposal_id"]))

    @transaction(evaluate=True)
    def timeline(self, ctx: Context, from_time: int, to_time: int) -> list:
        """Channel events (bootstrap, keys, proposals, records...) with ``from_time <= at < to_time``.

        Raises: InvalidInput (negative or reversed range).
        """
        if from_time < 0 or to_time < from_time:
            raise InvalidInput("timeline needs 0 <= from_time <= to_time")
        out = []
        for kv in ctx.stub.get_state_by_partial_composite_key("qc.event", []):
            entry = canonical_loads(kv.value)
            if from_time <= entry["at"] < to_time:
                out.append(entry)
        return out

    @transaction(evaluate=True)
    def access_log(self, ctx: Context, record_id: str) -> list:
        """Who read an L3/L4 record, when, why and on what basis (from the sharing contract's log)."""
        return list_by_prefix(ctx.stub, ACCESS_PREFIX, [record_id])
