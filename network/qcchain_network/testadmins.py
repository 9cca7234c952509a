"""Test networks only: the org admins' test SM2 governance keys and the governed steps they sign.

On a test network (``network.sh deploy``) nobody holds real admin keys, so this module makes one SM2 key
per member org (``<out>/test-admin-keys/<MSP>.pem``, mode 0600 — test material, never for production),
bootstraps governance from the consortium file and ``policies/`` when the chain has no members yet,
registers each key (with proof of possession) and then signs and executes node-registry proposals
through the same path as ``qcchain contract execute`` (``lifecycle.governed.precheck`` / ``submit``).
:func:`admit_genesis` records the network's initial orderers and peers with one genesis admission.
"""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from .derive import Layout
from .errors import NetworkError
from .noderecord import CHAINCODE, GOVERNANCE_CHANNEL, read_record
from qcchain_consortium.sources import NETWORK_DIR
from qcchain_core.gm import SM2PrivateKey
from qcchain_gateway.profile import connect_profile
from qcchain_sdk.contracts.governance import GovernanceClient
from qcchain_sdk.contracts.verify import is_not_found
from qcchain_sdk.proposals import proposalfile
from qcchain_sdk.proposals.governed import precheck, submit
from qcchain_sdk.nodeadmission import admit_proposal

log = logging.getLogger(__name__)

KEYS_DIR = "test-admin-keys"
POLICIES_DIR = NETWORK_DIR.parent / "policies"
POLICY_NAMES = ("governance", "grading", "sharing")
KEY_LIFETIME = 365 * 86400
RETRIES = 5


class GovSetupError(NetworkError, RuntimeError):
    """The test governance setup failed (names the org and the step)."""


def load_keys(layout: Layout, create: bool = True) -> dict[str, Any]:
    """MSP id -> the org admin's test SM2 key (created when missing and ``create``).

    Raises:
        GovSetupError: a key file is unreadable.
    """
    directory = layout.out / KEYS_DIR
    keys: dict[str, Any] = {}
    for org in layout.consortium.orgs:
        path = directory / f"{org.msp_id}.pem"
        if path.is_file():
            try:
                keys[org.msp_id] = SM2PrivateKey.from_pem(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise GovSetupError(f"{path}: unreadable test admin key ({exc})") from None
        elif create:
            key = SM2PrivateKey.generate()
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(key.to_pem())
            keys[org.msp_id] = key
    return keys


def _policies() -> dict[str, Any]:
    try:
        return {name: yaml.safe_load((POLICIES_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
                for name in POLICY_NAMES}
    except (OSError, yaml.YAMLError) as exc:
        raise GovSetupError(f"cannot read the policy documents in {POLICIES_DIR}: {exc}") from None


def connect(layout: Layout, stack: ExitStack, channel: str, keys: dict[str, Any]) -> dict[str, Any]:
    """MSP id -> GovernanceClient of that org's Admin with its test key (orgs of ``keys`` only)."""
    clients = {}
    for org in layout.consortium.orgs:
        if org.msp_id not in keys:
            continue
        gateway = stack.enter_context(connect_profile(layout.profile_file(org), user="Admin"))
        net = gateway.get_network(channel)
        clients[org.msp_id] = GovernanceClient(net.get_contract(CHAINCODE, "governance"),
                                               net.get_contract(CHAINCODE, "keys"), org.msp_id,
                                               gateway.identity.cert_pem, keys[org.msp_id])
    return clients


def _members_on_chain(client: Any) -> list[dict[str, Any]]:
    try:
        return list(json.loads(client.governance.evaluate_transaction("members")))
    except Exception as exc:
        if is_not_found(exc):
            return []
        raise


def _ensure(layout: Layout, clients: dict[str, Any]) -> list[str]:
    """Bootstrap governance if needed and register every test key; returns what was done."""
    done = []
    orgs = layout.consortium.orgs
    lead = next((o for o in orgs if o.role == "regulator"), orgs[0])
    if not _members_on_chain(clients[lead.msp_id]):
        members = [{"msp_id": o.msp_id, "role": o.role, "name": o.full_name or f"{o.name} Co.",
                    "credit_code": o.credit_code} for o in orgs]
        clients[lead.msp_id].bootstrap(members, _policies())
        done.append(f"governance bootstrapped by {lead.msp_id} ({len(members)} member orgs)")
    now = int(time.time())
    for msp, client in clients.items():
        try:
            client.get_key(client.key_id)
        except Exception as exc:
            if not is_not_found(exc):
                raise
            client.register_key(now - 60, now + KEY_LIFETIME)
            done.append(f"test admin key of {msp} registered")
    if done:
        _await_keys(clients)
    return done


def _await_keys(clients: dict[str, Any], timeout: float = 30.0) -> None:
    """Wait until the first client's peer sees every key: each registration waited for its commit on the
    registering org's own peer only, and the threshold precheck reads through the first org's peer."""
    first = next(iter(clients.values()))
    deadline = time.monotonic() + timeout
    for client in clients.values():
        while True:
            try:
                first.get_key(client.key_id)
                break
            except Exception as exc:
                if not is_not_found(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def execute(proposal: Any, clients: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    """Sign ``proposal`` with every key, submit the signatures and execute it; returns the outcome.

    Raises:
        qcchain_sdk / qcchain_gateway errors: the chain refused it.
    """
    now = int(time.time())
    for key in keys.values():
        proposalfile.sign(proposal, key, now)
    govs = {msp: c.governance for msp, c in clients.items()}
    first = next(iter(clients.values()))
    for attempt in range(RETRIES):
        plan = precheck(proposal, first.governance, first.keys, now)  # picks up what is already on chain
        try:
            return dict(submit(proposal, plan, govs))
        except Exception as exc:
            # each step waits for its commit on the submitting org's own peer only: the next org's peer may
            # not have the block yet ("proposal ... does not exist"); try again once it has
            if attempt == RETRIES - 1 or "does not exist" not in str(exc):
                raise
            log.info("governance step not yet visible on every peer; retrying")
            time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


def admit(layout: Layout, records: list[dict[str, Any]], channel: str = GOVERNANCE_CHANNEL,
          reason: str = "test network node admission", create_keys: bool = True) -> str:
    """Admit ``records`` (one node, or the genesis set) signed by every test admin; returns the proposal id.

    ``create_keys=False``: only the orgs that already hold a test key sign (a member still joining has none).

    Raises:
        GovSetupError: the setup failed (a key file or the policy documents are unreadable).
        qcchain_sdk / qcchain_gateway errors: the chain refused the proposal.
    """
    keys = load_keys(layout, create=create_keys)
    proposal = admit_proposal(records, channel, CHAINCODE, reason, int(time.time()) + 3600)
    with ExitStack() as stack:
        clients = connect(layout, stack, channel, keys)
        for line in _ensure(layout, clients):
            log.info("%s", line)
        execute(proposal, clients, keys)
    return str(proposal.proposal_id)


def genesis_records(layout: Layout) -> list[dict[str, Any]]:
    """Node records of every orderer and peer of the layout, sorted by node id."""
    msp = layout.consortium.orderer.msp_id
    records = [read_record(n.host, msp, "orderer", n.tls_dir, n.msp_dir) for n in layout.orderers]
    records += [read_record(p.host, p.msp_id, "peer", p.tls_dir, p.msp_dir) for p in layout.peers]
    return sorted(records, key=lambda r: str(r["node_id"]))


def admit_genesis(layout: Layout, channel: str = GOVERNANCE_CHANNEL) -> tuple[str, int]:
    """Record the network's initial nodes with one genesis admission; returns (proposal id, node count).

    Raises:
        RegistryError: a node's certificate is missing or unparsable. Otherwise as :func:`admit`.
    """
    records = genesis_records(layout)
    return admit(layout, records, channel, "genesis nodes of the test network"), len(records)


def keys_dir(layout: Layout) -> Path:
    """Where the test admin keys are."""
    return layout.out / KEYS_DIR
