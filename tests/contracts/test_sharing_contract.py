"""Sharing and grading contracts on MockStub with the real governance and key registry (GovKit)."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest

from qcchain_core.canonical import canonical_json
from qcchain_contracts.grading import Grading
from qcchain_contracts.sharing import Sharing

from govkit import CHANNEL, GovKit

RECORDS = {
    "r-hd": {"record_id": "r-hd", "category": "hidden_danger", "equipment_code": "EQ1", "stage": "use",
             "owner_msp": "UsingUnitMSP", "grade": "L3", "digest": "a" * 64, "version": 1, "deleted": False,
             "placement": "private_encrypted"},
    "r-rep": {"record_id": "r-rep", "category": "inspection_report", "equipment_code": "EQ1", "stage": "inspection",
              "owner_msp": "InspectionMSP", "grade": "L4", "digest": "b" * 64, "version": 1, "deleted": False,
              "placement": "off_chain"},
    "r-eq": {"record_id": "r-eq", "category": "equipment", "equipment_code": "EQ1", "stage": "production",
             "owner_msp": "ManufacturerMSP", "grade": "L1", "digest": "c" * 64, "version": 1, "deleted": False,
             "placement": "world_state"},
}


def seed_records(kit: GovKit) -> None:
    """Record metadata under the records contract's key ``rec`` [record_id] (KEY_TYPES in common.py)."""
    for meta in RECORDS.values():
        kit.stub.state[""][kit.stub.create_composite_key("rec", [meta["record_id"]])] = canonical_json(meta)


@pytest.fixture()
def kit() -> GovKit:
    k = GovKit(extra_contracts=(Sharing(), Grading()))
    seed_records(k)
    return k


def signed(kit: GovKit, org: str, action: str, **fields: Any) -> list[Any]:
    body = {"action": action, "channel": CHANNEL, **fields}
    return [body, kit.orgs[org].key_id, kit.sig(org, body)]


def terms(kit: GovKit, grant_id: str, scope: tuple[str, str], max_grade: str, purpose: str = "maintenance",
          ttl: int = 3600, **extra: Any) -> dict[str, Any]:
    return {"grant_id": grant_id, "scope": {"type": scope[0], "value": scope[1]}, "max_grade": max_grade,
            "purpose": purpose, "expires_at": kit.now + ttl, **extra}


def wrap_for(kit: GovKit, org: str, record_id: str, data_key: bytes) -> dict[str, str]:
    wrapped = kit.orgs[org].key.public_key().encrypt(data_key)
    return {"record_id": record_id, "key_id": kit.orgs[org].key_id, "wrapped_key": base64.b64encode(wrapped).decode()}


def access(kit: GovKit, org: str, record_id: str, purpose: str = "maintenance", nonce: str | None = None) -> list[Any]:
    kit._nonce = getattr(kit, "_nonce", 0) + 1
    return signed(kit, org, "access", record_id=record_id, purpose=purpose, nonce=nonce or f"nonce{kit._nonce:05d}")


def test_request_approve_with_wrapped_key_then_logged_access(kit: GovKit) -> None:
    g = kit.ok("sharing:request", signed(kit, "Manufacturer", "request", owner_msp="UsingUnitMSP",
                                         **terms(kit, "g1", ("record", "r-hd"), "L3", max_uses=2)), org="Manufacturer")
    assert g["status"] == "requested" and g["grantee_msp"] == "ManufacturerMSP"
    kit.fails("sharing:access", access(kit, "Manufacturer", "r-hd"), "holds no grant", org="Manufacturer")
    data_key = os.urandom(16)
    kit.fails("sharing:approve", signed(kit, "Regulator", "approve", grant_id="g1"), "may not approve", org="Regulator")
    kit.fails("sharing:approve", signed(kit, "UsingUnit", "approve", grant_id="g1"), "must carry its data key", org="UsingUnit")
    g = kit.ok("sharing:approve", signed(kit, "UsingUnit", "approve", grant_id="g1",
                                         wrapped_keys=[wrap_for(kit, "Manufacturer", "r-hd", data_key)]), org="UsingUnit")
    assert g["status"] == "approved" and [s["action"] for s in g["trail"]] == ["request", "approve"]
    out = kit.ok("sharing:access", access(kit, "Manufacturer", "r-hd"), org="Manufacturer")
    assert out["entry"]["basis"] == "grant" and out["entry"]["reader_msp"] == "ManufacturerMSP"
    assert out["entry"]["purpose"] == "maintenance" and out["entry"]["at"] == kit.now
    unwrapped = kit.orgs["Manufacturer"].key.decrypt(base64.b64decode(out["wrapped_key"]["wrapped_key"]))
    assert unwrapped == data_key
    kit.ok("sharing:access", access(kit, "Manufacturer", "r-hd"), org="Manufacturer")
    kit.fails("sharing:access", access(kit, "Manufacturer", "r-hd"), "holds no grant", org="Manufacturer")  # used up
    assert kit.ok("sharing:get", ["g1"], org="UsingUnit")["uses"] == 2
    log = kit.ok("sharing:access_log", ["r-hd"], org="UsingUnit")
    assert [e["reader_msp"] for e in log] == ["ManufacturerMSP", "ManufacturerMSP"]
    kit.fails("sharing:access_log", ["r-hd"], "may not read the access log", org="Maintenance")


def test_access_nonce_cannot_be_replayed(kit: GovKit) -> None:
    args = access(kit, "Regulator", "r-rep", purpose="supervision", nonce="fixednonce")
    assert kit.ok("sharing:access", args, org="Regulator")["entry"]["basis"] == "supervisory"
    kit.fails("sharing:access", args, "already used", org="Regulator")


def test_supervisory_access_needs_a_supervisory_purpose(kit: GovKit) -> None:
    kit.fails("sharing:access", access(kit, "Regulator", "r-rep", purpose="insurance"), "holds no grant", org="Regulator")
    kit.fails("sharing:access", access(kit, "Regulator", "r-rep", purpose="gossip"), "purpose 'gossip'", org="Regulator")


def test_direct_grant_l4_by_record_only_and_expiry(kit: GovKit) -> None:
    kit.fails("sharing:grant", signed(kit, "Inspection", "grant", grantee_msp="UsingUnitMSP",
                                      **terms(kit, "g2", ("equipment", "EQ1"), "L4", purpose="inspection")),
              "most a using_unit may get by equipment scope", org="Inspection")
    kit.fails("sharing:grant", signed(kit, "Inspection", "grant", grantee_msp="ManufacturerMSP",
                                      **terms(kit, "g2", ("record", "r-rep"), "L4", purpose="inspection")),
              "above L3", org="Inspection")
    g = kit.ok("sharing:grant", signed(kit, "Inspection", "grant", grantee_msp="UsingUnitMSP",
                                       **terms(kit, "g2", ("record", "r-rep"), "L4", purpose="inspection", ttl=100)),
               org="Inspection")
    assert g["status"] == "approved"
    kit.fails("sharing:grant", signed(kit, "Inspection", "grant", grantee_msp="UsingUnitMSP",
                                      **terms(kit, "g2", ("record", "r-rep"), "L4", purpose="inspection")),
              "already exists", org="Inspection")
    out = kit.ok("sharing:access", access(kit, "UsingUnit", "r-rep", purpose="inspection"), org="UsingUnit")
    assert out["entry"]["grant_id"] == "g2" and out["wrapped_key"] is None  # L4 is served off chain
    kit.tick(200)
    kit.fails("sharing:access", access(kit, "UsingUnit", "r-rep", purpose="inspection"), "holds no grant", org="UsingUnit")
    report = kit.ok("sharing:check", [], org="Regulator")
    assert {(f["grant_id"], f["issue"]) for f in report["findings"]} >= {("g2", "expired_listed")}


def test_revoke_reject_and_state_machine(kit: GovKit) -> None:
    kit.ok("sharing:request", signed(kit, "Maintenance", "request", owner_msp="UsingUnitMSP",
                                     **terms(kit, "g3", ("category", "hidden_danger"), "L3")), org="Maintenance")
    kit.ok("sharing:reject", signed(kit, "UsingUnit", "reject", grant_id="g3", reason="not needed"), org="UsingUnit")
    kit.fails("sharing:approve", signed(kit, "UsingUnit", "approve", grant_id="g3"), "is rejected", org="UsingUnit")
    kit.ok("sharing:grant", signed(kit, "UsingUnit", "grant", grantee_msp="MaintenanceMSP",
                                   **terms(kit, "g4", ("equipment", "EQ1"), "L3")), org="UsingUnit")
    assert kit.ok("sharing:access", access(kit, "Maintenance", "r-hd"), org="Maintenance")["entry"]["grant_id"] == "g4"
    kit.fails("sharing:revoke", signed(kit, "Manufacturer", "revoke", grant_id="g4"), "may not revoke", org="Manufacturer")
    kit.ok("sharing:revoke", signed(kit, "Maintenance", "revoke", grant_id="g4"), org="Maintenance")
    kit.fails("sharing:access", access(kit, "Maintenance", "r-hd"), "holds no grant", org="Maintenance")
    assert [g["grant_id"] for g in kit.ok("sharing:list_grants", ["revoked"], org="UsingUnit")] == ["g4"]
    assert kit.ok("sharing:list_grants", [""], org="Manufacturer") == []
    kit.fails("sharing:get", ["g4"], "not a party", org="Manufacturer")


def test_signatures_bodies_and_members_are_checked(kit: GovKit) -> None:
    body = {"action": "request", "channel": CHANNEL, "owner_msp": "UsingUnitMSP", **terms(kit, "g5", ("record", "r-hd"), "L3")}
    kit.fails("sharing:request", [body, kit.orgs["Manufacturer"].key_id, kit.sig("Maintenance", body)], "does not verify", org="Manufacturer")
    kit.fails("sharing:request", [body, kit.orgs["Maintenance"].key_id, kit.sig("Maintenance", body)], "not to the signer", org="Manufacturer")
    kit.fails("sharing:request", [body, kit.orgs["Manufacturer"].key_id, "zz"], "must be hex", org="Manufacturer")
    other = dict(body, channel="elsewhere")
    kit.fails("sharing:request", [other, kit.orgs["Manufacturer"].key_id, kit.sig("Manufacturer", other)], "not 'qcchannel'", org="Manufacturer")
    kit.fails("sharing:request", signed(kit, "Manufacturer", "request", owner_msp="UsingUnitMSP",
                                        **terms(kit, "g5", ("record", "r-eq"), "L3")), "owned by ManufacturerMSP", org="Manufacturer")
    kit.fails("sharing:request", [body, kit.orgs["Manufacturer"].key_id, kit.sig("Manufacturer", body)], "not a member", org="Stranger")
    kit.fails("sharing:access", access(kit, "UsingUnit", "r-eq"), "read it with records", org="UsingUnit")


def test_wrapped_keys_must_target_the_grantee_active_key_and_covered_l3_records(kit: GovKit) -> None:
    kit.fails("sharing:grant", signed(kit, "UsingUnit", "grant", grantee_msp="ManufacturerMSP",
                                      **terms(kit, "g6", ("record", "r-hd"), "L3")), "must carry its data key", org="UsingUnit")
    kit.ok("sharing:grant", signed(kit, "UsingUnit", "grant", grantee_msp="ManufacturerMSP",
                                   **terms(kit, "g6", ("equipment", "EQ1"), "L3")), org="UsingUnit")
    wrong = wrap_for(kit, "Maintenance", "r-hd", os.urandom(16))
    kit.fails("sharing:add_keys", signed(kit, "UsingUnit", "add_keys", grant_id="g6", wrapped_keys=[wrong]),
              "not for ManufacturerMSP's active key", org="UsingUnit")
    kit.fails("sharing:add_keys", signed(kit, "UsingUnit", "add_keys", grant_id="g6",
                                         wrapped_keys=[wrap_for(kit, "Manufacturer", "r-rep", os.urandom(16))]),
              "not an encrypted record covered", org="UsingUnit")
    kit.ok("sharing:add_keys", signed(kit, "UsingUnit", "add_keys", grant_id="g6",
                                      wrapped_keys=[wrap_for(kit, "Manufacturer", "r-hd", os.urandom(16))]), org="UsingUnit")
    findings = kit.ok("sharing:check", [], org="UsingUnit")["findings"]
    assert not [f for f in findings if f["issue"] == "grantee_key_revoked"]
    kit.ok("keys:revoke", [kit.orgs["Manufacturer"].key_id, "compromised"], org="Manufacturer")
    findings = kit.ok("sharing:check", [], org="UsingUnit")["findings"]
    assert {(f["grant_id"], f["issue"]) for f in findings} >= {("g6", "grantee_key_revoked")}


def test_never_used_grants_are_reported(kit: GovKit) -> None:
    kit.ok("sharing:grant", signed(kit, "UsingUnit", "grant", grantee_msp="InspectionMSP",
                                   **terms(kit, "g7", ("category", "hidden_danger"), "L3", ttl=31_000_000)), org="UsingUnit")
    assert kit.ok("sharing:check", [], org="Regulator")["findings"] == []
    kit.tick(2_592_000)
    assert [f["issue"] for f in kit.ok("sharing:check", [], org="Regulator")["findings"]] == ["never_used"]


def test_grading_contract(kit: GovKit) -> None:
    d = kit.ok("grading:decide", ["hidden_danger", "using_unit", "regulator", "report"], org="UsingUnit")
    assert d["grade"] == "L3" and "role:regulator" in d["audiences"]
    kit.fails("grading:decide", ["nope", "using_unit", "", "publish"], "unknown category", org="UsingUnit")
    cats = kit.ok("grading:categories", [], org="Manufacturer")
    assert {c["category"]: c["placement"] for c in cats}["inspection_report"] == "off_chain"
