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

__all__ = ["seal"]


def seal(record_id: str, leaf: bytes, recipients: dict[str, SM2PublicKey]) -> dict[str, Any]:
    """The transient entry of one L3 record: ``{"data_key", "nonce", "ciphertext", "wrapped_keys"}`` (hex).

    ``leaf`` is the record's canonical bytes; ``recipients`` maps MSP id -> its current SM2 encryption key.

    Raises:
        ValueError: no recipients.
    """
    if not recipients:
        raise ValueError("an L3 record needs at least one entitled org to wrap its data key for")
    key, nonce = os.urandom(16), os.urandom(12)
    ciphertext = nonce + sm4_gcm_encrypt(key, nonce, leaf, record_id.encode("utf-8"))
    wrapped = {msp: {"key_id": pub.key_id(), "wrapped": pub.encrypt(key).hex()} for msp, pub in sorted(recipients.items())}
    return {"data_key": key.hex(), "nonce": nonce.hex(), "ciphertext": ciphertext.hex(), "wrapped_keys": wrapped}


def transient_of(sealed: dict[str, dict[str, Any]]) -> dict[str, bytes]:
    """The transient map of an anchoring transaction (empty when nothing is sealed)."""
    return {"sealed": canonical_json(sealed)} if sealed else {}
