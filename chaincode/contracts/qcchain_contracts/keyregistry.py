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
signs nothing from then on (:func:`qcchain_contracts.signatures.active_key` is checked on every
verification).

This module is the contract front (``keys:*``): key records are stored by :mod:`.store.keys`; which key
may sign and signature verification are :mod:`.signatures`.
"""

from __future__ import annotations

import logging
from typing import Any

from qcchain_core.errors import CryptoError
from qcchain_core.gm import SM2PublicKey
from qcchain_model.messages import registration_message
from qcchain_shim import Context, Contract, transaction

from .clock import require_fresh
from .common import caller_cert_fingerprint, record_event, require_admin, require_int, tx_time
from .errors import Conflict, Forbidden, InvalidInput, InvalidSignatureError, NotFound
from .lifecycle import require_serving
from .store.keys import USAGES, get_key, index_org_key, key_state, org_keys, put_key
from .store.members import member_of

log = logging.getLogger(__name__)

__all__ = ["KeyRegistry", "registration_message"]

MAX_PEM = 1024


def _check_usages(usages: Any) -> list[str]:
    if not isinstance(usages, list) or not usages or any(u not in USAGES for u in usages):
        raise InvalidInput(f"usages must be a non-empty list of {', '.join(USAGES)}")
    return sorted(set(usages))


def _register(ctx: Context, public_key_pem: str, usages: list[str], not_before: int, not_after: int, proof: str) -> dict[str, Any]:
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
    put_key(ctx.stub, record)
    index_org_key(ctx.stub, msp, key_id)
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
        fn, _ = ctx.stub.get_function_and_parameters()
        if fn.split(":")[-1] in ("register", "rotate", "revoke"):  # reads stay available for audit
            require_serving(ctx, "governance", write=True)
        else:
            require_fresh(ctx)  # T-5.2a: a key's state is judged at the (bounded) transaction time

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
        put_key(ctx.stub, old)
        return new

    @transaction
    def revoke(self, ctx: Context, key_id: str, reason: str) -> dict:
        """Revoke a key of the caller's org (admin only). Raises Forbidden/NotFound/Conflict."""
        key = _own_key(ctx, key_id, "revoking an SM2 key")
        key.update(status="revoked", retired_at=tx_time(ctx), reason=str(reason)[:256])
        put_key(ctx.stub, key)
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
        return [{**key, "state": key_state(key, at)} for key in org_keys(ctx.stub, msp_id)]
