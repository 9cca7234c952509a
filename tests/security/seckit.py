"""Helpers of the security tests: a kit with every business contract, signed bodies, records, a fake clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qcchain_contracts import contract_classes
from qcchain_contracts.clock import configure_clock
from qcchain_core.canonical import canonical_json
from qcchain_sdk.contracts.records import build_record
from qcchain_shim.ledger import Response

from govkit import CHANNEL, GovKit, cert_pem

EQUIPMENT = {"ID": "EQ-1", "busType": "I", "updateDate": "2025-06-01", "regNo": "32010001", "equipmentKind": "电梯",
             "equipmentName": "Passenger lift", "model": "XL-1", "productNo": "P-001",
             "manufacturerName": "Lift Maker Co.", "manufactureDate": "2024-12-01"}


def full_kit() -> GovKit:
    """A bootstrapped GovKit with every front of the chaincode (governance and keys come with the kit)."""
    extra = tuple(cls() for cls in contract_classes() if cls.__name__ not in ("Governance", "KeyRegistry"))
    return GovKit(extra_contracts=extra)


def signed(kit: GovKit, org: str, action: str, **fields: Any) -> list[Any]:
    """``[body, key_id, signature]`` of a sharing action signed by ``org``'s current key."""
    body = {"action": action, "channel": CHANNEL, **fields}
    return [body, kit.orgs[org].key_id, kit.sig(org, body)]


def state_snapshot(kit: GovKit) -> dict[str, dict[str, bytes]]:
    """A copy of every collection of the mock ledger."""
    return {c: dict(t) for c, t in kit.stub.state.items()}


def call_at(kit: GovKit, fn: str, args: list[Any], tx_time: int, org: str = "Regulator", admin: bool = True,
            **kw: Any) -> Response:
    """Submit ``fn`` with an explicit (possibly backdated) transaction timestamp; the kit's clock is not moved."""
    msp = kit.orgs[org].msp if org in kit.orgs else f"{org}MSP"
    raw = [a if isinstance(a, (str, bytes)) else json.dumps(a) for a in args]
    return kit.stub.submit(kit.contracts, fn, raw, creator=(msp, cert_pem(msp, admin)), tx_time=tx_time, **kw)


@contextmanager
def server_clock(kit: GovKit) -> Iterator[None]:
    """Run with the freshness check on, the chaincode server's clock reading the kit's ``now``."""
    configure_clock(lambda: float(kit.now))
    try:
        yield
    finally:
        configure_clock(None)


def equipment_record(kit: GovKit, payload: dict[str, Any] | None = None, **kw: Any) -> Any:
    """A signed L1 equipment record of the manufacturer (``build_record``), payload overridable."""
    m = kit.orgs["Manufacturer"]
    args: dict[str, Any] = dict(record_id="EQ-1", category="equipment", equipment_code="32010001", stage="production",
                                owner_msp=m.msp, grade="L1", signing_key=m.key, payload=payload or EQUIPMENT)
    args.update(kw)
    return build_record(**args)


def canonical(value: Any) -> bytes:
    return canonical_json(value)
