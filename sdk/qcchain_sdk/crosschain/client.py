"""Typed client of ``crosschain:*``: source proposals signed with the org admin's SM2 ``govern`` key,
bundle verification and import, imported certificates."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import SM2PrivateKey, sm3

from ..contractlike import ContractLike

log = logging.getLogger(__name__)

__all__ = ["SOURCE_OPERATIONS", "source_proposal", "CrossChainClient"]

SOURCE_OPERATIONS = ("source_register", "source_update", "source_remove")


def source_proposal(operation: str, source: str, channel: str, anchors: dict[str, Any] | None, reason: str,
                    expiry: int, nonce: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(body, anchors document) of a source proposal; ``anchors`` None for ``source_remove``.

    Raises:
        ValueError: unknown operation, or anchors missing/given against the operation.
    """
    if operation not in SOURCE_OPERATIONS:
        raise ValueError(f"operation {operation!r} is not one of {', '.join(SOURCE_OPERATIONS)}")
    if (anchors is None) != (operation == "source_remove"):
        raise ValueError(f"{operation} {'takes no' if anchors is not None else 'needs a'} trust-anchor document")
    digest = sm3(canonical_json(anchors)).hex() if anchors is not None else ""
    body = {"operation": operation, "source": source, "channel": channel, "digest": digest, "reason": reason,
            "nonce": nonce or secrets.token_hex(16), "expiry": int(expiry)}
    return body, anchors or {}


class CrossChainClient:
    """One org's view of the ``crosschain`` contract (``key`` needed only to sign source proposals)."""

    def __init__(self, contract: ContractLike, key: SM2PrivateKey | None = None) -> None:
        self.contract, self._key = contract, key

    def _sign(self, body: dict[str, Any]) -> tuple[str, str]:
        if self._key is None:
            raise ValueError("this CrossChainClient has no SM2 key (needed to sign source proposals)")
        return self._key.public_key().key_id(), self._key.sign(canonical_json(body)).hex()

    def _submit(self, fn: str, *args: Any) -> Any:
        raw = self.contract.submit_transaction(fn, *[a if isinstance(a, (str, bytes)) else json.dumps(a) for a in args])
        return json.loads(raw) if raw else None

    def _evaluate(self, fn: str, *args: Any) -> Any:
        return json.loads(self.contract.evaluate_transaction(fn, *[a if isinstance(a, (str, bytes)) else json.dumps(a)
                                                                  for a in args]))

    def propose(self, body: dict[str, Any], anchors: dict[str, Any]) -> dict[str, Any]:
        """Open a source proposal signed by this org."""
        return self._submit("propose_source", body, anchors, *self._sign(body))

    def sign(self, proposal: dict[str, Any]) -> dict[str, Any]:
        """Add this org's signature to an open source proposal."""
        return self._submit("sign_source", proposal["proposal_id"], *self._sign(proposal["body"]))

    def execute(self, proposal_id: str) -> dict[str, Any]:
        return self._submit("execute_source", proposal_id)

    def proposal(self, proposal_id: str) -> dict[str, Any]:
        return self._evaluate("source_proposal", proposal_id)

    def source(self, name: str) -> dict[str, Any]:
        return self._evaluate("source", name)

    def sources(self) -> list[dict[str, Any]]:
        return self._evaluate("sources")

    def verify(self, source: str, bundle: bytes, record_id: str = "", min_time: int = 0) -> dict[str, Any]:
        """The chain's verdict on a bundle (nothing written)."""
        return self._evaluate("verify", source, bundle, record_id, str(min_time))

    def import_bundle(self, source: str, bundle: bytes, record_id: str = "", min_time: int = 0) -> dict[str, Any]:
        """Verify and record the certificate on chain."""
        return self._submit("import_bundle", source, bundle, record_id, str(min_time))

    def certificate(self, source: str, record_id: str) -> dict[str, Any]:
        return self._evaluate("certificate", source, record_id)

    def certificates(self, source: str = "") -> list[dict[str, Any]]:
        return self._evaluate("certificates", source)


