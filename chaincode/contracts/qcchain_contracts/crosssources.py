"""Registering, updating and removing a cross-chain source network by multi-signature governance (rules).

A source proposal body is canonical JSON with exactly :data:`SOURCE_BODY_FIELDS`: ``{operation
(source_register | source_update | source_remove), source (name), channel (this channel), digest (hex SM3
of the canonical trust-anchor document; "" for a removal), reason, nonce, expiry}``; its id is the hex SM3
of the canonical body. Org admins sign the canonical body with their SM2 ``govern`` key, one signature per
org, exactly as for governance proposals, and nonces share the governance replay guard (``gov.nonce``).
Trust anchors are policy data: a source proposal executes under the installed governance policy's
``policy_update`` rule (:func:`.proposals.operation_rule`, :func:`.lifecycle.threshold_met`), with every
signature's key re-checked at execution and the threshold in force stored with the proposal.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from qcchain_core.canonical import canonical_json

from .common import caller_msp, record_event, require_hex64, require_int, require_str, sm3_hex, tx_time
from .errors import Conflict, Forbidden, InvalidInput, InvalidSignatureError, NotFound
from .fabricproof import load_anchors
from .lifecycle import threshold_met
from .proposals import operation_rule, threshold_in_force
from .signatures import verify_sm2
from .store.members import list_members
from .store.policies import get_policy
from .store.proposals import nonce_used, spend_nonce
from .store.sources import find_source, find_source_proposal, put_source, put_source_proposal

log = logging.getLogger(__name__)

__all__ = ["SOURCE_BODY_FIELDS", "SOURCE_OPERATIONS", "RULE", "validate_source_body", "propose_source",
           "sign_source", "execute_source"]

SOURCE_BODY_FIELDS = ("operation", "source", "channel", "digest", "reason", "nonce", "expiry")
SOURCE_OPERATIONS = ("source_register", "source_update", "source_remove")
#: The governance rule a source proposal must meet (trust anchors are policy data).
RULE = "policy_update"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


def validate_source_body(body: Any) -> dict[str, Any]:
    """Check a source proposal body's shape (pure). Returns it.

    Raises:
        InvalidInput: fields, operation, names, digest (required unless removal), nonce or expiry wrong.
    """
    if not isinstance(body, dict) or sorted(body) != sorted(SOURCE_BODY_FIELDS):
        raise InvalidInput(f"a source proposal must have exactly the fields {', '.join(SOURCE_BODY_FIELDS)}")
    if body["operation"] not in SOURCE_OPERATIONS:
        raise InvalidInput(f"operation {body['operation']!r} is not one of {', '.join(SOURCE_OPERATIONS)}")
    require_str(body["source"], "source", 64, _NAME)
    require_str(body["channel"], "channel", 64, _NAME)
    if body["operation"] == "source_remove":
        if body["digest"] != "":
            raise InvalidInput("digest must be empty for source_remove")
    else:
        require_hex64(body["digest"], "digest")
    if not isinstance(body["reason"], str) or len(body["reason"]) > 512:
        raise InvalidInput("reason must be a string of at most 512 characters")
    require_str(body["nonce"], "nonce", 128, _NONCE)
    require_int(body["expiry"], "expiry", 0)
    return body


def _check_state(stub: Any, body: dict[str, Any]) -> None:
    current = find_source(stub, body["source"])
    active = current is not None and current["status"] == "active"
    if body["operation"] == "source_register" and active:
        raise Conflict(f"source {body['source']} is already registered (use source_update)")
    if body["operation"] != "source_register" and not active:
        raise NotFound(f"source {body['source']} is not a registered active source")


def _check_artifact(body: dict[str, Any], artifact: Any) -> dict[str, Any] | None:
    if body["operation"] == "source_remove":
        if artifact not in ({}, None):
            raise InvalidInput("source_remove takes no trust-anchor document")
        return None
    if not isinstance(artifact, dict):
        raise InvalidInput("the trust-anchor document must be a JSON object")
    try:
        raw = canonical_json(artifact)
    except ValueError as exc:
        raise InvalidInput("the trust-anchor document cannot be encoded as canonical JSON") from exc
    if sm3_hex(raw) != body["digest"]:
        raise InvalidInput("the trust-anchor document does not match the proposal digest (SM3 of its canonical JSON)")
    load_anchors(artifact)
    return artifact


def _signature(ctx: Any, body: dict[str, Any], key_id: str, signature: str) -> dict[str, Any]:
    msp = caller_msp(ctx)
    try:
        sig = bytes.fromhex(signature)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("signature must be hex (DER SM2 signature)") from exc
    try:
        verify_sm2(ctx, key_id, canonical_json(body), sig, msp, usage="govern")
    except NotFound as exc:
        raise InvalidSignatureError(f"signer key {key_id!r} is not a registered admin key") from exc
    return {"msp_id": msp, "key_id": key_id, "signature": signature, "signed_at": tx_time(ctx),
            "tx_id": ctx.stub.get_tx_id()}


def propose_source(ctx: Any, body: Any, artifact: Any, key_id: str, signature: str) -> dict[str, Any]:
    """Open a source proposal with the proposer's signature.

    Raises:
        InvalidInput: bad body/document. Conflict: duplicate, nonce reused, expired, other channel, source
        already registered. NotFound: updating/removing an unknown source. Forbidden / InvalidSignatureError:
        no rule installed, bad signature or key.
    """
    body = validate_source_body(body)
    now = tx_time(ctx)
    if body["channel"] != ctx.stub.get_channel_id():
        raise Conflict(f"proposal is for channel {body['channel']}, this is {ctx.stub.get_channel_id()}")
    pid = sm3_hex(canonical_json(body))
    if find_source_proposal(ctx.stub, pid) is not None:
        raise Conflict(f"source proposal {pid} already exists (duplicate)")
    if nonce_used(ctx.stub, body["nonce"]):
        raise Conflict(f"nonce {body['nonce']!r} was already used by another proposal (replay)")
    if now > body["expiry"]:
        raise Conflict(f"proposal expired at {body['expiry']} (transaction time {now})")
    lifetime = int(get_policy(ctx.stub, "governance")["max_proposal_lifetime"])
    if body["expiry"] - now > lifetime:
        raise InvalidInput(f"expiry is more than max_proposal_lifetime ({lifetime} s) after the transaction time")
    operation_rule(ctx.stub, RULE)
    checked = _check_artifact(body, artifact)
    _check_state(ctx.stub, body)
    sig = _signature(ctx, body, key_id, signature)
    proposal = {"proposal_id": pid, "body": body, "artifact": checked, "status": "open", "proposed_at": now,
                "proposer_msp": sig["msp_id"], "signatures": {sig["msp_id"]: sig}}
    spend_nonce(ctx.stub, body["nonce"], pid)
    put_source_proposal(ctx.stub, proposal)
    record_event(ctx, "source_proposed", {"proposal_id": pid, "operation": body["operation"], "source": body["source"]})
    return proposal


def _open(ctx: Any, proposal_id: str) -> dict[str, Any]:
    proposal = find_source_proposal(ctx.stub, proposal_id) if isinstance(proposal_id, str) and proposal_id else None
    if proposal is None:
        raise NotFound(f"source proposal {proposal_id!r} does not exist")
    if proposal["status"] != "open":
        raise Conflict(f"source proposal {proposal_id} is already {proposal['status']}")
    if tx_time(ctx) > proposal["body"]["expiry"]:
        raise Conflict(f"source proposal {proposal_id} expired at {proposal['body']['expiry']}")
    return proposal


def sign_source(ctx: Any, proposal_id: str, key_id: str, signature: str) -> dict[str, Any]:
    """Add the calling org's signature. Raises NotFound, Conflict (closed, expired, org signed), Forbidden."""
    proposal = _open(ctx, proposal_id)
    msp = caller_msp(ctx)
    if msp in proposal["signatures"]:
        raise Conflict(f"{msp} already signed source proposal {proposal_id}")
    proposal["signatures"][msp] = _signature(ctx, proposal["body"], key_id, signature)
    put_source_proposal(ctx.stub, proposal)
    record_event(ctx, "source_signed", {"proposal_id": proposal_id})
    return proposal


def _valid_signers(ctx: Any, proposal: dict[str, Any]) -> set[str]:
    body = canonical_json(proposal["body"])
    valid = set()
    for msp, sig in sorted(proposal["signatures"].items()):
        try:
            verify_sm2(ctx, sig["key_id"], body, bytes.fromhex(sig["signature"]), msp, usage="govern")
        except (Forbidden, NotFound):
            continue
        valid.add(msp)
    return valid


def execute_source(ctx: Any, proposal_id: str) -> dict[str, Any]:
    """Execute a source proposal at its threshold; writes the source record. Returns the proposal.

    Raises:
        NotFound, Conflict: unknown/closed/expired proposal, source state changed since.
        Forbidden: under the ``policy_update`` threshold (naming the count).
    """
    proposal = _open(ctx, proposal_id)
    body = proposal["body"]
    spec = operation_rule(ctx.stub, RULE)
    signers = _valid_signers(ctx, proposal)
    members = list_members(ctx.stub)
    met, why = threshold_met(spec, members, signers)
    if not met:
        raise Forbidden(f"source proposal {proposal_id} ({body['operation']}) is under threshold: {why}")
    _check_state(ctx.stub, body)
    now = tx_time(ctx)
    current = find_source(ctx.stub, body["source"]) or {"name": body["source"], "version": 0, "history": []}
    entry = {"operation": body["operation"], "proposal_id": proposal_id, "at": now, "digest": body["digest"]}
    record = {**current, "status": "removed" if body["operation"] == "source_remove" else "active",
              "version": int(current["version"]) + 1, "updated_at": now, "proposal_id": proposal_id,
              "history": [*current["history"], entry]}
    if body["operation"] != "source_remove":
        record.update(document=proposal["artifact"], digest=body["digest"])
    put_source(ctx.stub, record)
    proposal.update(status="executed", executed_at=now, executed_tx=ctx.stub.get_tx_id(),
                    counted_signers=sorted(signers), threshold=threshold_in_force(ctx.stub, spec, members, why))
    put_source_proposal(ctx.stub, proposal)
    record_event(ctx, "source_executed", {"proposal_id": proposal_id, "operation": body["operation"],
                                          "source": body["source"], "signers": sorted(signers), "why": why})
    return proposal
