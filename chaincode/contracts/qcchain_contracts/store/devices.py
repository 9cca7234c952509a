"""Monitoring devices registered against equipment (issue 15, seed 002, I-1): device records (``dev.d``
[device_id]), devices per equipment (``dev.eq`` [reg_no, device_id]) and anchored telemetry windows
(``dev.win`` [device_id, 12-digit window_id]: the SM3 Merkle root of the window's readings).

Records are never deleted; a revoked device keeps its record with ``status = "revoked"``. The rules are in
:mod:`qcchain_contracts.device_rules`.
"""

from __future__ import annotations

from typing import Any

from qcchain_core.canonical import canonical_loads

from ..common import get_json, put_json

__all__ = ["device_of", "put_device", "list_devices", "window_of", "put_window"]


def _key(stub: Any, device_id: str) -> str:
    return stub.create_composite_key("dev.d", [device_id])


def _win_key(stub: Any, device_id: str, window_id: int) -> str:
    return stub.create_composite_key("dev.win", [device_id, f"{window_id:012d}"])


def device_of(stub: Any, device_id: str) -> dict[str, Any] | None:
    """The stored device record or None."""
    return get_json(stub, _key(stub, device_id))


def put_device(stub: Any, device: dict[str, Any]) -> None:
    """Write a device record (and its equipment index entry)."""
    put_json(stub, _key(stub, device["device_id"]), device)
    put_json(stub, stub.create_composite_key("dev.eq", [device["reg_no"], device["device_id"]]),
             {"device_id": device["device_id"]})


def list_devices(stub: Any, reg_no: str = "", limit: int = 1000) -> list[dict[str, Any]]:
    """Device records in id order (or those of one equipment ``reg_no``), at most ``limit``."""
    out: list[dict[str, Any]] = []
    if reg_no:
        with stub.get_state_by_partial_composite_key("dev.eq", [reg_no]) as results:
            ids = [canonical_loads(kv.value)["device_id"] for kv in results]
        for device_id in ids[:limit]:
            device = device_of(stub, device_id)
            if device is not None:
                out.append(device)
        return out
    with stub.get_state_by_partial_composite_key("dev.d", []) as results:
        for kv in results:
            out.append(canonical_loads(kv.value))
            if len(out) >= limit:
                break
    return out


def window_of(stub: Any, device_id: str, window_id: int) -> dict[str, Any] | None:
    """The anchored window ``{device_id, window_id, window_start, count, root, tx_id, at}`` or None."""
    return get_json(stub, _win_key(stub, device_id, window_id))


def put_window(stub: Any, window: dict[str, Any]) -> None:
    """Write an anchored window."""
    put_json(stub, _win_key(stub, window["device_id"], window["window_id"]), window)
