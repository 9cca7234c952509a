"""Warnings and devices contracts on MockStub: device registry, window anchoring and proofs, the closed
loop (every step out of order or by the wrong org refused with nothing written), escalation by tx time."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3
from qcchain_model.merkle import MerkleTree

from qcchain_contracts.devices import Devices
from qcchain_contracts.warning_rules import DEFAULT_DEADLINES, STEPS
from qcchain_contracts.warnings import EVENT, Warnings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contracts"))
from govkit import ROOT, GovKit  # noqa: E402

DEVICE = {"device_id": "PV-001-P1", "reg_no": "32010001", "device_type": "pressure_vessel",
          "credential_sha256": "ab" * 32,
          "statistics": {"sensor_kind": "pressure transmitter", "quantities": ["pressure", "temperature"],
                         "install_location": "Plant 1 vessel V-3", "install_date": "2025-01-10"},
          "basic": {"manufacturer": "Sensor Co.", "model": "PT-100", "serial_no": "SN-1"},
          "maintenance": {"maintainer": "Maint Co.", "last_calibration": "2025-01-01",
                          "calibration_due": "2026-01-01"}}


def reading(seq: int, value: float) -> dict:
    return {"org": "UsingUnitMSP", "device": "PV-001-P1", "seq": seq, "ts": 1_760_000_000_000 + seq * 1000,
            "quantity": "pressure", "value": value, "unit": "MPa"}


def device_warning(wid: str = "0" * 63 + "1", colour: str = "yellow", seq: int = 7) -> dict:
    r = reading(seq, 1.45)
    return {"warning_id": wid, "colour": colour, "source": "device", "subject": "PV-001-P1", "rule": "band",
            "responsible_msp": "UsingUnitMSP", "summary": "pressure 1.45 MPa above 1.40",
            "evidence": {"reading": r, "reading_digest": sm3(canonical_json(r)).hex()}}


EVIDENCE = {"note": "valve replaced, pressure back to 1.2 MPa", "digests": ["cd" * 32]}


@pytest.fixture()
def kit() -> GovKit:
    k = GovKit(extra_contracts=(Devices(), Warnings()), keys=False)
    k.ok("devices:register", [DEVICE], org="UsingUnit")
    return k


def test_default_deadlines_are_the_policy_file() -> None:
    doc = yaml.safe_load((ROOT / "policies" / "warnings.yaml").read_text(encoding="utf-8"))
    assert doc["deadlines"] == DEFAULT_DEADLINES


def test_device_registry(kit: GovKit) -> None:
    got = kit.ok("devices:get", ["PV-001-P1"], org="Regulator")
    assert got["owner_msp"] == "UsingUnitMSP" and got["status"] == "active"
    assert [d["device_id"] for d in kit.ok("devices:list_devices", ["32010001", 10], org="Inspection")] == ["PV-001-P1"]
    kit.fails("devices:register", [DEVICE], "already registered", org="UsingUnit")
    bad = {**DEVICE, "device_id": "X-2", "statistics": {**DEVICE["statistics"], "install_date": "2025/1/1"}}
    kit.fails("devices:register", [bad], "$.statistics.install_date", org="UsingUnit")
    kit.fails("devices:register", [{**DEVICE, "device_id": "X-3"}], "may not register", org="Regulator")
    kit.fails("devices:register", [{**DEVICE, "device_id": "X-4"}], "admin", org="UsingUnit", admin=False)
    kit.fails("devices:revoke", ["PV-001-P1", "gone"], "only its owner", org="Manufacturer")
    assert kit.ok("devices:revoke", ["PV-001-P1", "sensor replaced"], org="Regulator")["status"] == "revoked"
    kit.fails("warnings:raise_warning", [device_warning()], "revoked", org="UsingUnit")


def test_window_anchor_and_proof(kit: GovKit) -> None:
    leaves = [reading(i, 1.0 + i / 100) for i in range(5)]
    tree = MerkleTree([canonical_json(r) for r in leaves])
    window = {"device_id": "PV-001-P1", "window_id": 3, "window_start": 1_760_000_000_000, "count": 5,
              "root": tree.root.hex()}
    assert kit.ok("devices:anchor_windows", [[window]], org="UsingUnit")["anchored"] == 1
    assert kit.ok("devices:anchor_windows", [[window]], org="UsingUnit")["unchanged"] == 1
    kit.fails("devices:anchor_windows", [[{**window, "root": "ee" * 32}]], "another root", org="UsingUnit")
    kit.fails("devices:anchor_windows", [[{**window, "window_id": 4}]], "may not anchor", org="Maintenance")
    proof = tree.proof(2).to_dict()
    assert kit.ok("devices:prove", ["PV-001-P1", 3, leaves[2], proof], org="Regulator")["valid"] is True
    tampered = {**leaves[2], "value": 0.5}
    kit.fails("devices:prove", ["PV-001-P1", 3, tampered, proof], "does not match", org="Regulator")


def test_closed_loop_in_order_by_the_right_roles(kit: GovKit) -> None:
    w = device_warning()
    raised = kit.ok("warnings:raise_warning", [w], org="UsingUnit")
    assert raised["status"] == "raised" and raised["duplicate"] is False
    assert raised["ack_deadline"] == raised["raised_at"] + 24 * 3600
    assert kit.ok("warnings:raise_warning", [w], org="UsingUnit")["duplicate"] is True
    # a duplicate answers the stored warning: only to an active member (found by the model check)
    kit.fails("warnings:raise_warning", [w], "not an active member", org="Stranger")
    kit.fails("warnings:raise_warnings", [[w]], "not an active member", org="Stranger")
    assert kit.stub.last_writes == {}
    wid = w["warning_id"]
    # every step out of order, before its turn, writes nothing
    for step in ("start", "dispose", "verify", "close"):
        kit.fails(f"warnings:{step}", [wid, EVIDENCE], "needs", org="UsingUnit" if STEPS[step][2] == "responsible" else "Regulator")
    plan = [("acknowledge", "UsingUnit", {}), ("start", "UsingUnit", {}), ("dispose", "UsingUnit", EVIDENCE),
            ("verify", "Inspection", EVIDENCE), ("close", "Regulator", {})]
    for step, who, evidence in plan:
        for wrong in ("Manufacturer", "Maintenance", "Regulator" if who == "UsingUnit" else "UsingUnit"):
            kit.fails(f"warnings:{step}", [wid, evidence], "may", org=wrong)
        if STEPS[step][3]:
            kit.fails(f"warnings:{step}", [wid, {}], "evidence", org=who)
        got = kit.ok(f"warnings:{step}", [wid, evidence], org=who)
        assert got["status"] == STEPS[step][1]
        assert kit.stub.events[-1][1] == EVENT and json.loads(kit.stub.events[-1][2])["kind"] == step
    kit.fails("warnings:acknowledge", [wid, {}], "closed", org="UsingUnit")
    final = kit.ok("warnings:get", [wid], org="Maintenance")
    assert [h["step"] for h in final["history"]] == ["raised", "acknowledge", "start", "dispose", "verify", "close"]
    assert kit.ok("warnings:list_warnings", ["closed", "", "", 10], org="Regulator")[0]["warning_id"] == wid


def test_raise_refusals(kit: GovKit) -> None:
    w = device_warning()
    kit.fails("warnings:raise_warning", [{**w, "colour": "purple"}], "colour", org="UsingUnit")
    kit.fails("warnings:raise_warning", [{**w, "responsible_msp": "MaintenanceMSP"}], "owner", org="Maintenance")
    bad = {**w, "evidence": {**w["evidence"], "reading_digest": "00" * 32}}
    kit.fails("warnings:raise_warning", [bad], "reading_digest", org="UsingUnit")
    kit.fails("warnings:raise_warning", [w], "only for itself", org="Manufacturer")
    danger = {"warning_id": "a" * 64, "colour": "orange", "source": "rectification", "subject": "HD-1",
              "rule": "overdue", "responsible_msp": "UsingUnitMSP", "summary": "hidden danger HD-1 overdue",
              "evidence": {"note": "limitDate 2025-06-30 passed", "digests": ["12" * 32]}}
    kit.fails("warnings:raise_warning", [danger], "only for itself", org="Maintenance")
    assert kit.ok("warnings:raise_warning", [danger], org="Regulator")["raised_by"] == "RegulatorMSP"


def test_escalation_uses_the_transaction_time(kit: GovKit) -> None:
    w = device_warning(colour="yellow")
    kit.ok("warnings:raise_warning", [w], org="UsingUnit")
    assert kit.ok("warnings:escalate_overdue", [50], org="Inspection")["escalated"] == []
    kit.tick(24 * 3600 + 5)
    out = kit.ok("warnings:escalate_overdue", [50], org="Inspection")
    assert [e["colour"] for e in out["escalated"]] == ["orange"]
    event = json.loads(kit.stub.events[-1][2])
    assert event["kind"] == "escalated" and event["notify_roles"] == ["regulator"]
    assert kit.ok("warnings:escalate_overdue", [50], org="Inspection")["escalated"] == []   # deadlines restarted
    kit.ok("warnings:acknowledge", [w["warning_id"], {}], org="UsingUnit")
    kit.tick(72 * 3600 + 5)   # orange dispose deadline missed while acknowledged
    assert [e["colour"] for e in kit.ok("warnings:escalate_overdue", [50])["escalated"]] == ["red"]
    kit.tick(25 * 3600)
    assert [e["colour"] for e in kit.ok("warnings:escalate_overdue", [50])["escalated"]] == ["red"]
    got = kit.ok("warnings:get", [w["warning_id"]])
    assert got["escalations"] == 3 and got["initial_colour"] == "yellow"
    kit.fails("warnings:escalate_overdue", [50], "not an active member", org="Stranger")
