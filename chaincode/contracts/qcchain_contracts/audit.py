"""Audit queries (REQUIREMENTS T-8.2, issue 4 "Auditors"): record history, contract lifecycle log,
the channel timeline and the sharing access log. All are evaluate-only and stay available after a
contract is frozen or destroyed (history stays readable). Payloads appear only where the caller is
entitled to them (same rule as ``records:get``); everything else is metadata, digests and signatures,
which clients re-verify (:mod:`qcchain_sdk.contracts.audit`).
"""

from __future__ import annotations

import logging

from qcchain_core.canonical import canonical_loads
from qcchain_shim import Context, Contract, transaction

from .clock import require_fresh
from .common import caller_msp
from .entitlement import entitled_view
from .errors import Forbidden, InvalidInput, NotFound
from .store.grants import access_entries
from .store.members import role_of
from .store.policies import get_policy
from .store.proposals import list_proposals
from .store.records import get_record_meta, record_key

log = logging.getLogger(__name__)

__all__ = ["Audit"]


def _active_member(ctx: Context) -> tuple[str, str]:
    """(msp id, role) of the caller, who must be an active consortium member.

    Raises:
        Forbidden: the caller is not an active member.
    """
    msp = caller_msp(ctx)
    role = role_of(ctx.stub, msp)
    if role is None:
        raise Forbidden(f"{msp} is not an active consortium member")
    return msp, role


class Audit(Contract):
    """``audit:*`` — read-only history for auditors."""

    name = "audit"

    def before_transaction(self, ctx: Context) -> None:
        require_fresh(ctx)  # T-5.2a: audit reads judge grants and keys at the (bounded) transaction time

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
        """Every governance proposal: who proposed, who signed (and when), when and by whom executed.

        Raises: Forbidden (caller not an active member).
        """
        _active_member(ctx)
        out = []
        for p in list_proposals(ctx.stub):
            out.append({
                "proposal_id": p["proposal_id"], "operation": p["body"]["operation"], "target": p["body"]["target"],
                "version": p["body"]["version"], "package_digest": p["body"]["package_digest"],
                "reason": p["body"]["reason"], "status": p["status"], "proposer_msp": p["proposer_msp"],
                "proposed_at": p["proposed_at"], "signatures": [p["signatures"][m] for m in sorted(p["signatures"])],
                "executed_at": p.get("executed_at"), "executed_by": p.get("executed_by"),
                "counted_signers": p.get("counted_signers", []), "body": p["body"],
                "threshold": p.get("threshold"),
            })
        return sorted(out, key=lambda e: (e["proposed_at"], e["proposal_id"]))

    @transaction(evaluate=True)
    def timeline(self, ctx: Context, from_time: int, to_time: int) -> list:
        """Channel events (bootstrap, keys, proposals, records...) with ``from_time <= at < to_time``.

        Raises: Forbidden (caller not an active member), InvalidInput (negative or reversed range).
        """
        _active_member(ctx)
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
        """Who read an L3/L4 record, when, why and on what basis (from the sharing contract's log).

        Same rule as ``sharing:access_log``: the record's owner or a supervisory role of the ``sharing``
        policy (deleted records included: history stays readable).

        Raises: Forbidden (not an active member, neither owner nor supervisory), NotFound (no such record).
        """
        msp, role = _active_member(ctx)
        meta = get_record_meta(ctx.stub, record_id)
        if meta is None:
            raise NotFound(f"record {record_id!r} does not exist")
        if msp != meta["owner_msp"] and role not in get_policy(ctx.stub, "sharing")["supervisory"]["roles"]:
            raise Forbidden(f"{msp} may not read the access log of record {record_id!r}")
        return access_entries(ctx.stub, record_id)
