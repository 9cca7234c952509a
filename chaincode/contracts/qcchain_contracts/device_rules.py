"""Monitoring devices (issue 15; seed 002 "device statistics, basic information, maintenance and testing
information"; I-1): registering a device against an equipment code, revoking it, anchoring the SM3 Merkle
roots of its telemetry windows and proving a stored reading against an anchored root.

* A device is registered by an admin of an active member org of role ``using_unit`` or
  ``maintenance_unit`` — that org owns it (``owner_msp``) and is the responsible unit of its warnings.
* The three information groups are checked against :data:`DEVICE_SCHEMA` (JSON Schema 2020-12), every
  violation reported at once.
* ``credential_sha256`` binds the device's MQTT credential (issued off chain, per device) to the record.
* Revoking (owner or regulator) keeps the record; a revoked device anchors nothing and raises nothing.
* A window is anchored once per ``(device_id, window_id)``: the same root again is accepted without a
  write (at-least-once relays), a different root is refused.

Deterministic: no clock but the transaction time; sorted iteration only.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from jsonschema import Draft202012Validator

from qcchain_core.canonical import canonical_json
from qcchain_model.errors import InvalidProof
from qcchain_model.merkle import InclusionProof, verify_inclusion

from .common import caller_msp, record_event, require_admin, require_hex64, require_int, tx_time
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .store.devices import device_of, put_device, put_window, window_of
from .store.members import role_of

log = logging.getLogger(__name__)

__all__ = ["DEVICE_ID", "DEVICE_SCHEMA", "OWNER_ROLES", "MAX_WINDOWS", "validate_device", "require_active_device",
           "register", "revoke", "anchor_windows", "prove_reading"]

DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
OWNER_ROLES = ("using_unit", "maintenance_unit")
MAX_WINDOWS = 500   # windows per anchoring transaction
MAX_INT = 2**53 - 1
_TEXT = {"type": "string", "minLength": 1, "maxLength": 200}
_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}

#: The device record a client submits (seed 002's three groups).
DEVICE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["device_id", "reg_no", "device_type", "credential_sha256", "statistics", "basic", "maintenance"],
    "properties": {
        "device_id": {"type": "string", "pattern": DEVICE_ID.pattern},
        "reg_no": {"type": "string", "pattern": r"^[A-Za-z0-9-]{1,40}$"},
        "device_type": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,31}$"},
        "credential_sha256": {"type": "string", "pattern": r"^[0-9a-f]{64}$"},
        "statistics": {   # device statistics information
            "type": "object", "additionalProperties": False,
            "required": ["sensor_kind", "quantities", "install_location", "install_date"],
            "properties": {"sensor_kind": _TEXT, "install_location": _TEXT, "install_date": _DATE,
                           "quantities": {"type": "array", "minItems": 1, "maxItems": 16, "uniqueItems": True,
                                          "items": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,31}$"}}}},
        "basic": {        # basic information
            "type": "object", "additionalProperties": False,
            "required": ["manufacturer", "model", "serial_no"],
            "properties": {"manufacturer": _TEXT, "model": _TEXT, "serial_no": _TEXT, "firmware": _TEXT}},
        "maintenance": {  # maintenance and testing information
            "type": "object", "additionalProperties": False,
            "required": ["maintainer", "last_calibration", "calibration_due"],
            "properties": {"maintainer": _TEXT, "last_calibration": _DATE, "calibration_due": _DATE,
                           "test_report": _TEXT}},
    },
}
_VALIDATOR = Draft202012Validator(DEVICE_SCHEMA)


def validate_device(doc: Any) -> dict[str, Any]:
    """Check a submitted device record against :data:`DEVICE_SCHEMA`. Pure. Returns it.

    Raises:
        InvalidInput: every violation with its JSON path, sorted.
    """
    errors = sorted(f"{e.json_path}: {e.message[:120]}" for e in _VALIDATOR.iter_errors(doc))
    if errors:
        raise InvalidInput("device record invalid: " + "; ".join(errors[:20]))
    if doc["maintenance"]["calibration_due"] < doc["maintenance"]["last_calibration"]:
        raise InvalidInput("device record invalid: $.maintenance.calibration_due is before last_calibration")
    return dict(doc)


def require_active_device(stub: Any, device_id: Any) -> dict[str, Any]:
    """The record of a registered, not revoked device.

    Raises:
        InvalidInput: not a device id. NotFound: never registered. Forbidden: revoked.
    """
    if not isinstance(device_id, str) or not DEVICE_ID.match(device_id):
        raise InvalidInput("device_id is not a device id (letters, digits, '.', '_', '-'; at most 64)")
    device = device_of(stub, device_id)
    if device is None:
        raise NotFound(f"device {device_id} is not registered")
    if device["status"] != "active":
        raise Forbidden(f"device {device_id} was revoked at {device['revoked_at']}")
    return device


def register(ctx: Any, doc: Any) -> dict[str, Any]:
    """Register a device owned by the caller's org; returns the stored record.

    Raises:
        InvalidInput: as :func:`validate_device`. Forbidden: not an admin of an active member of an owner
            role. Conflict: the device id is already registered (revoked ids are not reused).
    """
    device = validate_device(doc)
    msp = require_admin(ctx, "registering a monitoring device")
    role = role_of(ctx.stub, msp)
    if role not in OWNER_ROLES:
        raise Forbidden(f"{msp} (role {role or 'none'}) may not register devices: only {', '.join(OWNER_ROLES)}")
    if device_of(ctx.stub, device["device_id"]) is not None:
        raise Conflict(f"device {device['device_id']} is already registered (device ids are never reused)")
    now = tx_time(ctx)
    stored = {**device, "owner_msp": msp, "status": "active", "registered_at": now, "revoked_at": 0,
              "tx_id": ctx.stub.get_tx_id(), "history": [{"event": "registered", "at": now, "by": msp}]}
    put_device(ctx.stub, stored)
    record_event(ctx, "device_registered", {"device_id": device["device_id"], "reg_no": device["reg_no"]})
    return stored


def revoke(ctx: Any, device_id: Any, reason: Any) -> dict[str, Any]:
    """Revoke a device (its owner or a regulator); returns the record.

    Raises:
        InvalidInput: bad id or reason. NotFound / Forbidden: as :func:`require_active_device`, or the
            caller is neither the owner nor a regulator.
    """
    if not isinstance(reason, str) or not 1 <= len(reason) <= 500:
        raise InvalidInput("reason must be 1..500 characters")
    device = require_active_device(ctx.stub, device_id)
    msp = caller_msp(ctx)
    if msp != device["owner_msp"] and role_of(ctx.stub, msp) != "regulator":
        raise Forbidden(f"{msp} may not revoke device {device_id}: only its owner or a regulator")
    now = tx_time(ctx)
    device["history"].append({"event": "revoked", "at": now, "by": msp, "reason": reason})
    device.update(status="revoked", revoked_at=now)
    put_device(ctx.stub, device)
    record_event(ctx, "device_revoked", {"device_id": device_id})
    return device


def _window(item: Any) -> dict[str, Any]:
    fields = ["count", "device_id", "root", "window_id", "window_start"]
    if not isinstance(item, dict) or sorted(item) != fields:
        raise InvalidInput(f"a window is an object with exactly {', '.join(fields)}")
    for name in ("window_id", "window_start", "count"):
        if require_int(item[name], name, 0 if name != "count" else 1) > MAX_INT:
            raise InvalidInput(f"{name} must be at most {MAX_INT}")
    require_hex64(item["root"], "root")
    return dict(item)


def anchor_windows(ctx: Any, items: Any) -> dict[str, Any]:
    """Anchor window roots of the caller's active devices; returns ``{anchored, unchanged}`` counts.

    Raises:
        InvalidInput: not a list of 1..500 windows, malformed window, repeated ``(device, window_id)``.
        NotFound / Forbidden: unknown or revoked device, or a device the caller's org does not own.
        Conflict: a window already anchored with a different root.
    """
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_WINDOWS:
        raise InvalidInput(f"windows must be a list of 1..{MAX_WINDOWS} windows")
    windows = [_window(i) for i in items]
    keys = [(w["device_id"], w["window_id"]) for w in windows]
    if len(set(keys)) != len(keys):
        raise InvalidInput("windows repeat a (device_id, window_id)")
    msp = caller_msp(ctx)
    now, tx_id = tx_time(ctx), ctx.stub.get_tx_id()
    owners: dict[str, str] = {}
    anchored = unchanged = 0
    for w in sorted(windows, key=lambda x: (x["device_id"], x["window_id"])):
        if w["device_id"] not in owners:
            owners[w["device_id"]] = require_active_device(ctx.stub, w["device_id"])["owner_msp"]
        if owners[w["device_id"]] != msp:
            raise Forbidden(f"device {w['device_id']} belongs to {owners[w['device_id']]}: {msp} may not anchor it")
        existing = window_of(ctx.stub, w["device_id"], w["window_id"])
        if existing is not None:
            if existing["root"] != w["root"] or existing["count"] != w["count"]:
                raise Conflict(f"window {w['window_id']} of device {w['device_id']} is anchored with another root")
            unchanged += 1
            continue
        put_window(ctx.stub, {**w, "tx_id": tx_id, "at": now})
        anchored += 1
    if anchored:
        record_event(ctx, "windows_anchored", {"windows": anchored})
    return {"anchored": anchored, "unchanged": unchanged, "tx_id": tx_id}


def prove_reading(stub: Any, device_id: Any, window_id: Any, reading: Any, proof: Any) -> dict[str, Any]:
    """Check a stored reading (its canonical leaf object) against the anchored root of its window.

    Returns ``{valid: true, root, window_id}``; a reading that does not verify is an error.

    Raises:
        InvalidInput: malformed arguments or proof, or the reading does not verify against the root.
        NotFound: the window is not anchored.
    """
    if not isinstance(device_id, str) or not DEVICE_ID.match(device_id):
        raise InvalidInput("device_id is not a device id")
    require_int(window_id, "window_id", 0)
    if not isinstance(reading, dict) or reading.get("device") != device_id:
        raise InvalidInput("reading must be the reading's leaf object of this device")
    window = window_of(stub, device_id, window_id)
    if window is None:
        raise NotFound(f"window {window_id} of device {device_id} is not anchored")
    try:
        verify_inclusion(canonical_json(reading), InclusionProof.from_dict(proof), window["root"])
    except InvalidProof as exc:
        raise InvalidInput(f"the reading does not match the anchored root of window {window_id}: {exc}") from exc
    return {"valid": True, "root": window["root"], "window_id": window_id}
