"""Sharing storage: grants (``shr.grant`` [grant_id]) indexed by grantee and owner (``shr.by_grantee`` /
``shr.by_owner`` [msp, grant_id]), L3 data keys wrapped for a grantee (``shr.key`` [grant_id, record_id]),
the access log (``shr.access`` [record_id, 12-digit time, tx_id]) and used access nonces
(``shr.nonce`` [msp, nonce]). The grant rules are in :mod:`qcchain_contracts.sharing_rules`.
"""

from __future__ import annotations

from typing import Any

from qcchain_core.canonical import canonical_loads

from ..common import get_json, page_by_prefix, put_json, scan_prefix
from ..errors import InvalidInput, NotFound

__all__ = [
    "GRANT", "BY_GRANTEE", "BY_OWNER", "WKEY", "ACCESS", "NONCE",
    "from_json", "find_grant_record", "load_grant", "grants_of", "all_grants", "put_grant", "index_grant",
    "put_wrapped_key", "wrapped_key_for", "wrapped_keys_of", "put_access", "access_entries", "access_page",
    "access_nonce_used", "spend_access_nonce",
]

GRANT, BY_GRANTEE, BY_OWNER, WKEY, ACCESS, NONCE = (
    "shr.grant", "shr.by_grantee", "shr.by_owner", "shr.key", "shr.access", "shr.nonce")


def from_json(raw: bytes) -> dict[str, Any]:
    """Decode a stored JSON object.

    Raises:
        InvalidInput: it is not one.
    """
    value = canonical_loads(raw)
    if not isinstance(value, dict):
        raise InvalidInput("stored sharing value is not a JSON object")
    return value


def _grant_key(stub: Any, grant_id: str) -> str:
    return str(stub.create_composite_key(GRANT, [grant_id]))


def find_grant_record(stub: Any, grant_id: str) -> dict[str, Any] | None:
    """The stored grant, or None."""
    return get_json(stub, _grant_key(stub, grant_id))


def load_grant(stub: Any, grant_id: str) -> dict[str, Any]:
    """The stored grant.

    Raises:
        NotFound: no such grant.
    """
    grant = find_grant_record(stub, grant_id)
    if grant is None:
        raise NotFound(f"grant {grant_id!r} does not exist")
    return grant


def grants_of(stub: Any, index: str, msp: str) -> list[dict[str, Any]]:
    """The grants of ``msp`` by index :data:`BY_GRANTEE` or :data:`BY_OWNER`, in grant-id order.

    Raises:
        TooMany: more than :data:`~qcchain_contracts.common.MAX_LIST` grants.
    """
    out = []
    for kv in scan_prefix(stub, index, [msp]):
        _, attrs = stub.split_composite_key(kv.key)
        grant = get_json(stub, _grant_key(stub, attrs[1]))
        if grant is not None:
            out.append(grant)
    return out


def all_grants(stub: Any) -> list[dict[str, Any]]:
    """Every grant of the channel, in grant-id order.

    Raises:
        TooMany: more than :data:`~qcchain_contracts.common.MAX_LIST` grants.
    """
    return [from_json(kv.value) for kv in scan_prefix(stub, GRANT, [])]


def put_grant(stub: Any, grant: dict[str, Any]) -> None:
    """Write a grant under its ``grant_id``."""
    put_json(stub, _grant_key(stub, grant["grant_id"]), grant)


def index_grant(stub: Any, grant: dict[str, Any]) -> None:
    """Index a new grant by grantee and by owner."""
    for key_type, msp in ((BY_GRANTEE, grant["grantee_msp"]), (BY_OWNER, grant["owner_msp"])):
        put_json(stub, stub.create_composite_key(key_type, [msp, grant["grant_id"]]), {"grant_id": grant["grant_id"]})


def put_wrapped_key(stub: Any, grant_id: str, record_id: str, item: dict[str, Any]) -> None:
    """Attach a record's data key wrapped for the grantee of ``grant_id``."""
    put_json(stub, stub.create_composite_key(WKEY, [grant_id, record_id]), item)


def wrapped_key_for(stub: Any, grant_id: str, record_id: str) -> dict[str, Any] | None:
    """The L3 data key of ``record_id`` wrapped (SM2) for the grantee of ``grant_id``, if attached."""
    return get_json(stub, stub.create_composite_key(WKEY, [grant_id, record_id]))


def wrapped_keys_of(stub: Any, grant_id: str) -> list[dict[str, Any]]:
    """Every wrapped key attached to a grant, in record-id order.

    Raises:
        TooMany: more than :data:`~qcchain_contracts.common.MAX_LIST` keys.
    """
    return [from_json(kv.value) for kv in scan_prefix(stub, WKEY, [grant_id])]


def put_access(stub: Any, entry: dict[str, Any]) -> None:
    """Append an access-log entry ``{tx_id, at, record_id, ...}``."""
    key = stub.create_composite_key(ACCESS, [entry["record_id"], f"{entry['at']:012d}", entry["tx_id"]])
    put_json(stub, key, entry)


def access_entries(stub: Any, record_id: str) -> list[dict[str, Any]]:
    """Every access-log entry of a record, oldest first.

    Raises:
        TooMany: more than :data:`~qcchain_contracts.common.MAX_LIST` entries (use :func:`access_page`).
    """
    return [from_json(kv.value) for kv in scan_prefix(stub, ACCESS, [record_id])]


def access_page(stub: Any, record_id: str, page_size: int, bookmark: str) -> tuple[list[dict[str, Any]], str]:
    """One page of a record's access log, oldest first: (entries, next bookmark or "").

    Raises:
        InvalidInput: bad page size or bookmark.
    """
    entries, nxt = page_by_prefix(stub, ACCESS, [record_id], page_size, bookmark)
    return [from_json(kv.value) for kv in entries], nxt


def _nonce_key(stub: Any, msp: str, nonce: str) -> str:
    return stub.create_composite_key(NONCE, [msp, nonce])


def access_nonce_used(stub: Any, msp: str, nonce: str) -> bool:
    """Whether ``msp`` already used ``nonce`` for an access."""
    return get_json(stub, _nonce_key(stub, msp, nonce)) is not None


def spend_access_nonce(stub: Any, msp: str, nonce: str, tx_id: str) -> None:
    """Record that ``msp`` used ``nonce`` in transaction ``tx_id``."""
    put_json(stub, _nonce_key(stub, msp, nonce), {"tx_id": tx_id})
