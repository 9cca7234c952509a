"""Receipts of anchored batches, signed with the ingesting org's registered SM2 key.

A receipt is ``{"header": <on-chain batch header>, "tx_id", "block", "channel", "key_id"}`` plus
``"signature"``: hex DER SM2 over the canonical JSON of every other field. Anyone holding the org's public
key (registered on chain, ``keys:get``) can check it with :func:`verify_receipt`.
"""

from __future__ import annotations

from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_core.errors import CryptoError
from qcchain_core.gm import SM2PrivateKey, SM2PublicKey

__all__ = ["sign_receipt", "verify_receipt"]


def sign_receipt(header: dict[str, Any], tx_id: str, block: int, channel: str, key: SM2PrivateKey) -> dict[str, Any]:
    """The signed receipt of an anchored batch."""
    body = {"header": header, "tx_id": tx_id, "block": block, "channel": channel, "key_id": key.public_key().key_id()}
    return {**body, "signature": key.sign(canonical_json(body)).hex()}


def verify_receipt(receipt: dict[str, Any], public_key: SM2PublicKey) -> bool:
    """True when the receipt's signature verifies under ``public_key`` and names that key."""
    body = {k: v for k, v in receipt.items() if k != "signature"}
    if body.get("key_id") != public_key.key_id():
        return False
    try:
        public_key.verify(bytes.fromhex(receipt.get("signature", "")), canonical_json(body))
    except (CryptoError, ValueError):
        return False
    return True
