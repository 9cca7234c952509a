"""The on-chain side of a member joining or leaving (T-5.1, T-7.2.3): Fabric's channel config is changed
only after governance decided it.

``governance:get_member`` on the governance channel must show the org ``active`` with the same role, name
and credit code as its org file and — when the org's material is given — the same CA and TLS CA
fingerprints (``ca_cert_sha256`` / ``tls_ca_cert_sha256``, SHA-256 of the DER; see
:func:`qcchain_network.orgmaterial.member_fingerprints`) (for a join), or ``removed`` (for a leave), by an executed ``member_admit``
/ ``member_remove`` proposal. Modes as for nodes (:mod:`qcchain_network.registry`): ``check`` refuses;
``propose`` writes the proposal for the org admins to sign offline (``qcchain contract sign`` /
``execute``); ``test-keys`` (test networks only) signs it with the test admins' SM2 keys and executes it.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from . import testadmins
from .derive import Layout
from .errors import RegistryError
from .noderecord import CHAINCODE, GOVERNANCE_CHANNEL
from qcchain_consortium.consortium import Org
from qcchain_gateway.profile import connect_profile
from qcchain_sdk.contracts.verify import is_not_found
from qcchain_sdk.proposals import proposalfile

log = logging.getLogger(__name__)

MODES = ("check", "propose", "test-keys")
PROPOSAL_LIFETIME = 7 * 86400


class NotDecided(RegistryError, PermissionError):
    """Governance has not (yet) admitted / removed the member on chain."""


class MemberProposalWritten(RegistryError):
    """``--propose``: the member proposal was written instead (names the file and the next steps)."""


def member_record(org: Org, fingerprints: dict[str, str] | None = None) -> dict[str, str]:
    """The on-chain member record of ``org`` (``{msp_id, role, name, credit_code}``, plus the CA binding
    ``fingerprints`` when given)."""
    return {"msp_id": org.msp_id, "role": org.role, "name": org.full_name or f"{org.name} Co.",
            "credit_code": org.credit_code, **(fingerprints or {})}


def governance_query(layout: Layout, function: str, *args: str, channel: str = GOVERNANCE_CHANNEL) -> dict[str, Any] | None:
    """``governance:<function>(*args)`` as the regulator's Admin, or None when it answers not found.

    Raises:
        qcchain_gateway.errors.GatewayError: the query failed for another reason.
    """
    asker = next((o for o in layout.consortium.orgs if o.role == "regulator"), layout.consortium.orgs[0])
    with connect_profile(layout.profile_file(asker), user="Admin") as gateway:
        contract = gateway.get_network(channel).get_contract(CHAINCODE, "governance")
        try:
            return dict(json.loads(contract.evaluate_transaction(function, *args)))
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise


def on_chain(layout: Layout, msp_id: str, channel: str = GOVERNANCE_CHANNEL) -> dict[str, Any] | None:
    """``governance:get_member(msp_id)`` as the regulator's Admin, or None when not a member.

    Raises:
        qcchain_gateway.errors.GatewayError: the query failed for another reason.
    """
    return governance_query(layout, "get_member", msp_id, channel=channel)


def mismatch(entry: dict[str, Any] | None, org: Org, status: str, fingerprints: dict[str, str] | None = None) -> str:
    """Why the on-chain member record ``entry`` (``governance:get_member``) does not show ``org`` with
    ``status`` (``active`` with the org file's role, name, credit code and CA ``fingerprints``; or
    ``removed``), or "" when it does (shared by the network's and the devnet's add-org / remove-org)."""
    if entry is None:
        return "not a member on chain (no executed member_admit)"
    if entry.get("status") != status:
        return f"its on-chain member status is {entry.get('status')!r}, not {status!r}"
    if status == "active":
        want = member_record(org)
        for key in ("role", "name", "credit_code"):
            if entry.get(key) != want[key]:
                return f"its on-chain {key} {entry.get(key)!r} differs from the org file's {want[key]!r}"
        for key, value in (fingerprints or {}).items():
            if key not in entry:
                return f"admitted on chain without {key}: its CA is not bound (a member_admit with the org's " \
                       "fingerprints is needed)"
            if entry[key] != value:
                return f"admitted on chain with {key} {str(entry[key])[:16]}…, but the CA in its material has " \
                       f"{value[:16]}…"
    return ""


def propose_or_execute(layout: Layout, proposal: Any, op: str, mode: str, proposal_out: Path | None, channel: str,
                       written: type[Exception], subject: str) -> None:
    """``propose`` mode: save ``proposal`` to ``proposal_out`` and raise ``written`` (its message begins with
    ``subject``); ``test-keys`` mode: every member holding a test governance key signs it, then it is executed.

    Raises:
        RegistryError: ``propose`` without a file name. ``written``: the proposal was written.
        qcchain_sdk / qcchain_gateway errors: the chain refused it.
    """
    if mode == "propose":
        if proposal_out is None:
            raise RegistryError("--propose needs a file name")
        path = proposalfile.save(proposal, proposal_out)
        raise written(f"{subject}: wrote {op} proposal {proposal.proposal_id[:16]}… to {path}; org admins sign it "
                      "(`qcchain contract sign`), execute it (`qcchain contract execute`), then run this command again")
    keys = testadmins.load_keys(layout, create=False)  # the members that hold test governance keys
    with ExitStack() as stack:
        clients = testadmins.connect(layout, stack, channel, keys)
        testadmins.execute(proposal, clients, keys)


def require(layout: Layout, org: Org, action: str, mode: str = "check", proposal_out: Path | None = None,
            channel: str = GOVERNANCE_CHANNEL, fingerprints: dict[str, str] | None = None) -> str:
    """Refuse unless governance decided ``action`` (``admit`` / ``remove``) for ``org`` (for ``admit`` with
    ``fingerprints``: bound to that CA); returns the id of the executed proposal (as recorded on the
    member), or "". A ``member_admit`` this writes carries ``fingerprints``.

    Raises:
        NotDecided: not decided. MemberProposalWritten: ``propose`` mode wrote the proposal.
        RegistryError: a bad mode or a missing file name.
    """
    if mode not in MODES:
        raise RegistryError(f"member gate mode must be one of {', '.join(MODES)}, not {mode!r}")
    status = "active" if action == "admit" else "removed"
    entry = on_chain(layout, org.msp_id, channel)
    why = mismatch(entry, org, status, fingerprints)
    if not why:
        return str((entry or {}).get("source", ""))
    if mode == "check" or (action == "admit" and entry is not None and entry.get("status") == "active"):
        raise NotDecided(f"refused: {org.msp_id} is {why} — governance decides it first: `--propose FILE` "
                         f"writes the member_{action} proposal for the org admins to sign and execute")
    op = "member_admit" if action == "admit" else "member_remove"
    expiry = int(time.time()) + PROPOSAL_LIFETIME
    proposal = proposalfile.new_proposal(op, channel, CHAINCODE, contract=org.msp_id, expiry=expiry,
                                         reason=f"{action} member {org.msp_id}",
                                         artifact=member_record(org, fingerprints) if action == "admit" else None)
    propose_or_execute(layout, proposal, op, mode, proposal_out, channel, MemberProposalWritten,
                       f"{org.msp_id} is {why}")
    entry = on_chain(layout, org.msp_id, channel)
    why = mismatch(entry, org, status, fingerprints)
    if why:
        raise NotDecided(f"refused: {org.msp_id} is {why} after executing {proposal.proposal_id[:16]}…")
    return str(proposal.proposal_id)
