"""Lifecycle records of governed units (``gov.unit`` [channel, chaincode, contract | "*"]).

A unit is one contract of a chaincode on a channel, or the whole chaincode (``contract == ""``). Its
record: ``{channel, chaincode, contract, state, versions{version: {package_digest, approved_at,
proposal_id}}, active_version, created_at, updated_at, history[]}``. Transitions are decided by
:mod:`qcchain_contracts.lifecycle`.
"""

from __future__ import annotations

from typing import Any

from ..common import get_json, list_by_prefix, put_json

__all__ = ["WHOLE", "unit_key", "get_unit", "list_units", "put_unit", "new_unit", "unit_name", "mark_proposed"]

WHOLE = "*"  # composite-key attribute for "the whole chaincode"


def unit_key(stub: Any, channel: str, chaincode: str, contract: str) -> str:
    """Composite key of a governed unit (``contract == ""`` = whole chaincode)."""
    return stub.create_composite_key("gov.unit", [channel, chaincode, contract or WHOLE])


def get_unit(stub: Any, channel: str, chaincode: str, contract: str) -> dict[str, Any] | None:
    """The lifecycle record of a unit, or None."""
    return get_json(stub, unit_key(stub, channel, chaincode, contract))


def list_units(stub: Any) -> list[dict[str, Any]]:
    """Every governed unit record, in key order."""
    return list_by_prefix(stub, "gov.unit", [])


def put_unit(stub: Any, target: dict[str, str], unit: dict[str, Any]) -> None:
    """Write the record of the unit named by ``target`` ``{channel, chaincode, contract}``."""
    put_json(stub, unit_key(stub, target["channel"], target["chaincode"], target["contract"]), unit)


def new_unit(target: dict[str, str], at: int) -> dict[str, Any]:
    """A fresh unit record in state ``proposed`` (not written)."""
    return {
        "channel": target["channel"],
        "chaincode": target["chaincode"],
        "contract": target["contract"],
        "state": "proposed",
        "versions": {},
        "active_version": "",
        "created_at": at,
        "updated_at": at,
        "history": [],
    }


def unit_name(target: dict[str, str]) -> str:
    """``channel/chaincode[/contract]`` for messages."""
    suffix = f"/{target['contract']}" if target.get("contract") else ""
    return f"{target['channel']}/{target['chaincode']}{suffix}"


def mark_proposed(stub: Any, target: dict[str, str], at: int) -> None:
    """Create the unit in state ``proposed`` when a deploy is proposed for a unit that does not exist."""
    if get_unit(stub, target["channel"], target["chaincode"], target["contract"]) is None:
        put_unit(stub, target, new_unit(target, at))
