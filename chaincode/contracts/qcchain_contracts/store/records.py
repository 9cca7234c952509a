"""QC record storage: metadata (``rec`` [record_id], key history = versions), indexes
(``rec.idx`` [equipment|category|stage, value, record_id]), used signatures (``rec.sig`` [SM3 of the
signature]) and the L3 private data collection. What may be written is decided by
:mod:`qcchain_contracts.placement`; who may read what by :mod:`qcchain_contracts.entitlement`.
"""

from __future__ import annotations

import re
from typing import Any

from qcchain_model.envelope import BUS_DELETE, INDEXES, L3_COLLECTION

from ..common import get_json, put_json, sm3_hex
from ..errors import NotFound

__all__ = [
    "RECORD_ID",
    "record_key",
    "stored_record",
    "get_record_meta",
    "live_record_meta",
    "put_record",
    "signature_key",
    "signature_used",
    "spend_signature",
    "write_indexes",
    "index_page",
    "put_sealed",
    "get_sealed",
    "delete_sealed",
]

#: A record id: letters, digits, ``.``, ``_``, ``:``, ``-``; at most 64 characters.
RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def record_key(stub: Any, record_id: str) -> str:
    """Composite key of a record's metadata."""
    return stub.create_composite_key("rec", [record_id])


def stored_record(stub: Any, record_id: str) -> dict[str, Any] | None:
    """The stored metadata of a record *with* its payload (L1/L2), or None (also for a malformed id)."""
    return get_json(stub, record_key(stub, record_id)) if RECORD_ID.match(record_id or "") else None


def get_record_meta(stub: Any, record_id: str) -> dict[str, Any] | None:
    """The current metadata of a record (without payload), or None."""
    if not isinstance(record_id, str) or not RECORD_ID.match(record_id):
        return None
    meta = get_json(stub, record_key(stub, record_id))
    if meta is None:
        return None
    meta.pop("payload", None)
    return meta


def live_record_meta(stub: Any, record_id: str) -> dict[str, Any]:
    """The metadata of a record that exists and is not deleted.

    Raises:
        NotFound: no such record, or it was deleted.
    """
    meta = get_record_meta(stub, record_id)
    if meta is None or meta.get("deleted"):
        raise NotFound(f"record {record_id!r} does not exist")
    return dict(meta)


def put_record(stub: Any, meta: dict[str, Any]) -> None:
    """Write a record version's metadata (with its payload, if any) under its ``record_id``.

    Raises:
        InvalidInput: the metadata cannot be encoded as canonical JSON.
    """
    put_json(stub, record_key(stub, meta["record_id"]), meta)


def signature_key(stub: Any, signature: bytes) -> str:
    """Composite key of the replay guard of one SM2 signature."""
    return stub.create_composite_key("rec.sig", [sm3_hex(signature)])


def signature_used(stub: Any, sig_key: str) -> bool:
    """Whether the signature behind ``sig_key`` (:func:`signature_key`) was already used for a write."""
    return bool(stub.get_state(sig_key))


def spend_signature(stub: Any, sig_key: str, record_id: str) -> None:
    """Record that the signature behind ``sig_key`` wrote ``record_id``."""
    stub.put_state(sig_key, record_id.encode("utf-8"))


def write_indexes(stub: Any, env: dict[str, Any], prev: dict[str, Any] | None) -> None:
    """Index an insert; on an update, move every index entry whose value changed (the stage may).
    A delete keeps its index entries (the metadata says ``deleted``)."""
    if env["bus_type"] == BUS_DELETE:
        return
    for index, field in INDEXES.items():
        if prev is not None and prev[field] == env[field]:
            continue
        if prev is not None:
            stub.del_state(stub.create_composite_key("rec.idx", [index, prev[field], env["record_id"]]))
        key = stub.create_composite_key("rec.idx", [index, env[field], env["record_id"]])
        stub.put_state(key, env["record_id"].encode("utf-8"))


def index_page(stub: Any, index: str, value: str, page_size: int, bookmark: str) -> tuple[list[dict[str, Any]], Any]:
    """One page of the records under ``index`` = ``value``: (stored records with payload, query metadata)."""
    it, meta = stub.get_state_by_partial_composite_key_with_pagination("rec.idx", [index, value], page_size, bookmark)
    out = []
    for kv in it:
        record = get_json(stub, record_key(stub, kv.value.decode("utf-8")))
        if record is not None:
            out.append(record)
    return out, meta


def put_sealed(stub: Any, record_id: str, value: bytes) -> None:
    """Store an L3 record's sealed value (ciphertext and wrapped keys) in the private data collection."""
    stub.put_private_data(L3_COLLECTION, record_id, value)


def get_sealed(stub: Any, record_id: str) -> bytes:
    """The sealed L3 value of a record from the private data collection (empty if absent here)."""
    return stub.get_private_data(L3_COLLECTION, record_id)


def delete_sealed(stub: Any, record_id: str) -> None:
    """Delete an L3 record's private data."""
    stub.del_private_data(L3_COLLECTION, record_id)
