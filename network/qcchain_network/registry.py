"""The on-chain node registry seen from the network tools (T-7.2.3): is a node's identity admitted?

A node may join consensus (or a channel) only once governance admitted its identity: :class:`Registry`
checks its node record (:func:`qcchain_network.noderecord.read_record`, from the generated certificates)
against ``governance:node`` on the governance channel through the SDK with the first org's Admin profile
(active, same TLS and signing certificate fingerprints). Modes: ``check`` (refuse when not admitted),
``propose`` (write an admit proposal file for the admins to sign offline, and stop), ``test-keys``
(test networks only: sign with the admin SM2 keys of :mod:`qcchain_network.testadmins` and execute), and
``none`` (``--no-registry``: nothing is checked or recorded; the operations log says so). After a join
or a removal, ``node_joined`` / ``node_left`` attest it on chain.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from . import admin, testadmins
from .binaries import find_binary
from .derive import Layout
from .errors import RegistryError
from .noderecord import CHAINCODE, GOVERNANCE_CHANNEL
from qcchain_core.gm import SM2PrivateKey
from qcchain_gateway.profile import connect_profile
from qcchain_sdk.contracts.governance import GovernanceClient
from qcchain_sdk.contracts.verify import is_not_found
from qcchain_sdk.proposals import proposalfile
from qcchain_sdk.nodeadmission import admit_proposal

log = logging.getLogger(__name__)

__all__ = ["Registry", "RegistryError", "NotAdmitted", "ProposalWritten", "MODES", "active_match",
           "chaincode_deployed", "why_hint"]

MODES = ("check", "propose", "test-keys", "none")
PROPOSAL_LIFETIME = 7 * 86400


class NotAdmitted(RegistryError, PermissionError):
    """The node's identity is not admitted (or not active, or its certificates differ) on chain."""


class ProposalWritten(RegistryError):
    """``--propose``: an admit proposal was written instead of adding the node (names the file)."""


def chaincode_deployed(layout: Layout, peer_bin: Path, channel: str = GOVERNANCE_CHANNEL) -> bool:
    """Whether ``qcchain`` is committed on ``channel`` (``peer lifecycle chaincode querycommitted``)."""
    org = layout.consortium.orgs[0]
    try:
        admin.run_tool([str(peer_bin), "lifecycle", "chaincode", "querycommitted", "-C", channel, "-n", CHAINCODE],
                       env=admin.admin_env(layout, org))
    except admin.ToolError:
        return False
    return True


def active_match(entry: dict[str, Any] | None, record: dict[str, Any]) -> str:
    """Why ``entry`` (``governance:node``'s answer, or None) does not admit ``record``; "" when it does."""
    if entry is None:
        return "not admitted on chain"
    rec = entry.get("record", entry)
    status = entry.get("status", rec.get("status", "active"))
    if status != "active":
        return f"its registry entry is {status}"
    for key in ("tls_cert_sha256", "sign_cert_sha256"):
        if rec.get(key) != record[key]:
            return f"its {key.split('_')[0].upper()} certificate differs from the admitted one"
    return ""


class Registry:
    """Registry checks and attestations for one network (see the module docstring for the modes)."""

    def __init__(self, layout: Layout, mode: str = "check", proposal_out: Path | None = None,
                 channel: str = GOVERNANCE_CHANNEL) -> None:
        if mode not in MODES:
            raise RegistryError(f"registry mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.layout, self.mode, self.proposal_out, self.channel = layout, mode, proposal_out, channel

    # ------------------------------------------------------------------ SDK access
    def _gateway(self, org_name: str | None = None) -> Any:
        org = self.layout.consortium.org(org_name) if org_name else self.layout.consortium.orgs[0]
        return connect_profile(self.layout.profile_file(org), user="Admin")

    def _client(self, gateway: Any, key: Any = None) -> Any:
        net = gateway.get_network(self.channel)
        return GovernanceClient(net.get_contract(CHAINCODE, "governance"), net.get_contract(CHAINCODE, "keys"),
                                gateway.identity.msp_id, gateway.identity.cert_pem, key or SM2PrivateKey.generate())

    def lookup(self, node_id: str) -> dict[str, Any] | None:
        """``governance:node(node_id)``, or None when the registry has no such node.

        Raises:
            qcchain_gateway.errors.GatewayError: the query failed for another reason.
        """
        with self._gateway() as gateway:
            try:
                return dict(self._client(gateway).node(node_id))
            except Exception as exc:
                if is_not_found(exc):
                    return None
                raise

    def _ready(self) -> None:
        if not chaincode_deployed(self.layout, find_binary("peer"), self.channel):
            raise RegistryError(f"the qcchain chaincode is not deployed on {self.channel} (bare `network.sh up`): "
                                "the node registry is unavailable; run `network.sh deploy` first, or pass "
                                "--no-registry (logged as such)")

    # ------------------------------------------------------------------ the three calls nodeops.py makes
    def require_admitted(self, record: dict[str, Any]) -> str:
        """Refuse unless the node is admitted (after admitting it, in ``test-keys`` mode); returns the
        proposal id that admitted it (or "").

        Raises:
            NotAdmitted: not admitted / removed / other certificates. ProposalWritten: ``propose`` mode.
            RegistryError: the registry is unavailable (chaincode not deployed).
        """
        if self.mode == "none":
            return ""
        self._ready()
        node_id = record["node_id"]
        why = active_match(self.lookup(node_id), record)
        if not why:
            return str((self.lookup(node_id) or {}).get("admitted_by", ""))
        if self.mode == "propose":
            raise ProposalWritten(self._write_proposal(record, why))
        if self.mode == "test-keys":
            proposal_id = testadmins.admit(self.layout, [record], self.channel, f"add {record['kind']} {node_id}")
            why = active_match(self.lookup(node_id), record)
            if not why:
                return proposal_id
        raise NotAdmitted(f"refused: {node_id} is {why} — {why_hint(node_id)}")

    def _write_proposal(self, record: dict[str, Any], why: str) -> str:
        if self.proposal_out is None:
            raise RegistryError("--propose needs a file name")
        proposal = admit_proposal([record], self.channel, CHAINCODE, f"admit {record['kind']} {record['node_id']}",
                                  int(time.time()) + PROPOSAL_LIFETIME)
        path = proposalfile.save(proposal, self.proposal_out)
        return (f"{record['node_id']} is {why}: wrote admit proposal {proposal.proposal_id[:16]}… to {path}; "
                "org admins sign it (`qcchain contract sign`), execute it (`qcchain contract execute`), then "
                "run this command again")

    def joined(self, node_id: str, channel: str, block: int, tls_sha256: str) -> None:
        """Attest ``node_joined`` on chain (nothing in ``none`` mode).

        Raises:
            qcchain_gateway.errors.GatewayError: the chain refused it (e.g. fingerprint mismatch).
        """
        if self.mode != "none":
            with self._gateway() as gateway:
                self._client(gateway).node_joined(node_id, channel, block, tls_sha256)

    def left(self, node_id: str, channel: str, block: int) -> None:
        """Attest ``node_left`` on chain (nothing in ``none`` mode).

        Raises:
            qcchain_gateway.errors.GatewayError: the chain refused it.
        """
        if self.mode != "none":
            with self._gateway() as gateway:
                self._client(gateway).node_left(node_id, channel, block)

    def all_nodes(self) -> list[dict[str, Any]]:
        """``governance:nodes()``."""
        with ExitStack() as stack:
            gateway = stack.enter_context(self._gateway())
            return list(self._client(gateway).nodes())


def why_hint(node_id: str) -> str:
    """What an admin does about a refused node."""
    return (f"admit it through governance first (`--propose FILE` writes the proposal for {node_id}; on a test "
            "network `--admit-with-test-keys` signs and executes it with the test admins' keys)")
