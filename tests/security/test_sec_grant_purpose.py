"""Finding 1: a read under a grant must match the grant's scope, grade, purpose, expiry and use count — all of
them — and be logged under the grant that matched (never under another grant of the same grantee)."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest

from qcchain_core.canonical import canonical_json

from govkit import GovKit
from seckit import full_kit, signed, state_snapshot

RECORDS = {
    "r-hd": {"record_id": "r-hd", "category": "hidden_danger", "equipment_code": "EQ1", "stage": "use",
             "owner_msp": "UsingUnitMSP", "grade": "L3", "digest": "a" * 64, "version": 1, "deleted": False,
             "placement": "private_encrypted"},
    "r-hd2": {"record_id": "r-hd2", "category": "hidden_danger", "equipment_code": "EQ2", "stage": "use",
              "owner_msp": "UsingUnitMSP", "grade": "L3", "digest": "b" * 64, "version": 1, "deleted": False,
              "placement": "private_encrypted"},
    # an L2 record written in world state before L2 was encrypted (issue 13 finding 3), not yet migrated
    "r-l2": {"record_id": "r-l2", "category": "key_using_unit", "equipment_code": "EQ1", "stage": "use",
             "owner_msp": "UsingUnitMSP", "grade": "L2", "digest": "c" * 64, "version": 1, "deleted": False,
             "placement": "world_state", "payload": {"secret": "internal business data"}},
}


@pytest.fixture()
def kit() -> GovKit:
    k = full_kit()
    for meta in RECORDS.values():
        k.stub.state[""][k.stub.create_composite_key("rec", [meta["record_id"]])] = canonical_json(meta)
    return k


def _wrap(kit: GovKit, org: str, record_id: str) -> dict[str, str]:
    wrapped = kit.orgs[org].key.public_key().encrypt(os.urandom(16))
    return {"record_id": record_id, "key_id": kit.orgs[org].key_id, "wrapped_key": base64.b64encode(wrapped).decode()}


def _grant(kit: GovKit, grant_id: str, record_id: str, purpose: str, max_grade: str = "L3", ttl: int = 3600,
           grantee: str = "Maintenance", **extra: Any) -> dict[str, Any]:
    wrapped = [_wrap(kit, grantee, record_id)] if RECORDS[record_id]["grade"] == "L3" else []
    body = {"grant_id": grant_id, "grantee_msp": kit.orgs[grantee].msp, "scope": {"type": "record", "value": record_id},
            "max_grade": max_grade, "purpose": purpose, "expires_at": kit.now + ttl, **extra}
    if wrapped:
        body["wrapped_keys"] = wrapped
    return kit.ok("sharing:grant", signed(kit, "UsingUnit", "grant", **body), org="UsingUnit")


def _access(kit: GovKit, record_id: str, purpose: str, org: str = "Maintenance") -> list[Any]:
    kit._acc = getattr(kit, "_acc", 0) + 1  # type: ignore[attr-defined]
    return signed(kit, org, "access", record_id=record_id, purpose=purpose, nonce=f"acc{kit._acc:06d}")  # type: ignore[attr-defined]


def test_a_grant_for_one_purpose_does_not_serve_another(kit: GovKit) -> None:
    _grant(kit, "g-maint", "r-hd", "maintenance")
    message = kit.fails("sharing:access", _access(kit, "r-hd", "insurance"), "purpose 'insurance'", org="Maintenance")
    assert "\n" not in message
    assert kit.ok("sharing:get", ["g-maint"], org="UsingUnit")["uses"] == 0
    assert kit.ok("sharing:access_log", ["r-hd"], org="UsingUnit") == []
    out = kit.ok("sharing:access", _access(kit, "r-hd", "maintenance"), org="Maintenance")
    assert out["entry"]["grant_id"] == "g-maint" and out["entry"]["purpose"] == "maintenance"


def test_the_access_is_logged_and_counted_under_the_grant_of_its_purpose(kit: GovKit) -> None:
    _grant(kit, "g-a-maint", "r-hd", "maintenance", max_uses=1)
    _grant(kit, "g-b-insur", "r-hd", "insurance")
    out = kit.ok("sharing:access", _access(kit, "r-hd", "insurance"), org="Maintenance")
    assert out["entry"]["grant_id"] == "g-b-insur"
    assert kit.ok("sharing:get", ["g-a-maint"], org="UsingUnit")["uses"] == 0
    assert kit.ok("sharing:get", ["g-b-insur"], org="UsingUnit")["uses"] == 1


@pytest.mark.parametrize("mismatch", ["scope", "grade", "purpose", "expiry", "uses"])
def test_every_term_must_match(kit: GovKit, mismatch: str) -> None:
    record, purpose = "r-hd", "maintenance"
    if mismatch == "scope":
        _grant(kit, "g1", "r-hd2", "maintenance")
    elif mismatch == "grade":
        _grant(kit, "g1", "r-hd", "maintenance", max_grade="L2")
    elif mismatch == "purpose":
        _grant(kit, "g1", "r-hd", "research")
    elif mismatch == "expiry":
        _grant(kit, "g1", "r-hd", "maintenance", ttl=10)
        kit.tick(20)
    else:
        _grant(kit, "g1", "r-hd", "maintenance", max_uses=1)
        kit.ok("sharing:access", _access(kit, record, purpose), org="Maintenance")
    before = state_snapshot(kit)
    kit.fails("sharing:access", _access(kit, record, purpose), "grant", org="Maintenance")
    assert state_snapshot(kit) == before


def test_l2_under_a_grant_is_read_only_through_a_logged_access_with_its_purpose(kit: GovKit) -> None:
    _grant(kit, "g-l2", "r-l2", "maintenance", max_grade="L2", max_uses=1)
    view = kit.ok("records:get", ["r-l2"], org="Maintenance")
    assert "payload" not in view  # no purpose, no use counted, no log: records:get does not serve a grant
    kit.fails("sharing:access", _access(kit, "r-l2", "insurance"), "purpose 'insurance'", org="Maintenance")
    out = kit.ok("sharing:access", _access(kit, "r-l2", "maintenance"), org="Maintenance")
    assert out["payload"] == RECORDS["r-l2"]["payload"] and out["entry"]["grant_id"] == "g-l2"
    kit.fails("sharing:access", _access(kit, "r-l2", "maintenance"), "grant", org="Maintenance")  # used up
    assert kit.ok("records:get", ["r-l2"], org="Regulator")["payload"] == RECORDS["r-l2"]["payload"]  # audience
