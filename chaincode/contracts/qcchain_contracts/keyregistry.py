"""SM2 key registry (ARCHITECTURE decision 5; REQUIREMENTS T-5.2c/d, T-8.1.1a).

An org's admins (certificate ``OU=admin`` or ``hf.Type=admin``) register, rotate and revoke SM2 public
keys bound to their MSP id and to the SHA-256 of the admin's Fabric certificate, each with a validity
period ``[not_before, not_after)`` in transaction time and a set of usages:

* ``govern`` — signs governance proposals (org-admin keys);
* ``sign`` — signs business writes (records, grants);
* ``encrypt`` — receives SM2-wrapped data keys of L3 records (:func:`org_encryption_key`).

Registration carries a proof of possession: the new key's SM2 signature over the canonical
``{"purpose": "qcchain-key-registration", "msp_id", "key_id", "cert_sha256", "usages", "not_before",
"not_after"}``. A revoked, rotated-away or expired key, or a key of a member that is no longer active,
signs nothing from then on (:func:`active_key` is checked on every verification).
"""

from __future__ import annotations

import logging
from typing import Any

from qcchain_shim import Context, Contract, transaction

from qcchain_model.messages import registration_message

from .common import caller_cert_fingerprint, get_json, put_json, record_event, require_admin, require_int, tx_time
from .errors import Conflict, Forbidden, InvalidInput, InvalidSignatureError, NotFound

log = logging.getLogger(__name__)

__all__ = ["USAGES", "KeyRegistry", "active_key", "verify_sm2", "org_encryption_key", "registration_message"]

USAGES = ("govern", "sign", "encrypt")
MAX_PEM = 1024


def _key_key(stub: Any, key_id: str) -> str:
    return stub.create_composite_key("gov.key", [key_id])


def get_key(stub: Any, key_id: str) -> dict[str, Any] | None:
    """The stored key record (any status), or None."""
    if not isinstance(key_id, str) or not key_id or len(key_id) > 128:
        return None
    return get_json(stub, _key_key(stub, key_id))


def key_state(key: dict[str, Any], at: int) -> str:
    """``active`` | ``revoked`` | ``rotated`` | ``not_yet_valid`` | ``expired`` at time ``at``. Pure."""
    if key["status"] != "active":
        return str(key["status"])
    if at < key["not_before"]:
        return "not_yet_valid"
    if at >= key["not_after"]:
        return "expired"
    return "active"


def active_key(ctx: Any, key_id: str) -> dict[str, Any]:
    """The key record if it may sign at this transaction's time.

    Raises:
        NotFound: no such key.
        InvalidSignatureError: the key is revoked, rotated, expired, not yet valid, or its org is not an
            active member.
    """
    from .governance import member_of  # governance imports this module

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
    from qcchain_core.errors import CryptoError
    from qcchain_core.gm import SM2PublicKey

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
    for kv in ctx.stub.get_state_by_partial_composite_key("gov.orgkey", [msp_id]):
        key = get_key(ctx.stub, kv.value.decode("utf-8"))
        if key is None or "encrypt" not in key["usages"] or key_state(key, at) != "active":
            continue
        if best is None or (key["not_before"], key["registered_at"], key["key_id"]) > (
            best["not_before"], best["registered_at"], best["key_id"]
        ):
            best = key
    if best is None:
        raise NotFound(f"{msp_id} has no active SM2 encryption key")
    return best


def _check_usages(usages: Any) -> list[str]:
    if not isinstance(usages, list) or not usages or any(u not in USAGES for u in usages):
        raise InvalidInput(f"usages must be a non-empty list of {', '.join(USAGES)}")
    return sorted(set(usages))


def _register(ctx: Context, public_key_pem: str, usages: list[str], not_before: int, not_after: int, proof: str) -> dict[str, Any]:
    from qcchain_core.errors import CryptoError
    from qcchain_core.gm import SM2PublicKey

    from .governance import member_of

    msp = require_admin(ctx, "registering an SM2 key")
    member = member_of(ctx.stub, msp)
    if member is None or member["status"] != "active":
        raise Forbidden(f"{msp} is not an active consortium member")
    if not isinstance(public_key_pem, str) or not public_key_pem or len(public_key_pem) > MAX_PEM:
        raise InvalidInput(f"public_key_pem must be a PEM string of at most {MAX_PEM} characters")
    usages = _check_usages(usages)
    require_int(not_before, "not_before", 0)
    require_int(not_after, "not_after", 0)
    now = tx_time(ctx)
    if not_after <= not_before or not_after <= now:
        raise InvalidInput("not_after must be later than not_before and than the transaction time")
    try:
        public = SM2PublicKey.from_pem(public_key_pem.encode("ascii"))
        proof_bytes = bytes.fromhex(proof)
    except (CryptoError, ValueError, UnicodeEncodeError) as exc:
        raise InvalidInput(f"public_key_pem is not an SM2 public key or proof is not hex: {exc}") from exc
    key_id = public.key_id()
    if get_key(ctx.stub, key_id) is not None:
        raise Conflict(f"SM2 key {key_id} is already registered")
    cert_sha256 = caller_cert_fingerprint(ctx)
    message = registration_message(msp, key_id, cert_sha256, usages, not_before, not_after)
    try:
        public.verify(proof_bytes, message)
    except CryptoError as exc:
        raise InvalidSignatureError("proof of possession does not verify under the key being registered") from exc
    record = {
        "key_id": key_id,
        "msp_id": msp,
        "public_key_pem": public.to_pem().decode("ascii"),
        "usages": usages,
        "not_before": not_before,
        "not_after": not_after,
        "status": "active",
        "cert_sha256": cert_sha256,
        "cert_id": ctx.client_identity.id,
        "registered_at": now,
        "registered_tx": ctx.stub.get_tx_id(),
    }
    put_json(ctx.stub, _key_key(ctx.stub, key_id), record)
    ctx.stub.put_state(ctx.stub.create_composite_key("gov.orgkey", [msp, key_id]), key_id.encode("utf-8"))
    record_event(ctx, "key_registered", {"key_id": key_id, "msp_id": msp, "usages": usages})
    return record


def _own_key(ctx: Context, key_id: str, what: str) -> dict[str, Any]:
    msp = require_admin(ctx, what)
    key = get_key(ctx.stub, key_id)
    if key is None:
        raise NotFound(f"SM2 key {key_id!r} is not registered")
    if key["msp_id"] != msp:
        raise Forbidden(f"SM2 key {key_id} belongs to {key['msp_id']}; only its own admins may change it")
    if key["status"] != "active":
        raise Conflict(f"SM2 key {key_id} is already {key['status']}")
    return key


class KeyRegistry(Contract):
    """``keys:*`` — register, rotate, revoke and read SM2 keys."""

    name = "keys"

    def before_transaction(self, ctx: Context) -> None:
        from .lifecycle import require_serving

        fn, _ = ctx.stub.get_function_and_parameters()
        if fn.split(":")[-1] in ("register", "rotate", "revoke"):  # reads stay available for audit
            require_serving(ctx, "governance", write=True)

    @transaction
    def register(self, ctx: Context, public_key_pem: str, usages: list, not_before: int, not_after: int, proof: str) -> dict:
        """Register an SM2 public key for the caller's org (admin only). Raises Forbidden/InvalidInput/Conflict."""
        return _register(ctx, public_key_pem, usages, not_before, not_after, proof)

    @transaction
    def rotate(
        self, ctx: Context, old_key_id: str, public_key_pem: str, usages: list, not_before: int, not_after: int, proof: str
    ) -> dict:
        """Register a new key and retire ``old_key_id`` at transaction time. Raises as register, plus NotFound."""
        old = _own_key(ctx, old_key_id, "rotating an SM2 key")
        new = _register(ctx, public_key_pem, usages, not_before, not_after, proof)
        old.update(status="rotated", retired_at=tx_time(ctx), replaced_by=new["key_id"])
        put_json(ctx.stub, _key_key(ctx.stub, old_key_id), old)
        return new

    @transaction
    def revoke(self, ctx: Context, key_id: str, reason: str) -> dict:
        """Revoke a key of the caller's org (admin only). Raises Forbidden/NotFound/Conflict."""
        key = _own_key(ctx, key_id, "revoking an SM2 key")
        key.update(status="revoked", retired_at=tx_time(ctx), reason=str(reason)[:256])
        put_json(ctx.stub, _key_key(ctx.stub, key_id), key)
        record_event(ctx, "key_revoked", {"key_id": key_id, "msp_id": key["msp_id"]})
        return key

    @transaction(evaluate=True)
    def get(self, ctx: Context, key_id: str) -> dict:
        """A key record with its state at transaction time. Raises NotFound."""
        key = get_key(ctx.stub, key_id)
        if key is None:
            raise NotFound(f"SM2 key {key_id!r} is not registered")
        return {**key, "state": key_state(key, tx_time(ctx))}

    @transaction(evaluate=True)
    def list_org(self, ctx: Context, msp_id: str) -> list:
        """Every key of an org (any status), with its state at transaction time."""
        at = tx_time(ctx)
        out = []
        for kv in ctx.stub.get_state_by_partial_composite_key("gov.orgkey", [msp_id]):
            key = get_key(ctx.stub, kv.value.decode("utf-8"))
            if key is not None:
                out.append({**key, "state": key_state(key, at)})
        return out
