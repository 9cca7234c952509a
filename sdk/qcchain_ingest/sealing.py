"""L3 placement of ingested records (ARCHITECTURE decision 7): SM4-GCM under a fresh data key, the key
SM2-wrapped for every entitled org — done here, in the server, so the chaincode only checks.

The chaincode receives, in the transient map only (never on the ledger): the record's plaintext, the data
key and the nonce, the ciphertext and the wrapped keys. It re-encrypts deterministically
(``sm4_gcm_encrypt(key, nonce, canonical record, aad=ID)``) and compares with the ciphertext, so what is
stored in the private collection is provably the validated record.
"""

from __future__ import annotations

import os
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import SM2PublicKey, sm4_gcm_encrypt

__all__ = ["seal", "seal_batch"]


def _wrap(key: bytes, recipients: dict[str, SM2PublicKey]) -> dict[str, dict[str, str]]:
    if not recipients:
        raise ValueError("an L3 record needs at least one entitled org to wrap its data key for")
    return {msp: {"key_id": pub.key_id(), "wrapped": pub.encrypt(key).hex()} for msp, pub in sorted(recipients.items())}


def _entry(record_id: str, leaf: bytes, key: bytes, wrapped: dict[str, dict[str, str]]) -> dict[str, Any]:
    nonce = os.urandom(12)
    ciphertext = nonce + sm4_gcm_encrypt(key, nonce, leaf, record_id.encode("utf-8"))
    return {"data_key": key.hex(), "nonce": nonce.hex(), "ciphertext": ciphertext.hex(), "wrapped_keys": wrapped}


def seal(record_id: str, leaf: bytes, recipients: dict[str, SM2PublicKey]) -> dict[str, Any]:
    """The transient entry of one L3 record: ``{"data_key", "nonce", "ciphertext", "wrapped_keys"}`` (hex).

    ``leaf`` is the record's canonical bytes; ``recipients`` maps MSP id -> its current SM2 encryption key.

    Raises:
        ValueError: no recipients.
    """
    return seal_batch([record_id], [leaf], recipients)[record_id]


def seal_batch(ids: list[str], leaves: list[bytes], recipients: dict[str, SM2PublicKey]) -> dict[str, dict[str, Any]]:
    """The transient entries of one batch's L3 records, ``{ID: entry}``: ONE fresh data key per batch, wrapped
    once per entitled org (SM2 encryption is the costly step: per record it bounded the server at a few
    hundred records/s), each record encrypted under it with its own random nonce and AAD = its ID. The
    batch's records share one grade and so one audience: a reader entitled to one is entitled to all.

    Raises:
        ValueError: no recipients.
    """
    key = os.urandom(16)
    wrapped = _wrap(key, recipients)
    return {rid: _entry(rid, leaf, key, wrapped) for rid, leaf in zip(ids, leaves)}


def transient_of(sealed: dict[str, dict[str, Any]]) -> dict[str, bytes]:
    """The transient map of an anchoring transaction (empty when nothing is sealed)."""
    return {"sealed": canonical_json(sealed)} if sealed else {}
