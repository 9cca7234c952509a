"""Submitting a signed proposal file to the governance chaincode: check first, then write.

:func:`precheck` reads the chain only (``governance:policy``, ``members``, ``unit``, ``get_proposal`` and
``keys:get`` per signature) and refuses — before anything is written — a proposal whose signatures do
not meet the rule of its operation, whose keys are unknown / inactive / without ``govern``, whose
transition the unit's state forbids, or that was already executed. The threshold computation mirrors
``qcchain_model.thresholds``, shared with the chaincode (the chain re-checks everything at execution).

:func:`submit` then opens the proposal with the first signer's org, adds every other signature from
that signer's own org (the chaincode binds each signature to the submitting org), and executes. With
``partial=True`` each org may run it on its own machine with only its own connection: its signature is
submitted (the first one opens the proposal), and the proposal executes once the signatures on chain meet
the threshold — so signatures collected offline in the file are submitted org by org, no org needs
another's identity.
"""


from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from qcchain_model import thresholds as _rules
from qcchain_model.thresholds import TRANSITIONS

from qcchain_gateway.errors import NotFoundError

from ..contractlike import ContractLike
from ..errors import GovernanceStateError, ProposalFileError, ThresholdNotMet
from .proposalfile import ProposalFile

log = logging.getLogger(__name__)

__all__ = ["Plan", "precheck", "submit", "threshold_met", "TRANSITIONS", "fetch_unit", "unit_name", "check_transition",
           "check_state", "check_node_state", "operation_rule"]



@dataclass
class Plan:
    """What :func:`submit` will do: signer org -> signature entry, in file order, and the rule's verdict."""

    signers: dict[str, dict[str, str]]
    why: str
    on_chain: dict[str, Any] | None = None  # the proposal if it was already opened
    ignored: list[str] = field(default_factory=list)  # why some signatures do not count
    spec: dict[str, Any] = field(default_factory=dict)  # the operation's rule
    members: list[dict[str, Any]] = field(default_factory=list)  # the consortium members


def threshold_met(spec: dict[str, Any], members: list[dict[str, Any]], signers: set[str]) -> tuple[bool, str]:
    """Whether ``signers`` (MSP ids) satisfy the operation's ``spec``: the chaincode's own rule, shared
    through :mod:`qcchain_model.thresholds`. Pure.

    Raises:
        GovernanceStateError: the rule is unknown.
    """
    try:
        return _rules.threshold_met(spec, members, signers)
    except _rules.UnknownRule as exc:
        raise GovernanceStateError(f"the governance policy has an unknown rule: {exc}") from None


def _read(contract: ContractLike, fn: str, *args: str) -> Any:
    return json.loads(contract.evaluate_transaction(fn, *args))


def _read_or_none(contract: ContractLike, fn: str, *args: str) -> Any:
    """``_read``, or None when the chaincode answers 404 (the thing does not exist). Any other failure —
    peer down, access denied, a 500 — propagates (:class:`qcchain_gateway.errors.EvaluateError`)."""
    try:
        return _read(contract, fn, *args)
    except NotFoundError:
        return None


def fetch_unit(governance: ContractLike, target: dict[str, str]) -> dict[str, Any] | None:
    """The unit record of ``target`` or None when it is not governed yet.

    Raises:
        qcchain_gateway.errors.GatewayError: the query failed for another reason.
    """
    unit = _read_or_none(governance, "unit", target["channel"], target["chaincode"], target["contract"])
    return None if unit is None else dict(unit)


def unit_name(target: dict[str, str]) -> str:
    """``channel/chaincode[/contract]``."""
    parts = [target["channel"], target["chaincode"], target.get("contract", "")]
    return "/".join(p for p in parts if p)


def check_transition(proposal: ProposalFile, unit: dict[str, Any] | None) -> None:
    """Refuse a transition the unit's state forbids, or a version approved before.

    Raises:
        GovernanceStateError: the operation is not allowed now (names the state).
    """
    state = None if unit is None else unit["state"]
    name = unit_name(proposal.target)
    if state not in TRANSITIONS[proposal.operation]:
        raise GovernanceStateError(f"cannot {proposal.operation} {name}: it is {state or 'not deployed'}")
    if unit and proposal.operation in ("deploy", "upgrade") and proposal.body["version"] in unit["versions"]:
        raise GovernanceStateError(f"version {proposal.body['version']!r} of {name} was already approved once")


def operation_rule(policy: dict[str, Any], operation: str) -> dict[str, Any]:
    """The rule of ``operation`` in an installed governance policy document.

    Raises:
        GovernanceStateError: the installed policy has no rule for it (installed before the operation existed).
    """
    spec = (policy.get("operations") or {}).get(operation)
    if not isinstance(spec, dict):
        raise GovernanceStateError(f"no rule for {operation} in the installed governance policy; update it with a "
                                   "policy_update proposal")
    return dict(spec)


def check_node_state(proposal: ProposalFile, governance: ContractLike) -> None:
    """Refuse a node admission of an already active node, or a removal of a node that is not active.

    Raises:
        ProposalFileError: a genesis artifact that is not ``{"nodes": [record, ...]}`` with string node ids.
        GovernanceStateError: the node's state forbids the operation.
        qcchain_gateway.errors.GatewayError: a query failed.
    """
    subject = proposal.target["contract"]
    if proposal.operation == "node_admit" and subject == "genesis":
        records = (proposal.artifact or {}).get("nodes")
        if not isinstance(records, list) or not all(isinstance(r, dict) and isinstance(r.get("node_id"), str)
                                                    for r in records):
            raise ProposalFileError('a genesis node admission carries {"nodes": [record, ...]} with string node ids')
        ids = [r["node_id"] for r in records]
    else:
        ids = [subject]
    for node_id in ids:
        node = _read_or_none(governance, "node", node_id)
        active = node is not None and node.get("status") == "active"
        if proposal.operation == "node_admit" and active:
            raise GovernanceStateError(f"node {node_id} is already admitted and active; nothing was submitted")
        if proposal.operation == "node_remove" and not active:
            raise GovernanceStateError(f"node {node_id} is not an active admitted node "
                                       f"({'never admitted' if node is None else 'removed'}); nothing was submitted")


def check_state(proposal: ProposalFile, governance: ContractLike) -> None:
    """The state check of :func:`precheck` for any operation (units: transition; nodes: node state).

    Raises:
        GovernanceStateError: the chain's state forbids the operation.
        qcchain_gateway.errors.GatewayError: a query failed.
    """
    if proposal.operation in TRANSITIONS:
        check_transition(proposal, fetch_unit(governance, proposal.target))
    elif proposal.operation in ("node_admit", "node_remove"):
        check_node_state(proposal, governance)


def _signer_orgs(proposal: ProposalFile, keys: ContractLike, now: int) -> tuple[dict[str, dict[str, str]], list[str]]:
    signers: dict[str, dict[str, str]] = {}
    ignored: list[str] = []
    for entry in proposal.signatures:
        short = entry["key_id"][:16] + "…"
        record = _read_or_none(keys, "get", entry["key_id"])
        if record is None:
            ignored.append(f"key {short} is not registered on chain")
            continue
        if record.get("state", "active") != "active" or not record["not_before"] <= now < record["not_after"]:
            ignored.append(f"key {short} of {record['msp_id']} is {record.get('state', 'outside its validity')}")
        elif "govern" not in record["usages"]:
            ignored.append(f"key {short} of {record['msp_id']} is not registered for 'govern'")
        elif record["msp_id"] in signers:
            ignored.append(f"{record['msp_id']} signed twice; one signature per org counts")
        else:
            signers[record["msp_id"]] = entry
    return signers, ignored


def precheck(proposal: ProposalFile, governance: ContractLike, keys: ContractLike, now: int) -> Plan:
    """Decide, from the chain's current state, whether the proposal can execute; writes nothing.

    Raises:
        ThresholdNotMet: no signature, or the counted signers do not meet the operation's rule.
        GovernanceStateError: expired, already executed, a transition the unit's state forbids, a node
            admission/removal the node's state forbids, or no rule for the operation in the installed policy.
        qcchain_gateway.errors.GatewayError: a query failed.
    """
    pid = proposal.proposal_id
    if now > int(proposal.body["expiry"]):
        raise GovernanceStateError(f"proposal {pid[:16]}… expired at {proposal.body['expiry']}")
    if not proposal.signatures:
        raise ThresholdNotMet(f"proposal {pid[:16]}… ({proposal.operation}) is unsigned: "
                              "org admins sign it first with `qcchain contract sign`")
    on_chain = _read_or_none(governance, "get_proposal", pid)
    if on_chain is not None and on_chain["status"] != "open":
        raise GovernanceStateError(f"proposal {pid[:16]}… is already {on_chain['status']} on chain")
    if on_chain is None:
        check_state(proposal, governance)
    spec = operation_rule(_read(governance, "policy", "governance")["document"], proposal.operation)
    members = _read(governance, "members")
    signers, ignored = _signer_orgs(proposal, keys, now)
    counted = set(signers) | set((on_chain or {}).get("signatures", {}))
    met, why = threshold_met(spec, members, counted)
    if not met:
        extra = f" ({'; '.join(ignored)})" if ignored else ""
        raise ThresholdNotMet(f"proposal {pid[:16]}… ({proposal.operation}) is under threshold: {why}{extra}; "
                              "nothing was submitted")
    return Plan(signers, why, on_chain, ignored, spec, members)


def submit(proposal: ProposalFile, plan: Plan, connections: dict[str, ContractLike],
           partial: bool = False) -> dict[str, Any]:
    """Open (unless already open), add each org's signature from that org, execute; returns the proposal.

    ``connections``: MSP id -> that org's ``governance`` contract (Gateway as the org's admin). With
    ``partial``, only the signatures of the connected orgs are submitted, and the proposal is executed only
    when the signatures then on chain meet the threshold; otherwise the result is
    ``{"status": "open", "proposal_id", "signed": [...], "waiting_for": [...], "why": ...}``.

    Raises:
        GovernanceStateError: a signer org has no connection (without ``partial``), or nothing can be
            submitted (checked before anything is written).
        qcchain_gateway.errors.GatewayError: a transaction was refused (the chain's message says why).
    """
    already = set((plan.on_chain or {}).get("signatures", {}))
    pending = [msp for msp in plan.signers if msp not in already]
    absent = [msp for msp in pending if msp not in connections]
    if absent and not partial:
        raise GovernanceStateError(f"signatures of {', '.join(absent)} must be submitted by those orgs: give a "
                                   "connection profile of each (--profile); nothing was submitted")
    mine = [msp for msp in pending if msp in connections]
    if not mine and plan.on_chain is None:
        if partial and pending:
            raise GovernanceStateError(f"none of the connected orgs signed this proposal; its signers "
                                       f"({', '.join(pending)}) submit their own signatures; nothing was submitted")
        raise GovernanceStateError("no signature can be submitted")
    pid = proposal.proposal_id
    for i, msp in enumerate(mine):
        entry = plan.signers[msp]
        if i == 0 and plan.on_chain is None:
            connections[msp].submit_transaction("propose", json.dumps(proposal.body), json.dumps(proposal.artifact or {}),
                                                entry["key_id"], entry["signature"])
        else:
            connections[msp].submit_transaction("sign", pid, entry["key_id"], entry["signature"])
        log.info("submitted the signature of %s on proposal %s", msp, pid[:16])
    executor = connections[mine[0]] if mine else next(iter(connections.values()))
    if partial:
        on_chain = already | set(mine)
        met, why = threshold_met(plan.spec, plan.members, on_chain)
        if not met:
            return {"status": "open", "proposal_id": pid, "signed": sorted(on_chain),
                    "waiting_for": sorted(set(plan.signers) - on_chain), "why": why}
    return dict(json.loads(executor.submit_transaction("execute", pid)))
