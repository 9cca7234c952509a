"""Typed client of ``governance:*`` and ``keys:*``: bootstrap, SM2 key registration and multi-signature
proposals (body built canonically, signed with the org admin's SM2 ``govern`` key)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import SM2PrivateKey
from qcchain_model.messages import registration_message

from ..contractlike import ContractLike
from ..nodeadmission import normalize_fingerprint
from ..proposals.body import build_proposal

log = logging.getLogger(__name__)

__all__ = ["GovernanceClient", "build_proposal", "registration_message"]


class GovernanceClient:
    """One org's view: ``governance`` and ``keys`` contracts plus the org admin's SM2 key."""

    def __init__(self, governance: ContractLike, keys: ContractLike, msp_id: str, cert_pem: bytes,
                 key: SM2PrivateKey | None = None) -> None:
        """``key`` (the org admin's SM2 ``govern`` key) is needed for key registration and proposals only;
        reads and node join/leave attestations work without it."""
        self.governance, self.keys, self.msp_id, self.cert_pem = governance, keys, msp_id, cert_pem
        self._key = key

    @property
    def key(self) -> SM2PrivateKey:
        """The SM2 key. Raises ValueError when the client was made without one."""
        if self._key is None:
            raise ValueError("this GovernanceClient has no SM2 key (needed to register keys and sign proposals)")
        return self._key

    @property
    def key_id(self) -> str:
        return self.key.public_key().key_id()

    def _submit(self, contract: ContractLike, fn: str, *args: Any) -> Any:
        raw = contract.submit_transaction(fn, *[a if isinstance(a, (str, bytes)) else json.dumps(a) for a in args])
        return json.loads(raw) if raw else None

    def bootstrap(self, members: list[dict[str, str]], policies: dict[str, Any]) -> dict[str, Any]:
        return self._submit(self.governance, "bootstrap", members, policies)

    def register_key(self, not_before: int, not_after: int, usages: tuple[str, ...] = ("encrypt", "govern", "sign")) -> dict[str, Any]:
        """Register this client's SM2 key for its org (the identity must be an org admin)."""
        use = sorted(usages)
        message = registration_message(self.msp_id, self.key_id, hashlib.sha256(self.cert_pem).hexdigest(), use,
                                       not_before, not_after)
        return self._submit(self.keys, "register", self.key.public_key().to_pem().decode("ascii"), use, not_before,
                            not_after, self.key.sign(message).hex())

    def sign_body(self, body: dict[str, Any]) -> str:
        return self.key.sign(canonical_json(body)).hex()

    def propose(self, body: dict[str, Any], artifact: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._submit(self.governance, "propose", body, artifact or {}, self.key_id, self.sign_body(body))

    def sign(self, proposal: dict[str, Any]) -> dict[str, Any]:
        return self._submit(self.governance, "sign", proposal["proposal_id"], self.key_id, self.sign_body(proposal["body"]))

    def execute(self, proposal_id: str) -> dict[str, Any]:
        return self._submit(self.governance, "execute", proposal_id)

    def get_key(self, key_id: str) -> dict[str, Any]:
        return json.loads(self.keys.evaluate_transaction("get", key_id))

    def unit(self, channel: str, chaincode: str, contract: str = "") -> dict[str, Any]:
        return json.loads(self.governance.evaluate_transaction("unit", channel, chaincode, contract))

    # --- node registry (T-7.2.3) -----------------------------------------------------------------
    def node(self, node_id: str) -> dict[str, Any]:
        """The admitted node's record: certificate fingerprints, ``status`` (active/removed), ``admitted_by``
        (proposal id), ``history`` and ``joins``.

        Raises:
            qcchain_gateway.errors.EvaluateError: the node was never admitted (404) or the query failed.
        """
        return dict(json.loads(self.governance.evaluate_transaction("node", node_id)))

    def nodes(self) -> list[dict[str, Any]]:
        """Every node record (active and removed), sorted by node id (at most 1000).

        Raises:
            qcchain_gateway.errors.EvaluateError: the query failed.
        """
        return list(json.loads(self.governance.evaluate_transaction("nodes")))

    def node_joined(self, node_id: str, channel: str, block: int, tls_cert_sha256: str) -> dict[str, Any]:
        """Attest (as this org's admin) that ``node_id`` joined ``channel`` at config block ``block``;
        the chain checks the node is admitted, active and that ``tls_cert_sha256`` is its admitted TLS
        certificate (lower-case hex; the ``openssl -fingerprint`` form with colons is normalised). Returns the
        join entry.

        Raises:
            qcchain_sdk.errors.NodeError: ``tls_cert_sha256`` is not a SHA-256 fingerprint (nothing sent).
            qcchain_gateway.errors.EndorseError: refused (not admitted / removed / fingerprint mismatch / not a
                member admin / already joined); nothing is written.
            qcchain_gateway.errors.GatewayError: the transaction failed otherwise.
        """
        fingerprint = normalize_fingerprint(tls_cert_sha256)
        return dict(self._submit(self.governance, "node_joined", node_id, channel, str(int(block)), fingerprint))

    def node_left(self, node_id: str, channel: str, block: int) -> dict[str, Any]:
        """Attest that ``node_id`` left ``channel`` at config block ``block`` (also for a removed node).

        Raises:
            qcchain_gateway.errors.EndorseError: refused (never admitted / already left / not a member admin).
            qcchain_gateway.errors.GatewayError: the transaction failed otherwise.
        """
        return dict(self._submit(self.governance, "node_left", node_id, channel, str(int(block))))
