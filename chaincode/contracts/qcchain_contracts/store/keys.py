"""SM2 key records (``gov.key`` [key_id]) and the per-org index (``gov.orgkey`` [msp_id, key_id]).

A key record is ``{key_id, msp_id, public_key_pem, usages, not_before, not_after, status, cert_sha256,
cert_id, registered_at, registered_tx}`` and, once retired, ``retired_at`` with ``replaced_by`` (rotated)
or ``reason`` (revoked). Whether a key may sign is decided by :mod:`qcchain_contracts.signatures`.
"""

from __future__ import annotations

from typing import Any

from ..common import get_json, put_json, scan_prefix

__all__ = ["USAGES", "get_key", "key_state", "put_key", "index_org_key", "org_keys"]

#: ``govern`` signs proposals, ``sign`` signs business writes, ``encrypt`` receives wrapped data keys.
USAGES = ("govern", "sign", "encrypt")


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


def put_key(stub: Any, record: dict[str, Any]) -> None:
    """Write a key record under its ``key_id``.

    Raises:
        InvalidInput: the record cannot be encoded as canonical JSON.
    """
    put_json(stub, _key_key(stub, record["key_id"]), record)


def index_org_key(stub: Any, msp_id: str, key_id: str) -> None:
    """Add ``key_id`` to the index of ``msp_id``'s keys."""
    stub.put_state(stub.create_composite_key("gov.orgkey", [msp_id, key_id]), key_id.encode("utf-8"))


def org_keys(stub: Any, msp_id: str) -> list[dict[str, Any]]:
    """Every key record of an org (any status), in key-id order.

    Raises:
        TooMany: more than :data:`~qcchain_contracts.common.MAX_LIST` keys.
    """
    out = []
    for kv in scan_prefix(stub, "gov.orgkey", [msp_id]):
        key = get_key(stub, kv.value.decode("utf-8"))
        if key is not None:
            out.append(key)
    return out
