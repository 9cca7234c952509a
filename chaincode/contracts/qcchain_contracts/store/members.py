"""Consortium members: the member record (``gov.member`` [msp_id]) and its checks.

A member record is ``{msp_id, role, name, credit_code}`` plus ``status`` (``active`` | ``removed``),
``updated_at`` and ``source`` (``bootstrap`` or the id of the proposal that wrote it).
"""

from __future__ import annotations

import re
from typing import Any

from qcchain_model import creditcode as _credit
from qcchain_model.errors import InvalidCreditCode

from ..common import get_json, list_by_prefix, put_json, tx_time
from ..errors import InvalidInput

__all__ = [
    "MEMBER_FIELDS",
    "MSP_ID",
    "validate_credit_code",
    "validate_member",
    "member_of",
    "role_of",
    "list_members",
    "put_member",
]

MEMBER_FIELDS = ("msp_id", "role", "name", "credit_code")
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
    """Check a member record ``{msp_id, role, name, credit_code}`` and return it normalised.

    Raises:
        InvalidInput: not an object, extra/missing fields, bad MSP id, unknown role, empty name, bad credit code.
    """
    if not isinstance(member, dict) or sorted(member) != sorted(MEMBER_FIELDS):
        raise InvalidInput(f"a member must be an object with exactly {', '.join(MEMBER_FIELDS)}")
    if not isinstance(member["msp_id"], str) or not MSP_ID.match(member["msp_id"]):
        raise InvalidInput(f"member msp_id {member['msp_id']!r} is not a valid MSP id")
    if member["role"] not in roles:
        raise InvalidInput(f"member {member['msp_id']}: role {member['role']!r} is not one of {', '.join(roles)}")
    if not isinstance(member["name"], str) or not member["name"].strip() or len(member["name"]) > 200:
        raise InvalidInput(f"member {member['msp_id']}: name must be 1..200 characters")
    validate_credit_code(member["credit_code"])
    return {key: member[key] for key in MEMBER_FIELDS}


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
        InvalidInput: the record cannot be encoded as canonical JSON.
    """
    record = {**member, "status": status, "updated_at": tx_time(ctx), "source": source}
    put_json(ctx.stub, _member_key(ctx.stub, member["msp_id"]), record)
    return record
