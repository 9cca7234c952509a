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
for the initial node set, see :mod:`.noderegistry`); for ``channel_create`` the channel and for
``channel_join`` the MSP id, with the channel (and members) in the artifact (see :mod:`.channeldecisions`). Signatures are SM2 over the canonical body by keys with
usage ``govern``, one per org, submitted by that org.

This module is the contract front only: members and policies are stored by :mod:`.store.members` and
:mod:`.store.policies`, policy documents checked by :mod:`.policy_rules`, proposals run by
:mod:`.proposals`, units by :mod:`.lifecycle`, nodes by :mod:`.noderegistry`.
"""

from __future__ import annotations

import logging
from typing import Any

from qcchain_shim import Context, Contract, transaction

from . import noderegistry as _nodes
from . import proposals as _proposals
from .clock import require_fresh
from .common import caller_is_admin, caller_msp, get_json, put_json, record_event, require_admin, tx_time
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .lifecycle import require_serving
from .policy_rules import install_policy, validate_policy
from .channeldecisions import CHANNEL_NAME
from .store.channels import channel_of, join_of
from .store.members import MSP_ID, list_members, member_of, put_member, validate_member
from .store.nodes import list_nodes, node_of
from .store.policies import policy_record
from .store.proposals import list_proposals, load_proposal
from .store.units import get_unit, list_units

log = logging.getLogger(__name__)

__all__ = ["Governance"]


def _bootstrap_key(ctx: Context) -> str:
    return ctx.stub.create_composite_key("gov.meta", ["bootstrap"])


def _bootstrap(ctx: Context, members: list, policies: dict) -> dict[str, Any]:
    meta_key = _bootstrap_key(ctx)
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
        put_member(ctx, member, "active", "bootstrap")
    for name in sorted(policies):
        install_policy(ctx, name, policies[name], str(policies[name].get("version", "1")), "bootstrap")
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
                 "node", "nodes", "get_channel", "get_channel_join")
        if fn.split(":")[-1] not in reads:  # reads stay available after destroy, for audit
            require_serving(ctx, "governance", write=True)
        else:
            require_fresh(ctx)  # T-5.2a: no backdated reads either (writes check it in require_serving)

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
        return _proposals.propose(ctx, proposal, artifact, key_id, signature)

    @transaction
    def sign(self, ctx: Context, proposal_id: str, key_id: str, signature: str) -> dict:
        """Add the caller's org's SM2 signature to an open proposal. Raises as propose."""
        return _proposals.sign(ctx, proposal_id, key_id, signature)

    @transaction
    def execute(self, ctx: Context, proposal_id: str) -> dict:
        """Execute an open proposal whose signatures meet its threshold. Raises Conflict/Forbidden/NotFound."""
        return _proposals.execute(ctx, proposal_id)

    @transaction(evaluate=True)
    def info(self, ctx: Context) -> dict:
        """Bootstrap metadata, or ``{}`` before bootstrap."""
        return get_json(ctx.stub, _bootstrap_key(ctx)) or {}

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
        return policy_record(ctx.stub, name)

    @transaction(evaluate=True)
    def get_proposal(self, ctx: Context, proposal_id: str) -> dict:
        """One proposal with its signatures and status. Raises NotFound."""
        return load_proposal(ctx.stub, proposal_id)

    @transaction(evaluate=True)
    def proposals(self, ctx: Context) -> list:
        """Every proposal (open and executed), in id order."""
        return list_proposals(ctx.stub)

    @transaction(evaluate=True)
    def unit(self, ctx: Context, channel: str, chaincode: str, contract: str) -> dict:
        """Lifecycle record of a governed unit (``contract`` "" = whole chaincode). Raises NotFound."""
        unit = get_unit(ctx.stub, channel, chaincode, contract)
        if unit is None:
            raise NotFound(f"{channel}/{chaincode}/{contract or '*'} is not governed yet")
        return unit

    @transaction(evaluate=True)
    def units(self, ctx: Context) -> list:
        """Every governed unit."""
        return list_units(ctx.stub)

    @transaction
    def node_joined(self, ctx: Context, node_id: str, channel_name: str, config_block_number: int,
                    tls_cert_sha256: str) -> dict:
        """Attest that an admitted node joined ``channel_name`` at that config block (a member org's admin).

        Raises: Forbidden (not a member's admin, node removed, TLS fingerprint not the admitted one),
        NotFound (never admitted), Conflict (already recorded as joined), InvalidInput.
        """
        return _nodes.attest(ctx, "joined", node_id, channel_name, config_block_number, tls_cert_sha256)

    @transaction
    def node_left(self, ctx: Context, node_id: str, channel_name: str, config_block_number: int) -> dict:
        """Attest that an admitted (active or removed) node left ``channel_name`` at that config block.

        Raises: Forbidden (not a member's admin), NotFound (never admitted), Conflict (already left), InvalidInput.
        """
        return _nodes.attest(ctx, "left", node_id, channel_name, config_block_number)

    @transaction(evaluate=True)
    def node(self, ctx: Context, node_id: str) -> dict:
        """One node record: certificate fingerprints, status, admitting proposal, history, joins.

        Raises: InvalidInput (not a node id; the value is not echoed), NotFound.
        """
        record = node_of(ctx.stub, _nodes.validate_node_id(node_id))
        if record is None:
            raise NotFound(f"node {node_id} was never admitted through governance")
        return record

    @transaction(evaluate=True)
    def nodes(self, ctx: Context) -> list:
        """Every node record (active and removed) in node-id order, at most 1000."""
        return list_nodes(ctx.stub)

    @transaction(evaluate=True)
    def get_channel(self, ctx: Context, channel: str) -> dict:
        """The channel record written by an executed ``channel_create`` (``{channel, members, source,
        created_at}``). Raises NotFound (also for a channel made with the network: it has no record)."""
        record = channel_of(ctx.stub, channel) if isinstance(channel, str) and CHANNEL_NAME.match(channel) else None
        if record is None:
            raise NotFound("no executed channel_create for this channel")
        return record

    @transaction(evaluate=True)
    def get_channel_join(self, ctx: Context, channel: str, msp_id: str) -> dict:
        """The join record written by an executed ``channel_join`` (``{channel, msp_id, source, joined_at}``).
        Raises NotFound."""
        ok = isinstance(channel, str) and CHANNEL_NAME.match(channel) and isinstance(msp_id, str) \
            and MSP_ID.match(msp_id)
        record = join_of(ctx.stub, channel, msp_id) if ok else None
        if record is None:
            raise NotFound("no executed channel_join for this member and channel")
        return record

    @transaction(evaluate=True)
    def whoami(self, ctx: Context) -> dict:
        """The caller's MSP id, admin flag and membership (handy for clients)."""
        msp = caller_msp(ctx)
        return {"msp_id": msp, "admin": caller_is_admin(ctx), "member": member_of(ctx.stub, msp)}
