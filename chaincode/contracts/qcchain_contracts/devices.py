"""Devices contract (issue 15, seed 002, I-1): monitoring devices registered on chain against equipment
codes, revoked, and the SM3 Merkle roots of their telemetry windows anchored so a stored reading can be
proven later. Rules in :mod:`.device_rules`.

Transactions (``devices:<fn>``): ``register(device)``, ``revoke(device_id, reason)``,
``anchor_windows(windows)``; reads ``get(device_id)``, ``list_devices(reg_no, limit)``,
``window(device_id, window_id)``, ``prove(device_id, window_id, reading, proof)`` — readable by active
members. Writes set the chaincode event ``qcchain.device``.
"""

from __future__ import annotations

import logging

from qcchain_core.canonical import canonical_json
from qcchain_shim import Context, Contract, transaction

from .common import caller_msp, require_int
from .device_rules import DEVICE_ID, anchor_windows, prove_reading, register, revoke
from .errors import Forbidden, InvalidInput, NotFound
from .lifecycle import require_serving
from .store.devices import device_of, list_devices, window_of
from .store.members import role_of

log = logging.getLogger(__name__)

__all__ = ["Devices", "CONTRACT", "EVENT"]

CONTRACT = "devices"
EVENT = "qcchain.device"
MAX_LIST = 1000


def _reader(ctx: Context) -> None:
    msp = caller_msp(ctx)
    if role_of(ctx.stub, msp) is None:
        raise Forbidden(f"{msp} is not an active member")


class Devices(Contract):
    """Device registry and window anchoring (see the module docstring)."""

    name = CONTRACT

    @transaction
    def register(self, ctx: Context, device: dict) -> dict:
        require_serving(ctx, CONTRACT, write=True)
        stored = register(ctx, device)
        ctx.stub.set_event(EVENT, canonical_json({"kind": "registered", "device_id": stored["device_id"]}))
        return stored

    @transaction
    def revoke(self, ctx: Context, device_id: str, reason: str) -> dict:
        require_serving(ctx, CONTRACT, write=True)
        stored = revoke(ctx, device_id, reason)
        ctx.stub.set_event(EVENT, canonical_json({"kind": "revoked", "device_id": device_id}))
        return stored

    @transaction
    def anchor_windows(self, ctx: Context, windows: list) -> dict:
        require_serving(ctx, CONTRACT, write=True)
        return anchor_windows(ctx, windows)

    @transaction(evaluate=True)
    def get(self, ctx: Context, device_id: str) -> dict:
        _reader(ctx)
        if not DEVICE_ID.match(device_id):
            raise InvalidInput("device_id is not a device id")
        device = device_of(ctx.stub, device_id)
        if device is None:
            raise NotFound(f"device {device_id} is not registered")
        return device

    @transaction(evaluate=True)
    def list_devices(self, ctx: Context, reg_no: str = "", limit: int = 100) -> list:
        _reader(ctx)
        if not 1 <= require_int(limit, "limit") <= MAX_LIST:
            raise InvalidInput(f"limit must be 1..{MAX_LIST}")
        return list_devices(ctx.stub, reg_no, limit)

    @transaction(evaluate=True)
    def window(self, ctx: Context, device_id: str, window_id: int) -> dict:
        _reader(ctx)
        if not DEVICE_ID.match(device_id):
            raise InvalidInput("device_id is not a device id")
        found = window_of(ctx.stub, device_id, require_int(window_id, "window_id", 0))
        if found is None:
            raise NotFound(f"window {window_id} of device {device_id} is not anchored")
        return found

    @transaction(evaluate=True)
    def prove(self, ctx: Context, device_id: str, window_id: int, reading: dict, proof: dict) -> dict:
        _reader(ctx)
        return prove_reading(ctx.stub, device_id, window_id, reading, proof)
