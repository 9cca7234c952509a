"""L3 sealing of ingested batches (the rules of :mod:`qcchain_contracts.ingest`): the transient ``sealed``
map ``{data_key, wrapped_keys, records: {ID: nonce || ciphertext || tag}}`` (hex; ONE data key per batch)
read and shape-checked, a record decrypted under the batch's key with AAD = its ID, and the checks that every
L3 record of a batch travels sealed, given by its ID only, and that the key is wrapped for every entitled org
to its current encryption key.
"""

from __future__ import annotations

import re
from typing import Any

from qcchain_core.canonical import canonical_loads
from qcchain_core.errors import CanonicalJSONError, DecryptionError
from qcchain_core.gm import sm4_gcm_decrypt
from qcchain_shim import Context

from .errors import InvalidInput
from .signatures import org_encryption_key

__all__ = ["SEALED_FIELDS", "read_sealed", "unseal", "check_sealing", "violation"]

_HEX = re.compile(r"^[0-9a-f]*$")


def violation(index: int | None, field: str, reason: str) -> dict[str, Any]:
    """One entry of a refusal's ``violations`` list (never a submitted value)."""
    return {"index": index, "field": field, "reason": reason}


SEALED_FIELDS = ("data_key", "records", "wrapped_keys")


def read_sealed(ctx: Context) -> dict[str, Any]:
    """The transient ``sealed`` map (``{}`` when absent), its shape checked and the data key decoded.

    Raises:
        InvalidInput: not JSON, or not ``{data_key: 32 hex, wrapped_keys: {...}, records: {ID: hex}}``.
    """
    raw = ctx.stub.get_transient().get("sealed", b"")
    if not raw:
        return {}
    try:
        sealed = canonical_loads(raw)
    except CanonicalJSONError as exc:
        raise InvalidInput("transient 'sealed' is not JSON") from exc
    if not isinstance(sealed, dict) or sorted(sealed) != list(SEALED_FIELDS):
        raise InvalidInput(f"transient 'sealed' must be an object with exactly {', '.join(SEALED_FIELDS)}")
    key = sealed["data_key"]
    if not isinstance(key, str) or len(key) != 32 or not _HEX.match(key):
        raise InvalidInput("transient 'sealed': data_key must be 32 lower-case hex digits (an SM4 key)")
    if not isinstance(sealed["wrapped_keys"], dict) or not isinstance(sealed["records"], dict):
        raise InvalidInput("transient 'sealed': wrapped_keys and records must be JSON objects")
    return {**sealed, "key": bytes.fromhex(key)}


def unseal(rid: str, key: bytes, ciphertext: Any) -> tuple[dict[str, Any] | None, str]:
    """(record, reason) from a sealed record: decrypt with the batch's data key, AAD = ID."""
    try:
        blob = bytes.fromhex(ciphertext)
        if len(blob) < 28:
            return None, "sealed record's ciphertext is too short"
        record = canonical_loads(sm4_gcm_decrypt(key, blob[:12], blob[12:], rid.encode("utf-8")))
    except (TypeError, ValueError, DecryptionError, CanonicalJSONError):
        return None, "sealed record does not decrypt to a record under the batch's data key"
    return (record, "") if isinstance(record, dict) else (None, "sealed record is not a JSON object")


def check_sealing(ctx: Context, sealed: dict[str, Any], entitled: list[str], given: list[Any]) -> list[dict[str, Any]]:
    """Violations: a record not sealed, or in the arguments beyond its ID (the plaintext would be on the
    ledger); a sealed record not in the batch; the data key not wrapped for an entitled org's current key."""
    ciphertexts = sealed.get("records", {})
    ids = [r.get("ID") for r in given]
    problems = [violation(i, "$", "an L3 record must be sealed (transient 'sealed') and given by its ID only")
                for i, (rid, r) in enumerate(zip(ids, given)) if rid not in ciphertexts or sorted(r) != ["ID"]]
    if set(ciphertexts) - set(ids):
        problems.append(violation(None, "$.sealed.records", "holds records that are not in the batch"))
    wrapped = sealed.get("wrapped_keys", {})
    for msp in entitled:
        entry = wrapped.get(msp)
        key_id = org_encryption_key(ctx, msp)["key_id"]
        if not isinstance(entry, dict) or entry.get("key_id") != key_id or not entry.get("wrapped"):
            problems.append(violation(None, "$.sealed.wrapped_keys",
                               f"the data key is not wrapped for {msp} to its current encryption key"))
    return problems
