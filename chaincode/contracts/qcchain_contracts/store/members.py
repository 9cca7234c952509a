"""Consortium members: the member record (``gov.member`` [msp_id]) and its checks.

A member record is ``{msp_id, role, name, credit_code}`` plus ``status`` (``active`` | ``removed``),
``updated_at`` and ``source`` (``bootstrap`` or the id of the proposal that wrote it). A member admitted
while the consortium runs may also bind its organisation's CA: ``ca_cert_sha256`` / ``tls_ca_cert_sha256``
(SHA-256, lowercase hex, of the DER of its MSP's CA / TLS CA certificate; optional, so records written
before them stay valid). Two active members never share a CA fingerprint.
"""

from __future__ import annotations

import re
from typing import Any

from qcchain_model import creditcode as _credit
from qcchain_model.errors import InvalidCreditCode

from ..common import get_json, list_by_prefix, put_json, tx_time
from ..errors import Conflict, InvalidInput

__all__ = [
    "CA_FIELDS",
    "MEMBER_FIELDS",
    "MSP_ID",
    "member_fields",
    "validate_credit_code",
    "validate_member",
    "member_of",
    "role_of",
    "ca_clash",
    "list_members",
    "put_member",
]

MEMBER_FIELDS = ("msp_id", "role", "name", "credit_code")
#: Optional fields binding the member's CA certificates (SHA-256 hex of the DER).
CA_FIELDS = ("ca_cert_sha256", "tls_ca_cert_sha256")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
#: An MSP id: letters, digits, ``.``, ``_``, ``-``; at most 64 characters.
MSP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def validate_credit_code(code: Any) -> str:
    """Check an 18-character unified social credit code (GB 32100-2015); see :mod:`qcchain_model.creditcode`.

    Raises:
        InvalidInput: wrong length, characters outside the code set (no I, O, S, V, Z), or a wrong check.
    """
    try:
        return _credit.validate_credit_code(code)
    except InvalidCreditCode as exc:
        raise InvalidInput(str(exc)) from None


def validate_member(member: Any, roles: list[str]) -> dict[str, Any]:
    """Check a member record ``{msp_id, role, name, credit_code}`` (optionally with :data:`CA_FIELDS`) and
    return it normalised.

    Raises:
        InvalidInput: not an object, extra/missing fields, bad MSP id, unknown role, empty name, bad credit
        code, a CA fingerprint that is not 64 lowercase hex digits.
    """
    if not isinstance(member, dict) or not set(MEMBER_FIELDS) <= set(member) \
            or not set(member) <= set(MEMBER_FIELDS + CA_FIELDS):
        raise InvalidInput(f"a member must be an object with exactly {', '.join(MEMBER_FIELDS)} "
                           f"(and optionally {', '.join(CA_FIELDS)})")
    if not isinstance(member["msp_id"], str) or not MSP_ID.match(member["msp_id"]):
        raise InvalidInput(f"member msp_id {member['msp_id']!r} is not a valid MSP id")
    if member["role"] not in roles:
        raise InvalidInput(f"member {member['msp_id']}: role {member['role']!r} is not one of {', '.join(roles)}")
    if not isinstance(member["name"], str) or not member["name"].strip() or len(member["name"]) > 200:
        raise InvalidInput(f"member {member['msp_id']}: name must be 1..200 characters")
    validate_credit_code(member["credit_code"])
    for key in CA_FIELDS:
        if key in member and (not isinstance(member[key], str) or not _SHA256_HEX.match(member[key])):
            raise InvalidInput(f"member {member['msp_id']}: {key} must be 64 lowercase hex digits (SHA-256)")
    return member_fields(member)


def member_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The member fields of a record (:data:`MEMBER_FIELDS` and those of :data:`CA_FIELDS` it has)."""
    return {key: record[key] for key in MEMBER_FIELDS + CA_FIELDS if key in record}


def ca_clash(stub: Any, member: dict[str, Any]) -> str:
    """The MSP id of another *active* member bound to one of ``member``'s CA fingerprints, or ""."""
    mine = {member[key] for key in CA_FIELDS if key in member}
    if not mine:
        return ""
    for other in list_members(stub):
        if other["msp_id"] != member["msp_id"] and other.get("status") == "active" \
                and mine & {other[key] for key in CA_FIELDS if key in other}:
            return str(other["msp_id"])
    return ""


def _member_key(stub: Any, msp_id: str) -> str:
    return stub.create_composite_key("gov.member", [msp_id])


def member_of(stub: Any, msp_id: str) -> dict[str, Any] | None:
    """The member record ``{msp_id, role, name, credit_code, status, ...}`` or None.

    Raises:
        InvalidInput: the stored value is corrupt (not a JSON object).
    """
    if not isinstance(msp_id, str) or not MSP_ID.match(msp_id):
        return None
    return get_json(stub, _member_key(stub, msp_id))


def role_of(stub: Any, msp_id: str) -> str | None:
    """The role of an *active* member, or None."""
    member = member_of(stub, msp_id)
    return member["role"] if member and member["status"] == "active" else None


def list_members(stub: Any) -> list[dict[str, Any]]:
    """Every member record (any status), in MSP-id order."""
    return list_by_prefix(stub, "gov.member", [])


def put_member(ctx: Any, member: dict[str, Any], status: str, source: str) -> dict[str, Any]:
    """Write a (checked) member record with its status and provenance; returns the stored record.

    Raises:
        InvalidInput: the record cannot be encoded as canonical JSON. Conflict: an ``active`` record whose
        CA fingerprint is already another active member's.
    """
    if status == "active":
        other = ca_clash(ctx.stub, member)
        if other:
            raise Conflict(f"member {member['msp_id']}: its CA certificate is already bound to member {other}")
    record = {**member, "status": status, "updated_at": tx_time(ctx), "source": source}
    put_json(ctx.stub, _member_key(ctx.stub, member["msp_id"]), record)
    return record
