"""Which SM2 keys may sign, and signature verification (ARCHITECTURE decision 5; T-5.2c/d, T-8.1.1a).

A key signs only while it is active at the transaction time (not revoked, rotated, expired or not yet
valid) and its org is an active member; a signature counts only for the usage it was registered for
(``govern``, ``sign``) and, when the signer is named, only for that signer's own keys.
:func:`org_encryption_key` picks the key an org's data keys are wrapped to. Rules layer: reads
:mod:`.store.keys` and :mod:`.store.members`.
"""

from __future__ import annotations

import logging
from typing import Any

from qcchain_core.errors import CryptoError
from qcchain_core.gm import SM2PublicKey

from .common import tx_time
from .errors import InvalidSignatureError, NotFound
from .store.keys import get_key, key_state, org_keys
from .store.members import member_of

log = logging.getLogger(__name__)

__all__ = ["active_key", "verify_sm2", "org_encryption_key"]


def active_key(ctx: Any, key_id: str) -> dict[str, Any]:
    """The key record if it may sign at this transaction's time.

    Raises:
        NotFound: no such key.
        InvalidSignatureError: the key is revoked, rotated, expired, not yet valid, or its org is not an
            active member.
    """
    key = get_key(ctx.stub, key_id)
    if key is None:
        raise NotFound(f"SM2 key {key_id!r} is not registered")
    state = key_state(key, tx_time(ctx))
    if state != "active":
        raise InvalidSignatureError(f"SM2 key {key_id} of {key['msp_id']} is {state}; it signs nothing")
    member = member_of(ctx.stub, key["msp_id"])
    if member is None or member["status"] != "active":
        raise InvalidSignatureError(f"SM2 key {key_id} belongs to {key['msp_id']}, which is not an active member")
    return key


def verify_sm2(
    ctx: Any, key_id: str, message: bytes, signature: bytes, msp_id: str | None, *, usage: str = "sign"
) -> dict[str, Any]:
    """Verify an SM2 signature (default user id) by a registered, active key; return the key record.

    Raises:
        NotFound: unknown key.
        InvalidSignatureError: inactive key, key of another org than ``msp_id``, key without ``usage``,
            or the signature does not verify.
    """
    key = active_key(ctx, key_id)
    if msp_id is not None and key["msp_id"] != msp_id:
        raise InvalidSignatureError(f"SM2 key {key_id} belongs to {key['msp_id']}, not to the signer {msp_id}")
    if usage not in key["usages"]:
        raise InvalidSignatureError(f"SM2 key {key_id} of {key['msp_id']} is not registered for {usage!r}")
    try:
        SM2PublicKey.from_pem(key["public_key_pem"].encode("ascii")).verify(signature, message)
    except CryptoError as exc:
        raise InvalidSignatureError(f"SM2 signature does not verify under key {key_id} of {key['msp_id']}") from exc
    return key


def org_encryption_key(ctx: Any, msp_id: str) -> dict[str, Any]:
    """The org's current key for wrapping data keys: the active ``encrypt`` key with the latest ``not_before``.

    Raises:
        NotFound: the org has no active encryption key at transaction time.
    """
    at = tx_time(ctx)
    best: dict[str, Any] | None = None
    for key in org_keys(ctx.stub, msp_id):
        if "encrypt" not in key["usages"] or key_state(key, at) != "active":
            continue
        if best is None or (key["not_before"], key["registered_at"], key["key_id"]) > (
            best["not_before"], best["registered_at"], best["key_id"]
        ):
            best = key
    if best is None:
        raise NotFound(f"{msp_id} has no active SM2 encryption key")
    return best
