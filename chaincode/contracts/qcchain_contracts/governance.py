"""Governance contract: consortium members, on-chain policy documents and governed proposals.

Trust model of :meth:`Governance.bootstrap`: the first call on an empty ledger installs the initial
members and policy documents, once. It must come from an admin (certificate ``OU=admin``) of an org in
that member list, and — on Fabric — it is an ordinary transaction, so it only commits if it satisfies
the chaincode's endorsement policy (e.g. ``MAJORITY Endorsement``): the peers of a majority of the
channel's orgs execute it and sign the same write set. The initial state is therefore what the channel's
orgs endorsed, exactly like the channel's own genesis configuration; after that, every change of
members or policies is a proposal signed by org admins' SM2 keys (see :mod:`.lifecycle`).

Proposals (``governance:propose`` / ``sign`` / ``execute``): the body is canonical JSON
``{operation, target{channel, chaincode, contract}, version, package_digest, reason, nonce, expiry}``
and its id is the hex SM3 of those bytes. For ``policy_update`` the target's ``contract`` names the
policy and ``package_digest`` is the SM3 of the canonical document (sent as ``artifact``); for
``member_admit`` it names the MSP id and ``package_digest`` is the SM3 of the canonical member record;
for ``member_remove`` it names the MSP id; for ``node_admit`` / ``node_remove`` the node id (or ``genesis``
for the initial node set, see :mod:`.nodes`). Signatures are SM2 over the canonical body by keys with
usage ``govern``, one per org, submitted by that org.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from qcchain_model import creditcode as _credit
from qcchain_model.errors import InvalidCreditCode
from qcchain_shim import Context, Contract, transaction

from .common import caller_msp, get_json, list_by_prefix, put_json, record_event, require_admin, sm3_hex, tx_time
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .lifecycle import OPERATIONS, require_serving

log = logging.getLogger(__name__)

__all__ = [
    "Governance",
    "member_of",
    "role_of",
    "list_members",
    "get_policy",
    "require_serving",
    "validate_credit_code",
    "validate_member",
    "validate_governance_policy",
    "validate_policy",
]

POLICY_NAMES = ("governance", "grading", "sharing")
_MSP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MEMBER_FIELDS = ("msp_id", "role", "name", "credit_code")


def validate_credit_code(code: Any) -> str:
    """Check an 18-character unified social credit code (GB 32100-2015); see :mod:`qcchain_model.creditcode`.

    Raises:
        InvalidInput: wrong length, characters outside the code set (no I, O, S, V, Z), or a wrong check.
    """
    try:
        return _credit.validate_credit_code(code)
    except InvalidCreditCode as exc:
        raise InvalidInput(str(exc)) from None


def validate_member(member: Any, roles: list[str]) -> dict[str, Any]:
    """Check a member record ``{msp_id, role, name, credit_code}`` and return it normalised.

    Raises:
        InvalidInput: not an object, extra/missing fields, bad MSP id, unknown role, empty name, bad credit code.
    """
    if not isinstance(member, dict) or sorted(member) != sorted(MEMBER_FIELDS):
        raise InvalidInput(f"a member must be an object with exactly {', '.join(MEMBER_FIELDS)}")
    if not isinstance(member["msp_id"], str) or not _MSP.match(member["msp_id"]):
        raise InvalidInput(f"member msp_id {member['msp_id']!r} is not a valid MSP id")
    if member["role"] not in roles:
        raise InvalidInput(f"member {member['msp_id']}: role {member['role']!r} is not one of {', '.join(roles)}")
    if not isinstance(member["name"], str) or not member["name"].strip() or len(member["name"]) > 200:
        raise InvalidInput(f"member {member['msp_id']}: name must be 1..200 characters")
    validate_credit_code(member["credit_code"])
    return {key: member[key] for key in MEMBER_FIELDS}


def validate_governance_policy(doc: Any) -> None:
    """Check a governance policy document.

    Raises:
        InvalidInput: missing roles/operations, an operation without a valid rule, unknown roles.
    """
    from .lifecycle import required_count

    if not isinstance(doc, dict) or not isinstance(doc.get("roles"), list) or not doc["roles"]:
        raise InvalidInput("governance policy: 'roles' must be a non-empty list")
    ops = doc.get("operations")
    if not isinstance(ops, dict):
        raise InvalidInput("governance policy: 'operations' must be an object")
    errors = [f"operations.{op}: missing" for op in OPERATIONS if op not in ops]
    for op, spec in sorted(ops.items()):
        if op not in OPERATIONS or not isinstance(spec, dict):
            errors.append(f"operations.{op}: unknown operation or not an object")
            continue
        try:
            required_count(str(spec.get("rule")), 5)
        except InvalidInput as exc:
            errors.append(f"operations.{op}.rule: {exc.message}")
        for field in ("among_roles", "require_roles"):
            bad = [r for r in spec.get(field, []) if r not in doc["roles"]]
            if bad:
                errors.append(f"operations.{op}.{field}: unknown roles {', '.join(bad)}")
    lifetime = doc.get("max_proposal_lifetime", 0)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime <= 0:
        errors.append("max_proposal_lifetime: must be a positive number of seconds")
    if errors:
        raise InvalidInput("governance policy invalid: " + "; ".join(errors))


def validate_policy(name: str, doc: Any) -> None:
    """Check a policy document by name (governance here; grading and sharing by their modules).

    Raises:
        InvalidInput: unknown policy name or an invalid document.
    """
    if name == "governance":
        validate_governance_policy(doc)
    elif name == "grading":
        from .grading import validate_grading_policy

        validate_grading_policy(doc)
    elif name == "sharing":
        from .sharing import validate_sharing_policy

        validate_sharing_policy(doc)
    else:
        raise InvalidInput(f"policy name {name!r} is not one of {', '.join(POLICY_NAMES)}")


def _member_key(stub: Any, msp_id: str) -> str:
    return stub.create_composite_key("gov.member", [msp_id])


def member_of(stub: Any, msp_id: str) -> dict[str, Any] | None:
    """The member record ``{msp_id, role, name, credit_code, status, ...}`` or None."""
    if not isinstance(msp_id, str) or not _MSP.match(msp_id):
        return None
    return get_json(stub, _member_key(stub, msp_id))


def role_of(stub: Any, msp_id: str) -> str | None:
    """The role of an *active* member, or None."""
    member = member_of(stub, msp_id)
    return member["role"] if member and member["status"] == "active" else None


def list_members(stub: Any) -> list[dict[str, Any]]:
    """Every member record (any status), in MSP-id order."""
    return list_by_prefix(stub, "gov.member", [])


def get_policy(stub: Any, name: str) -> dict[str, Any]:
    """The current document of policy ``name``.

    Raises:
        NotFound: the policy was never installed.
    """
    record = get_json(stub, stub.create_composite_key("gov.policy", [name]))
    if record is None:
        raise NotFound(f"policy {name!r} is not installed on this channel")
    return dict(record["document"])


def store_policy(ctx: Any, name: str, document: dict[str, Any], version: str, source: str) -> dict[str, Any]:
    """Validate and write a policy document. Raises InvalidInput."""
    from qcchain_core.canonical import canonical_json

    validate_policy(name, document)
    record = {"name": name, "version": version, "digest": sm3_hex(canonical_json(document)),
              "document": document, "updated_at": tx_time(ctx), "source": source}
    put_json(ctx.stub, ctx.stub.create_composite_key("gov.policy", [name]), record)
    return record


def store_member(ctx: Any, member: dict[str, Any], status: str, source: str) -> dict[str, Any]:
    """Write a member record with its status and provenance."""
    record = {**member, "status": status, "updated_at": tx_time(ctx), "source": source}
    put_json(ctx.stub, _member_key(ctx.stub, member["msp_id"]), record)
    return record


def _bootstrap(ctx: Context, members: list, policies: dict) -> dict[str, Any]:
    meta_key = ctx.stub.create_composite_key("gov.meta", ["bootstrap"])
    if get_json(ctx.stub, meta_key) is not None:
        raise Conflict("the channel is already bootstrapped; change members and policies through proposals")
    msp = require_admin(ctx, "bootstrap")
    if not isinstance(policies, dict) or "governance" not in policies:
        raise InvalidInput("bootstrap needs policies with at least a 'governance' document")
    for name in sorted(policies):
        validate_policy(name, policies[name])
    roles = list(policies["governance"]["roles"])
    if not isinstance(members, list) or not members:
        raise InvalidInput("bootstrap needs a non-empty list of members")
    checked = [validate_member(m, roles) for m in members]
    for field in ("msp_id", "credit_code"):
        values = [m[field] for m in checked]
        if len(set(values)) != len(values):
            raise InvalidInput(f"bootstrap members repeat a {field}")
    if msp not in {m["msp_id"] for m in checked}:
        raise Forbidden(f"bootstrap must come from an admin of one of the initial members, not {msp}")
    for member in checked:
        store_member(ctx, member, "active", "bootstrap")
    for name in sorted(policies):
        store_policy(ctx, name, policies[name], str(policies[name].get("version", "1")), "bootstrap")
    meta = {"bootstrapped_at": tx_time(ctx), "by_msp": msp, "by_id": ctx.client_identity.id,
            "tx_id": ctx.stub.get_tx_id(), "members": [m["msp_id"] for m in checked], "policies": sorted(policies)}
    put_json(ctx.stub, meta_key, meta)
    record_event(ctx, "bootstrap", {"members": meta["members"], "policies": meta["policies"]})
    return meta


class Governance(Contract):
    """``governance:*`` — bootstrap, members, policies, proposals (the default contract)."""

    name = "governance"

    def before_transaction(self, ctx: Context) -> None:
        fn, _ = ctx.stub.get_function_and_parameters()
        reads = ("get_member", "members", "policy", "get_proposal", "proposals", "unit", "units", "info", "whoami",
                 "node", "nodes")
        if fn.split(":")[-1] not in reads:  # reads stay available after destroy, for audit
            require_serving(ctx, "governance", write=True)

    @transaction
    def bootstrap(self, ctx: Context, members: list, policies: dict) -> dict:
        """Install the initial members and policies on an empty ledger (once, by a member's admin).

        Raises: Conflict (already done), Forbidden (not an admin of a listed member), InvalidInput.
        """
        return _bootstrap(ctx, members, policies)

    @transaction
    def propose(self, ctx: Context, proposal: dict, artifact: dict, key_id: str, signature: str) -> dict:
        """Open a proposal signed by the proposer's ``govern`` key (see :mod:`.proposals`).

        Raises: InvalidInput, Conflict (duplicate, nonce reuse, expired, wrong state), Forbidden, NotFound.
        """
        from .proposals import propose

        return propose(ctx, proposal, artifact, key_id, signature)

    @transaction
    def sign(self, ctx: Context, proposal_id: str, key_id: str, signature: str) -> dict:
        """Add the caller's org's SM2 signature to an open proposal. Raises as propose."""
        from .proposals import sign

        return sign(ctx, proposal_id, key_id, signature)

    @transaction
    def execute(self, ctx: Context, proposal_id: str) -> dict:
        """Execute an open proposal whose signatures meet its threshold. Raises Conflict/Forbidden/NotFound."""
        from .proposals import execute

        return execute(ctx, proposal_id)

    @transaction(evaluate=True)
    def info(self, ctx: Context) -> dict:
        """Bootstrap metadata, or ``{}`` before bootstrap."""
        return get_json(ctx.stub, ctx.stub.create_composite_key("gov.meta", ["bootstrap"])) or {}

    @transaction(evaluate=True)
    def get_member(self, ctx: Context, msp_id: str) -> dict:
        """One member record. Raises NotFound."""
        member = member_of(ctx.stub, msp_id)
        if member is None:
            raise NotFound(f"{msp_id!r} is not a consortium member")
        return member

    @transaction(evaluate=True)
    def members(self, ctx: Context) -> list:
        """Every member record."""
        return list_members(ctx.stub)

    @transaction(evaluate=True)
    def policy(self, ctx: Context, name: str) -> dict:
        """The policy record (name, version, digest, document). Raises NotFound."""
        record = get_json(ctx.stub, ctx.stub.create_composite_key("gov.policy", [name]))
        if record is None:
            raise NotFound(f"policy {name!r} is not installed on this channel")
        return record

    @transaction(evaluate=True)
    def get_proposal(self, ctx: Context, proposal_id: str) -> dict:
        """One proposal with its signatures and status. Raises NotFound."""
        from .proposals import load_proposal

        return load_proposal(ctx.stub, proposal_id)

    @transaction(evaluate=True)
    def proposals(self, ctx: Context) -> list:
        """Every proposal (open and executed), in id order."""
        return list_by_prefix(ctx.stub, "gov.proposal", [])

    @transaction(evaluate=True)
    def unit(self, ctx: Context, channel: str, chaincode: str, contract: str) -> dict:
        """Lifecycle record of a governed unit (``contract`` "" = whole chaincode). Raises NotFound."""
        from .lifecycle import get_unit

        unit = get_unit(ctx.stub, channel, chaincode, contract)
        if unit is None:
            raise NotFound(f"{channel}/{chaincode}/{contract or '*'} is not governed yet")
        return unit

    @transaction(evaluate=True)
    def units(self, ctx: Context) -> list:
        """Every governed unit."""
        return list_by_prefix(ctx.stub, "gov.unit", [])

    @transaction
    def node_joined(self, ctx: Context, node_id: str, channel_name: str, config_block_number: int,
                    tls_cert_sha256: str) -> dict:
        """Attest that an admitted node joined ``channel_name`` at that config block (a member org's admin).

        Raises: Forbidden (not a member's admin, node removed, TLS fingerprint not the admitted one),
        NotFound (never admitted), Conflict (already recorded as joined), InvalidInput.
        """
        from .nodes import attest

        return attest(ctx, "joined", node_id, channel_name, config_block_number, tls_cert_sha256)

    @transaction
    def node_left(self, ctx: Context, node_id: str, channel_name: str, config_block_number: int) -> dict:
        """Attest that an admitted (active or removed) node left ``channel_name`` at that config block.

        Raises: Forbidden (not a member's admin), NotFound (never admitted), Conflict (already left), InvalidInput.
        """
        from .nodes import attest

        return attest(ctx, "left", node_id, channel_name, config_block_number)

    @transaction(evaluate=True)
    def node(self, ctx: Context, node_id: str) -> dict:
        """One node record: certificate fingerprints, status, admitting proposal, history, joins.

        Raises: InvalidInput (not a node id; the value is not echoed), NotFound.
        """
        from .nodes import node_of, validate_node_id

        record = node_of(ctx.stub, validate_node_id(node_id))
        if record is None:
            raise NotFound(f"node {node_id} was never admitted through governance")
        return record

    @transaction(evaluate=True)
    def nodes(self, ctx: Context) -> list:
        """Every node record (active and removed) in node-id order, at most 1000."""
        from .nodes import list_nodes

        return list_nodes(ctx.stub)

    @transaction(evaluate=True)
    def whoami(self, ctx: Context) -> dict:
        """The caller's MSP id, admin flag and membership (handy for clients)."""
        from .common import caller_is_admin

        msp = caller_msp(ctx)
        return {"msp_id": msp, "admin": caller_is_admin(ctx), "member": member_of(ctx.stub, msp)}
