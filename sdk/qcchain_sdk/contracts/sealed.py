"""Sealed (encrypted) record payloads: the salted commitment, SM4-GCM sealing and client-side validation.

The chaincode cannot read an encrypted payload, so everything it would check for a world-state payload is
checked here, before encryption (:func:`check_payload`): size, the category's JSON Schema
(:mod:`qcchain_model.tables`, the chaincode's own schemas) and the binding of ``ID`` / ``busType`` /
``regNo`` to the signed envelope.

The signed ``digest`` of a sealed payload is a *salted commitment*, ``SM3(salt || canonical payload)``
with a fresh random 16-byte salt, so a low-entropy payload (an ID-card number, a yes/no field) cannot be
confirmed by guessing from the digest every channel member sees. The salt travels only inside the
SM4-GCM plaintext (``MAGIC || salt || canonical payload``), so only holders of the data key (the audience,
or a grantee given the wrapped key) can open the commitment. Records sealed before the salt
(plaintext = canonical payload, digest = its plain SM3) still open (:func:`open_payload`).
"""

from __future__ import annotations

import json
import os
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3, sm4_gcm_decrypt, sm4_gcm_encrypt
from qcchain_model.tables import check_record

__all__ = ["MAGIC", "MAX_PAYLOAD", "MAX_SEALED_PAYLOAD", "BOUND_FIELDS", "check_payload", "commitment",
           "seal_payload", "open_payload", "schema_problems"]

MAGIC = b"\x00QCS1"  # a NUL never starts JSON: tells salted plaintexts from pre-salt ones
SALT_SIZE = 16
MAX_PAYLOAD = 64 * 1024  # what the chaincode accepts for a world-state payload
MAX_SEALED_PAYLOAD = 1024 * 1024 - 12 - 16 - len(MAGIC) - SALT_SIZE  # the chaincode's ciphertext limit, less framing
#: Payload field -> envelope field it must equal (when present), as the chaincode checks world-state payloads.
BOUND_FIELDS = {"ID": "record_id", "busType": "bus_type", "regNo": "equipment_code"}


def check_payload(category: str, payload: dict[str, Any], bound: dict[str, Any], limit: int = MAX_PAYLOAD) -> bytes:
    """Validate a payload before it is signed (and sealed); returns its canonical bytes.

    ``bound`` holds the envelope values (``record_id``, ``bus_type``, ``equipment_code``).

    Raises:
        ValueError: larger than ``limit`` bytes; a field disagrees with the envelope;
            qcchain_model.errors.SchemaViolations (a ValueError): unknown category or schema violations.
    """
    body = canonical_json(payload)
    if len(body) > limit:
        raise ValueError(f"payload is {len(body)} bytes; at most {limit} are accepted")
    check_record(category, payload)
    wrong = [f"$.{f} does not agree with the envelope's {e}" for f, e in BOUND_FIELDS.items()
             if f in payload and payload[f] != bound.get(e)]
    if wrong:
        raise ValueError("payload is not bound to its envelope: " + "; ".join(wrong))
    return body


def commitment(salt: bytes, body: bytes) -> str:
    """The hex salted commitment ``SM3(salt || body)`` signed as the record's digest."""
    return sm3(salt + body).hex()


def seal_payload(record_id: str, body: bytes, data_key: bytes) -> tuple[bytes, str]:
    """Seal canonical payload bytes under ``data_key``: returns (``nonce || ciphertext || tag``, digest)."""
    salt, nonce = os.urandom(SALT_SIZE), os.urandom(12)
    ciphertext = nonce + sm4_gcm_encrypt(data_key, nonce, MAGIC + salt + body, record_id.encode())
    return ciphertext, commitment(salt, body)


def open_payload(view: dict[str, Any], data_key: bytes) -> dict[str, Any]:
    """Decrypt a sealed view's ciphertext and open its commitment against the signed digest.

    Raises:
        qcchain_core.errors.DecryptionError: wrong key or tampered ciphertext.
        ValueError: the plaintext does not open the record's digest.
    """
    blob = bytes.fromhex(view["ciphertext"])
    plaintext = sm4_gcm_decrypt(data_key, blob[:12], blob[12:], view["record_id"].encode())
    if plaintext.startswith(MAGIC):
        salt, body = plaintext[len(MAGIC):len(MAGIC) + SALT_SIZE], plaintext[len(MAGIC) + SALT_SIZE:]
        digest = commitment(salt, body)
    else:  # sealed before salted commitments
        body, digest = plaintext, sm3(plaintext).hex()
    if digest != view["digest"]:
        raise ValueError(f"decrypted payload of {view['record_id']} does not match its SM3 digest")
    return json.loads(body)  # type: ignore[no-any-return]


def schema_problems(view: dict[str, Any], payload: dict[str, Any]) -> list[str]:
    """Problems of a decrypted payload against its category's schema and its envelope ([] = it is valid)."""
    where = f"{view['record_id']} v{view['version']}"
    try:
        check_payload(view["category"], payload, view, limit=MAX_SEALED_PAYLOAD)
    except ValueError as exc:
        return [f"{where}: decrypted payload violates its schema or envelope ({exc})"]
    return []
