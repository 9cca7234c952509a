"""L3 placement of ingested records (ARCHITECTURE decision 7): SM4-GCM under a fresh data key, the key
SM2-wrapped for every entitled org — done here, in the server, so the chaincode only checks.

The chaincode receives, in the transient map only (never on the ledger): ``{data_key, wrapped_keys, records:
{ID: nonce || ciphertext || tag}}`` (hex) — one data key per batch, wrapped once per entitled org. It
decrypts each record under the data key with AAD = its ID (GCM authentication proves the ciphertext is
exactly that record), validates the plaintext, and stores the ciphertexts and, once per batch, the wrapped
keys in the private collection.
"""

from __future__ import annotations

import os
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import SM2PublicKey, sm4_gcm_encrypt

__all__ = ["seal_batch", "transient_of"]


def _wrap(key: bytes, recipients: dict[str, SM2PublicKey]) -> dict[str, dict[str, str]]:
    if not recipients:
        raise ValueError("an L3 record needs at least one entitled org to wrap its data key for")
    return {msp: {"key_id": pub.key_id(), "wrapped": pub.encrypt(key).hex()} for msp, pub in sorted(recipients.items())}


def _ciphertext(record_id: str, leaf: bytes, key: bytes) -> str:
    nonce = os.urandom(12)
    return (nonce + sm4_gcm_encrypt(key, nonce, leaf, record_id.encode("utf-8"))).hex()


def seal_batch(ids: list[str], leaves: list[bytes], recipients: dict[str, SM2PublicKey]) -> dict[str, Any]:
    """The transient ``sealed`` map of one batch's L3 records: ONE fresh data key per batch, wrapped once per
    entitled org (SM2 encryption is the costly step: per record it bounded the server at a few hundred
    records/s), each record encrypted under it with its own random nonce and AAD = its ID. The batch's
    records share one grade and so one audience: a reader entitled to one is entitled to all.

    ``leaves`` are the records' canonical bytes; ``recipients`` maps MSP id -> its current SM2 encryption key.

    Raises:
        ValueError: no recipients.
    """
    key = os.urandom(16)
    wrapped = _wrap(key, recipients)
    return {"data_key": key.hex(), "wrapped_keys": wrapped,
            "records": {rid: _ciphertext(rid, leaf, key) for rid, leaf in zip(ids, leaves)}}


def transient_of(sealed: dict[str, Any]) -> dict[str, bytes]:
    """The transient map of an anchoring transaction (empty when nothing is sealed)."""
    return {"sealed": canonical_json(sealed)} if sealed else {}
