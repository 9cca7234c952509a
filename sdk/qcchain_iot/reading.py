"""One telemetry reading: the wire form a device publishes, its validation against the policy, and its
canonical bytes (the Merkle leaf).

Wire form (JSON object, at most ``max_message_bytes``)::

    {"seq": 42, "ts": 1767225600000, "quantity": "pressure", "value": 1.23, "unit": "MPa"}

``seq`` counts up per device (duplicates after a redelivery are recognised by ``(device, seq)``), ``ts`` is
the device clock in milliseconds since the epoch. The device and its org come from the topic, which the
broker's ACL binds to the authenticated device, never from the payload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from qcchain_core.canonical import canonical_json

from .errors import ReadingRejected
from .policy import WarningsPolicy

__all__ = ["Reading", "parse_reading", "encode_reading"]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    seq: int = Field(ge=0, le=2**53)
    ts: int = Field(ge=0, le=2**53)
    quantity: str = Field(min_length=1, max_length=32)
    value: float
    unit: str = Field(min_length=1, max_length=16)


@dataclass(frozen=True, slots=True)
class Reading:
    org: str
    device_id: str
    seq: int
    ts_ms: int
    quantity: str
    value: float
    unit: str

    def leaf(self) -> bytes:
        """Canonical bytes of the reading: the Merkle leaf anchored on chain."""
        return canonical_json({"org": self.org, "device": self.device_id, "seq": self.seq, "ts": self.ts_ms,
                               "quantity": self.quantity, "value": self.value, "unit": self.unit})


def encode_reading(seq: int, ts_ms: int, quantity: str, value: float, unit: str) -> bytes:
    """The wire bytes of one reading (what a device publishes)."""
    return canonical_json({"seq": seq, "ts": ts_ms, "quantity": quantity, "value": value, "unit": unit})


def parse_reading(org: str, device_id: str, payload: bytes, policy: WarningsPolicy, now_ms: int) -> Reading:
    """Validate one message from ``device_id`` received at ``now_ms``.

    Raises:
        ReadingRejected: oversized, not JSON, wrong fields or types, unknown quantity, wrong unit,
            non-finite or implausible value, a device clock ahead by more than ``clock_skew_s`` or a
            reading older than ``max_delay_s``.
            The message names the problem, never the submitted values.
    """
    if len(payload) > policy.max_message_bytes:
        raise ReadingRejected(f"message of {len(payload)} bytes exceeds {policy.max_message_bytes}")
    try:
        wire = _Wire.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "message"
        raise ReadingRejected(f"malformed reading: {where}: {first.get('type', 'invalid')}") from None
    spec = policy.units.get(wire.quantity)
    if spec is None:
        raise ReadingRejected("unknown quantity")
    unit, lo, hi = spec
    if wire.unit != unit:
        raise ReadingRejected(f"{wire.quantity} must be in {unit}")
    if not math.isfinite(wire.value) or not lo <= wire.value <= hi:
        raise ReadingRejected(f"{wire.quantity} outside its plausible range [{lo}, {hi}] {unit}")
    if wire.ts - now_ms > policy.clock_skew_s * 1000:
        raise ReadingRejected(f"device clock ahead by more than {policy.clock_skew_s} s")
    if now_ms - wire.ts > policy.max_delay_s * 1000:
        raise ReadingRejected(f"reading older than {policy.max_delay_s} s")
    return Reading(org, device_id, wire.seq, wire.ts, wire.quantity, float(wire.value), wire.unit)


def reading_from_row(row: Any) -> Reading:
    """A :class:`Reading` from a stored row (columns named as the fields)."""
    return Reading(row.org, row.device_id, row.seq, row.ts_ms, row.quantity, row.value, row.unit)
