"""Helpers shared by every qcchain business contract (deterministic; no clock, randomness or I/O).

* :func:`tx_time` — the transaction timestamp in whole seconds (the only notion of "now").
* :func:`caller_msp`, :func:`caller_is_admin`, :func:`caller_cert_fingerprint` — who is calling.
* :func:`get_json` / :func:`put_json` — ledger values as canonical JSON (ARCHITECTURE decision 6).
* :func:`sm3_hex`, :func:`require_str`, :func:`require_int` — small argument checks with clear errors.
* :func:`record_event` — append an entry to the channel timeline read by ``audit``.

Key prefixes (composite-key object types) used by this package are listed in :data:`KEY_TYPES`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from qcchain_core.canonical import canonical_json, canonical_loads
from qcchain_core.errors import CanonicalJSONError

from .errors import Forbidden, InvalidInput, TooMany

log = logging.getLogger(__name__)

__all__ = [
    "KEY_TYPES",
    "tx_time",
    "caller_msp",
    "caller_is_admin",
    "caller_cert_fingerprint",
    "get_json",
    "put_json",
    "sm3_hex",
    "require_str",
    "require_int",
    "require_admin",
    "record_event",
    "list_by_prefix",
    "scan_prefix",
    "page_by_prefix",
    "require_page",
    "MAX_LIST",
    "MAX_PAGE",
]

#: Most entries one scan returns or decides over (a list call over more refuses: page it).
MAX_LIST = 1000
#: Largest page of a paginated list transaction.
MAX_PAGE = 100

#: Composite-key object types written by this package (documented for other contracts and auditors).
KEY_TYPES: dict[str, str] = {
    "gov.meta": "bootstrap marker [\"bootstrap\"]; genesis node admission [\"node_genesis\"]",
    "gov.member": "member record [msp_id]",
    "gov.policy": "policy document [name]",
    "gov.key": "SM2 key record [key_id]",
    "gov.orgkey": "index of keys per org [msp_id, key_id]",
    "gov.proposal": "governance proposal [proposal_id]",
    "gov.nonce": "used proposal nonces [nonce]",
    "gov.node": "admitted orderer/peer node record [node_id]",
    "gov.nodecert": "certificate fingerprints ever admitted for a node (never reused) [sha256]",
    "gov.unit": "lifecycle state of a governed contract [channel, chaincode, contract]",
    "qc.event": "channel timeline [12-digit tx time, tx_id, kind]",
    "rec": "QC record metadata [record_id]",
    "rec.idx": "record index [index, value, record_id]",
    "rec.sig": "used record signatures [sm3(signature)]",
}

_ADMIN_ATTRIBUTE = "hf.Type"  # reserved Fabric CA attribute; no free-form ones
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def tx_time(ctx: Any) -> int:
    """The transaction timestamp in whole seconds since the epoch (never the wall clock)."""
    return int(ctx.stub.get_tx_timestamp().seconds)


def caller_msp(ctx: Any) -> str:
    """The MSP id of the transaction's creator.

    Raises:
        Forbidden: the creator carries no MSP id.
    """
    msp = ctx.client_identity.msp_id
    if not msp:
        raise Forbidden("the transaction creator has no MSP id")
    return str(msp)


def caller_is_admin(ctx: Any) -> bool:
    """True if the creator's certificate says it is an org admin.

    Fabric marks admins with NodeOU ``OU=admin`` in the certificate subject (cryptogen and Fabric CA
    with NodeOUs enabled); Fabric CA identities may also carry its reserved attribute ``hf.Type=admin``
    (set by the CA, not by the enrollee). Free-form attributes such as ``role=admin`` are NOT accepted:
    any registrar may put them in a certificate.
    """
    identity = ctx.client_identity
    cert = getattr(identity, "certificate", None)
    if cert is None:
        cert = x509.load_pem_x509_certificate(identity.cert_pem)
    ous = [attr.value for attr in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    if any(str(ou).lower() == "admin" for ou in ous):
        return True
    return (identity.get_attribute(_ADMIN_ATTRIBUTE) or "").lower() == "admin"


def require_admin(ctx: Any, what: str) -> str:
    """Return the caller's MSP id if the caller is an org admin.

    Raises:
        Forbidden: the caller's certificate is not an admin certificate (OU=admin / hf.Type=admin).
    """
    msp = caller_msp(ctx)
    if not caller_is_admin(ctx):
        raise Forbidden(f"{what} needs an admin of {msp} (certificate OU=admin or hf.Type=admin)")
    return msp


def caller_cert_fingerprint(ctx: Any) -> str:
    """Hex SHA-256 of the creator's PEM certificate bytes (binds SM2 keys to a Fabric certificate)."""
    return hashlib.sha256(bytes(ctx.client_identity.cert_pem)).hexdigest()


def get_json(stub: Any, key: str) -> dict[str, Any] | None:
    """Read a JSON object from world state; None when absent.

    Raises:
        InvalidInput: the stored value is not a JSON object (corrupt ledger value).
    """
    raw = stub.get_state(key)
    if not raw:
        return None
    try:
        value = canonical_loads(raw)
    except CanonicalJSONError as exc:
        raise InvalidInput(f"ledger value at {key!r} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput(f"ledger value at {key!r} is not a JSON object")
    return value


def put_json(stub: Any, key: str, value: dict[str, Any]) -> None:
    """Write ``value`` to world state as canonical JSON.

    Raises:
        InvalidInput: ``value`` cannot be encoded as canonical JSON.
    """
    try:
        data = canonical_json(value)
    except CanonicalJSONError as exc:
        raise InvalidInput(f"value for {key!r} is not canonical JSON: {exc}") from exc
    stub.put_state(key, data)


def scan_prefix(stub: Any, object_type: str, attributes: list[str], limit: int = MAX_LIST) -> list[Any]:
    """The ``KV`` entries under a partial composite key, in key order — at most ``limit`` (the scan stops
    reading as soon as it knows there are more).

    Raises:
        TooMany: more than ``limit`` entries (a list transaction must be paged; a decision refuses).
    """
    out: list[Any] = []
    with stub.get_state_by_partial_composite_key(object_type, attributes) as results:
        for kv in results:
            if len(out) >= limit:
                raise TooMany(f"more than {limit} {object_type} entries; read them page by page")
            out.append(kv)
    return out


def list_by_prefix(stub: Any, object_type: str, attributes: list[str], limit: int = MAX_LIST) -> list[dict[str, Any]]:
    """Every JSON object under a partial composite key, in key order, at most ``limit``.

    Raises:
        TooMany: more than ``limit`` entries. InvalidInput: a stored value is not JSON.
    """
    out: list[dict[str, Any]] = []
    for kv in scan_prefix(stub, object_type, attributes, limit):
        try:
            value = canonical_loads(kv.value)
        except CanonicalJSONError as exc:
            raise InvalidInput(f"ledger value at {kv.key!r} is not JSON: {exc}") from exc
        if isinstance(value, dict):
            out.append(value)
    return out


def require_page(page_size: Any, bookmark: Any) -> tuple[int, str]:
    """Check the paging arguments of a list transaction.

    Raises:
        InvalidInput: ``page_size`` outside 1..:data:`MAX_PAGE`, or ``bookmark`` not a string of at most 1024.
    """
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE:
        raise InvalidInput(f"page_size must be 1..{MAX_PAGE}")
    if not isinstance(bookmark, str) or len(bookmark) > 1024:
        raise InvalidInput("bookmark must be a string of at most 1024 characters (from the previous page)")
    return page_size, bookmark


def page_by_prefix(stub: Any, object_type: str, attributes: list[str], page_size: int, bookmark: str) -> tuple[list[Any], str]:
    """One page of ``KV`` entries under a partial composite key: (entries, bookmark of the next page or "").
    Evaluate transactions only (Fabric refuses paginated queries in submitted ones).

    Raises:
        InvalidInput: bad ``page_size``/``bookmark``, or a bookmark outside this prefix.
    """
    page_size, bookmark = require_page(page_size, bookmark)
    prefix = stub.create_composite_key(object_type, attributes)
    if bookmark and not bookmark.startswith(prefix):
        raise InvalidInput("bookmark does not belong to this list")
    results, meta = stub.get_state_by_partial_composite_key_with_pagination(object_type, attributes, page_size, bookmark)
    with results:
        entries = list(results)
    return entries, str(meta.bookmark or "")


def sm3_hex(data: bytes) -> str:
    """Hex SM3 digest of ``data``."""
    from qcchain_core.gm import sm3  # imported lazily: the GM backend is loaded on first use

    return sm3(data).hex()


def require_str(value: Any, name: str, max_len: int = 256, pattern: re.Pattern[str] | None = None) -> str:
    """Check a non-empty string argument.

    Raises:
        InvalidInput: not a string, empty, longer than ``max_len``, or not matching ``pattern``.
    """
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{name} must be a non-empty string")
    if len(value) > max_len:
        raise InvalidInput(f"{name} is longer than {max_len} characters")
    if pattern is not None and not pattern.match(value):
        raise InvalidInput(f"{name} does not match {pattern.pattern}")
    return value


def require_hex64(value: Any, name: str) -> str:
    """Check a 64-character lower-case hex string (SM3/SHA-256 digest).

    Raises:
        InvalidInput: anything else.
    """
    return require_str(value, name, 64, _HEX64)


def require_int(value: Any, name: str, minimum: int | None = None) -> int:
    """Check an integer argument (bools refused).

    Raises:
        InvalidInput: not an int, or below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer")
    if minimum is not None and value < minimum:
        raise InvalidInput(f"{name} must be >= {minimum}")
    return value


def record_event(ctx: Any, kind: str, detail: dict[str, Any]) -> dict[str, Any]:
    """Append ``{kind, tx_id, at, actor_msp, **detail}`` to the channel timeline and return it."""
    at = tx_time(ctx)
    tx_id = ctx.stub.get_tx_id()
    entry = {"kind": kind, "tx_id": tx_id, "at": at, "actor_msp": caller_msp(ctx), **detail}
    key = ctx.stub.create_composite_key("qc.event", [f"{at:012d}", tx_id, kind])
    put_json(ctx.stub, key, entry)
    return entry
