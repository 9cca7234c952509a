"""Governance proposals: propose, sign, execute (ARCHITECTURE decision 8; REQUIREMENTS T-9.2.6).

A proposal body is ``{operation, target{channel, chaincode, contract}, version, package_digest, reason,
nonce, expiry}`` (exactly these keys); its id is the hex SM3 of the canonical body, and every signature
is SM2 (default user id) over the canonical body bytes by a registered key with usage ``govern`` of the
submitting org — one signature per org. Checks, each failing with a clear error and writing nothing:
duplicate proposal (same id), nonce reuse (replay), expiry passed or too far (``max_proposal_lifetime``),
proposal for another channel, artefact not matching ``package_digest``, wrong signature, key revoked /
expired / of another org / without ``govern``, signer org not an active member, execution under the
threshold of the operation's rule in the ``governance`` policy (or no rule for it in the installed policy),
a lifecycle transition the unit's state forbids, a node admission / removal the node registry forbids
(:mod:`.noderegistry`), or a channel creation / join governance cannot decide (:mod:`.channeldecisions`). At execution every signature's key is re-checked at transaction time, and the rule, the
governance policy (version, digest) and the members in force then are stored with the proposal
(``threshold``, :func:`threshold_in_force`) for the auditor's re-check.

Rules layer: proposals are stored by :mod:`.store.proposals`; the ``governance:propose`` / ``sign`` /
``execute`` transactions are in the :mod:`.governance` front.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_model.messages import proposal_id
from qcchain_model.proposals import (ARTIFACT_OPERATIONS, BODY_FIELDS, CHANNEL_OPERATIONS, DIGEST_OPERATIONS,
                                     EVIDENCE_FIELDS, NODE_OPERATIONS, NOT_VERIFIED, OPERATIONS, SUBJECT_OPERATIONS,
                                     TARGET_FIELDS, UNIT_OPERATIONS, VERSIONED_OPERATIONS)

from .channeldecisions import apply_channel_operation, validate_channel_artifact
from .common import caller_msp, record_event, require_hex64, require_int, require_str, sm3_hex, tx_time
from .errors import Conflict, Forbidden, InvalidInput, InvalidSignatureError, NotFound
from .lifecycle import apply_unit_operation, next_state, threshold_met
from .noderegistry import GENESIS, admit, remove, require_active, validate_admission, validate_node_id
from .policy_rules import install_policy, validate_policy
from .signatures import verify_sm2
from .store.members import ca_clash, list_members, member_fields, member_of, put_member, validate_member
from .store.policies import get_policy, policy_record
from .store.proposals import find_proposal, load_proposal, nonce_used, put_proposal, spend_nonce
from .store.units import get_unit, mark_proposed

log = logging.getLogger(__name__)

__all__ = ["proposal_id_of", "validate_body", "operation_rule", "propose", "sign", "execute", "threshold_in_force"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


def proposal_id_of(body: dict[str, Any]) -> str:
    """Hex SM3 of the canonical body (:func:`qcchain_model.messages.proposal_id`, shared with the SDK)."""
    return proposal_id(body)


def validate_body(body: Any) -> dict[str, Any]:
    """Check the shape of a proposal body (pure). Returns it.

    Raises:
        InvalidInput: missing/extra fields, unknown operation, malformed names, digest, nonce or expiry.
    """
    if not isinstance(body, dict) or sorted(body) not in (sorted(BODY_FIELDS), sorted(BODY_FIELDS + EVIDENCE_FIELDS)):
        raise InvalidInput(f"a proposal must have exactly the fields {', '.join(BODY_FIELDS)} "
                           f"(deploy/upgrade: and optionally {', '.join(EVIDENCE_FIELDS)})")
    op = body["operation"]
    if op not in OPERATIONS:
        raise InvalidInput(f"operation {op!r} is not one of {', '.join(OPERATIONS)}")
    if "review_sm3" in body:
        _check_evidence(op, body)
    target = body["target"]
    if not isinstance(target, dict) or sorted(target) != sorted(TARGET_FIELDS):
        raise InvalidInput(f"target must have exactly the fields {', '.join(TARGET_FIELDS)}")
    require_str(target["channel"], "target.channel", 64, _NAME)
    require_str(target["chaincode"], "target.chaincode", 64, _NAME)
    if op in NODE_OPERATIONS:
        _check_node_target(op, target["contract"], body["version"])
    elif target["contract"] != "":
        require_str(target["contract"], "target.contract", 64, _NAME)
    if not isinstance(body["version"], str) or len(body["version"]) > 64:
        raise InvalidInput("version must be a string of at most 64 characters")
    if op in VERSIONED_OPERATIONS:
        require_str(body["version"], "version", 64)
    if op in DIGEST_OPERATIONS:
        require_hex64(body["package_digest"], "package_digest")
    elif body["package_digest"] != "":
        raise InvalidInput(f"package_digest must be empty for {op}")
    if op in SUBJECT_OPERATIONS and not target["contract"]:
        raise InvalidInput(f"{op} names its subject (policy name or MSP id) in target.contract")
    if not isinstance(body["reason"], str) or len(body["reason"]) > 512:
        raise InvalidInput("reason must be a string of at most 512 characters")
    require_str(body["nonce"], "nonce", 128, _NONCE)
    require_int(body["expiry"], "expiry", 0)
    return body


def _check_evidence(op: str, body: dict[str, Any]) -> None:
    """Deploy/upgrade may name the SM3 of the package's review report and of its verification report
    (or ``"not verified"``); they are part of the signed body and stored with the proposal."""
    if op not in ("deploy", "upgrade"):
        raise InvalidInput(f"{op} carries no review or verification digest")
    require_hex64(body["review_sm3"], "review_sm3")
    if body["verification_sm3"] != NOT_VERIFIED:
        require_hex64(body["verification_sm3"], f"verification_sm3 (or {NOT_VERIFIED!r})")


def _check_node_target(op: str, contract: Any, version: Any) -> None:
    if not (op == "node_admit" and contract == GENESIS):
        validate_node_id(contract, "target.contract")
    if version != "":
        raise InvalidInput(f"version must be empty for {op}")


def operation_rule(stub: Any, operation: str) -> dict[str, Any]:
    """The installed governance policy's rule for ``operation``.

    Raises:
        Forbidden: the installed policy has no rule for it (a policy installed before the operation existed).
        NotFound: no governance policy is installed.
    """
    spec = get_policy(stub, "governance").get("operations", {}).get(operation)
    if not isinstance(spec, dict):
        raise Forbidden(f"no rule for {operation} in the installed governance policy; update it with a "
                        "policy_update proposal")
    return spec


def _check_artifact(ctx: Any, body: dict[str, Any], artifact: Any) -> dict[str, Any] | None:
    op, subject = body["operation"], body["target"]["contract"]
    if op not in ARTIFACT_OPERATIONS:
        if artifact not in ({}, None):
            raise InvalidInput(f"{op} takes no artifact")
        return None
    if not isinstance(artifact, dict) or sm3_hex(_canonical(artifact, "artifact")) != body["package_digest"]:
        raise InvalidInput(f"artifact does not match package_digest (SM3 of its canonical JSON) for {op}")
    if op == "policy_update":
        validate_policy(subject, artifact)
    elif op == "node_admit":
        validate_admission(ctx, subject, artifact)
    elif op in CHANNEL_OPERATIONS:
        validate_channel_artifact(ctx, op, subject, artifact)
    else:
        validate_member(artifact, list(get_policy(ctx.stub, "governance")["roles"]))
        if artifact["msp_id"] != subject:
            raise InvalidInput(f"member record is for {artifact['msp_id']}, target names {subject}")
        if member_of(ctx.stub, subject) is not None:
            raise Conflict(f"{subject} is already a member (status kept in its record)")
        if ca_clash(ctx.stub, artifact):
            raise Conflict(f"{subject}: its CA certificate is already bound to member {ca_clash(ctx.stub, artifact)}")
    return artifact


def _canonical(value: Any, what: str) -> bytes:
    try:
        return canonical_json(value)
    except ValueError as exc:  # CanonicalJSONError, or UnicodeEncodeError for a lone surrogate
        raise InvalidInput(f"{what} cannot be encoded as canonical JSON (UTF-8 text, finite numbers)") from exc


def _check_state(ctx: Any, body: dict[str, Any]) -> None:
    op, target = body["operation"], body["target"]
    if op in UNIT_OPERATIONS:
        unit = get_unit(ctx.stub, target["channel"], target["chaincode"], target["contract"])
        state = None if unit is None else unit["state"]
        next_state(state if not (state == "proposed" and op == "deploy") else "proposed", op)
        if unit and op in ("deploy", "upgrade") and body["version"] in unit["versions"]:
            raise Conflict(f"version {body['version']!r} was already approved once for this contract")
    elif op == "node_remove":
        require_active(ctx.stub, target["contract"])
    elif op == "member_remove":
        member = member_of(ctx.stub, target["contract"])
        if member is None or member["status"] != "active":
            raise NotFound(f"{target['contract']} is not an active member")


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
            "tx_id": ctx.stub.get_tx_id(), "signer_id": ctx.client_identity.id}


def propose(ctx: Any, body: Any, artifact: Any, key_id: str, signature: str) -> dict[str, Any]:
    """Open a proposal with the proposer's signature. Raises InvalidInput, Conflict, Forbidden, NotFound."""
    body = validate_body(body)
    _canonical(body, "proposal")
    now = tx_time(ctx)
    if body["target"]["channel"] != ctx.stub.get_channel_id():
        raise Conflict(f"proposal is for channel {body['target']['channel']}, this is {ctx.stub.get_channel_id()}")
    pid = proposal_id_of(body)
    if find_proposal(ctx.stub, pid) is not None:
        raise Conflict(f"proposal {pid} already exists (duplicate)")
    if nonce_used(ctx.stub, body["nonce"]):
        raise Conflict(f"nonce {body['nonce']!r} was already used by another proposal (replay)")
    _check_expiry(ctx, body, now)
    operation_rule(ctx.stub, body["operation"])
    checked = _check_artifact(ctx, body, artifact)
    _check_state(ctx, body)
    sig = _signature(ctx, body, key_id, signature)
    proposal = {"proposal_id": pid, "body": body, "artifact": checked, "status": "open",
                "proposer_msp": sig["msp_id"], "proposed_at": now, "proposed_tx": ctx.stub.get_tx_id(),
                "signatures": {sig["msp_id"]: sig}}
    spend_nonce(ctx.stub, body["nonce"], pid)
    put_proposal(ctx.stub, proposal)
    if body["operation"] == "deploy":
        mark_proposed(ctx.stub, body["target"], now)
    record_event(ctx, "proposed", {"proposal_id": pid, "operation": body["operation"], "target": body["target"],
                                   "version": body["version"],
                                   **{k: body[k] for k in EVIDENCE_FIELDS if k in body}})
    return proposal


def _check_expiry(ctx: Any, body: dict[str, Any], now: int) -> None:
    if now > body["expiry"]:
        raise Conflict(f"proposal expired at {body['expiry']} (transaction time {now})")
    lifetime = int(get_policy(ctx.stub, "governance")["max_proposal_lifetime"])
    if body["expiry"] - now > lifetime:
        raise InvalidInput(f"expiry is more than max_proposal_lifetime ({lifetime} s) after the transaction time")


def _open(ctx: Any, proposal_id: str) -> dict[str, Any]:
    proposal = load_proposal(ctx.stub, proposal_id)
    if proposal["status"] != "open":
        raise Conflict(f"proposal {proposal_id} is already {proposal['status']}")
    now = tx_time(ctx)
    if now > proposal["body"]["expiry"]:
        raise Conflict(f"proposal {proposal_id} expired at {proposal['body']['expiry']} (transaction time {now})")
    return proposal


def sign(ctx: Any, proposal_id: str, key_id: str, signature: str) -> dict[str, Any]:
    """Add the calling org's signature. Raises NotFound, Conflict (closed, expired, org signed), Forbidden."""
    proposal = _open(ctx, proposal_id)
    msp = caller_msp(ctx)
    if msp in proposal["signatures"]:
        raise Conflict(f"{msp} already signed proposal {proposal_id}")
    sig = _signature(ctx, proposal["body"], key_id, signature)
    if any(s["signature"] == signature for s in proposal["signatures"].values()):
        raise Conflict("this signature was already submitted (replay)")
    proposal["signatures"][msp] = sig
    put_proposal(ctx.stub, proposal)
    record_event(ctx, "signed", {"proposal_id": proposal_id, "operation": proposal["body"]["operation"]})
    return proposal


def _valid_signers(ctx: Any, proposal: dict[str, Any]) -> set[str]:
    body_bytes = canonical_json(proposal["body"])
    valid = set()
    for msp, sig in sorted(proposal["signatures"].items()):
        try:
            verify_sm2(ctx, sig["key_id"], body_bytes, bytes.fromhex(sig["signature"]), msp, usage="govern")
        except (Forbidden, NotFound):
            log.info("signature of %s on a proposal no longer counts (key inactive)", msp)
            continue
        valid.add(msp)
    return valid


def execute(ctx: Any, proposal_id: str) -> dict[str, Any]:
    """Execute the proposal if its threshold is met. Raises NotFound, Conflict, Forbidden, InvalidInput."""
    proposal = _open(ctx, proposal_id)
    body = proposal["body"]
    spec = operation_rule(ctx.stub, body["operation"])
    signers = _valid_signers(ctx, proposal)
    members = list_members(ctx.stub)
    met, why = threshold_met(spec, members, signers)
    if not met:
        raise Forbidden(f"proposal {proposal_id} ({body['operation']}) is under threshold: {why}")
    now = tx_time(ctx)
    in_force = threshold_in_force(ctx.stub, spec, members, why)  # before _apply: a policy_update changes it
    outcome = _apply(ctx, proposal, now)
    proposal.update(status="executed", executed_at=now, executed_tx=ctx.stub.get_tx_id(),
                    executed_by=caller_msp(ctx), counted_signers=sorted(signers), outcome=outcome,
                    threshold=in_force)
    put_proposal(ctx.stub, proposal)
    record_event(ctx, "executed", {"proposal_id": proposal_id, "operation": body["operation"],
                                   "target": body["target"], "version": body["version"],
                                   "signers": sorted(signers), "why": why})
    return proposal


def threshold_in_force(stub: Any, spec: dict[str, Any], members: list[dict[str, Any]], why: str) -> dict[str, Any]:
    """What the threshold was decided against, stored with the executed proposal so an auditor re-checks
    it against the policy and members in force at execution, not today's: the operation's rule, the
    governance policy's version and digest, and every member's ``{msp_id, role, status}`` then."""
    record = policy_record(stub, "governance")
    return {"rule": dict(spec), "policy_version": record["version"], "policy_digest": record["digest"],
            "members": [{"msp_id": m["msp_id"], "role": m["role"], "status": m["status"]} for m in members],
            "why": why}


def _apply(ctx: Any, proposal: dict[str, Any], now: int) -> dict[str, Any]:
    body, pid = proposal["body"], proposal["proposal_id"]
    op, subject = body["operation"], body["target"]["contract"]
    if op in UNIT_OPERATIONS:
        unit = apply_unit_operation(ctx.stub, body, pid, now)
        return {"state": unit["state"], "active_version": unit["active_version"]}
    if op == "policy_update":
        record = install_policy(ctx, subject, proposal["artifact"], body["version"], pid)
        return {"policy": subject, "digest": record["digest"]}
    if op in NODE_OPERATIONS:
        return admit(ctx, subject, proposal["artifact"], pid) if op == "node_admit" else remove(ctx, subject, pid)
    if op in CHANNEL_OPERATIONS:
        return apply_channel_operation(ctx, op, subject, proposal["artifact"], pid)
    if op == "member_admit":
        if member_of(ctx.stub, subject) is not None:
            raise Conflict(f"{subject} is already a member")
        put_member(ctx, proposal["artifact"], "active", pid)
        return {"member": subject, "status": "active"}
    member = member_of(ctx.stub, subject)
    if member is None or member["status"] != "active":
        raise Conflict(f"{subject} is not an active member")
    put_member(ctx, member_fields(member), "removed", pid)
    return {"member": subject, "status": "removed"}
