"""The warnings contract's batch raise (the relay's transactions), its open list, and expiry reminders
closed by their recorded renewal (MockStub): every refusal names what was wrong and writes nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from qcchain_contracts.devices import Devices
from qcchain_contracts.warnings import EVENT, MAX_BATCH, Warnings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contracts"))
from govkit import GovKit  # noqa: E402

from test_warnings_contract import DEVICE, EVIDENCE, device_warning  # noqa: E402

RENEWAL = {"due": "2028-08-01", "note": "certificate TS-001 renewed until 2028-08-01", "digests": ["9a" * 32]}


def reminder(wid: str = "e" * 64, note: str = "due 2025-08-01", colour: str = "yellow") -> dict:
    return {"warning_id": wid, "colour": colour, "source": "expiry", "subject": "personnel_certificate:TS-001",
            "rule": "personnel_certificate", "responsible_msp": "UsingUnitMSP",
            "summary": "personnel certificate TS-001 due in 22 day(s) (2025-08-01)",
            "evidence": {"note": note, "digests": ["ab" * 32]}}


@pytest.fixture()
def kit() -> GovKit:
    k = GovKit(extra_contracts=(Devices(), Warnings()), keys=False)
    k.ok("devices:register", [DEVICE], org="UsingUnit")
    return k


def _wid(n: int) -> str:
    return f"{n:064x}"


def test_batch_raise_one_transaction_one_event(kit: GovKit) -> None:
    batch = [device_warning(_wid(1), "yellow", 7), device_warning(_wid(2), "red", 8), device_warning(_wid(3), "blue", 9)]
    out = kit.ok("warnings:raise_warnings", [batch], org="UsingUnit")
    assert (out["raised"], out["duplicates"]) == (3, 0)
    assert [(w["warning_id"], w["duplicate"], w["status"]) for w in out["warnings"]] == \
        [(_wid(1), False, "raised"), (_wid(2), False, "raised"), (_wid(3), False, "raised")]
    name, payload = kit.stub.events[-1][1], json.loads(kit.stub.events[-1][2])
    assert name == EVENT and payload["kind"] == "raised" and payload["notify_roles"] == ["regulator"]
    assert [(w["warning_id"], w["notify_roles"]) for w in payload["warnings"]] == \
        [(_wid(1), []), (_wid(2), ["regulator"]), (_wid(3), [])]
    got = kit.ok("warnings:get", [_wid(2)], org="Regulator")
    assert got["colour"] == "red" and got["ack_deadline"] == got["raised_at"] + 3600
    # the relay re-sends after a crash: the raised ones are duplicates, the new one is raised
    again = kit.ok("warnings:raise_warnings", [batch + [device_warning(_wid(4), "orange", 10)]], org="UsingUnit")
    assert (again["raised"], again["duplicates"]) == (1, 3)
    assert len(kit.ok("warnings:list_warnings", ["", "", "", 50], org="Regulator")) == 4
    assert kit.ok("warnings:raise_warnings", [batch], org="UsingUnit")["raised"] == 0
    assert kit.stub.last_writes == {}                                    # all duplicates: nothing written


def test_batch_refusals_write_nothing(kit: GovKit) -> None:
    good = device_warning(_wid(1))
    kit.fails("warnings:raise_warnings", [[good, {**device_warning(_wid(2)), "colour": "purple"}]],
              "warnings[1]: colour", org="UsingUnit")
    kit.fails("warnings:raise_warnings", [[good, device_warning(_wid(1))]], "warnings[1]: warning_id", org="UsingUnit")
    kit.fails("warnings:raise_warnings", [[]], "list of 1..", org="UsingUnit")
    kit.fails("warnings:raise_warnings", [[good] * (MAX_BATCH + 1)], "list of 1..", org="UsingUnit")
    kit.fails("warnings:raise_warnings", [good], "expected a JSON array", org="UsingUnit")
    kit.fails("warnings:raise_warnings", [[good]], "warnings[0]: ", org="Manufacturer")
    kit.fails("warnings:raise_warnings", [[reminder(note="renew soon")]], "due YYYY-MM-DD", org="Inspection")
    kit.ok("devices:revoke", ["PV-001-P1", "sensor replaced"], org="Regulator")
    kit.fails("warnings:raise_warnings", [[good]], "revoked", org="UsingUnit")
    assert kit.ok("warnings:list_warnings", ["", "", "", 50], org="Regulator") == []


def test_list_open_by_source(kit: GovKit) -> None:
    kit.ok("warnings:raise_warning", [device_warning(_wid(1))], org="UsingUnit")
    kit.ok("warnings:raise_warning", [reminder()], org="Inspection")
    assert [w["source"] for w in kit.ok("warnings:list_open", ["expiry", "", 10], org="Maintenance")] == ["expiry"]
    assert len(kit.ok("warnings:list_open", ["", "UsingUnitMSP", 10], org="Maintenance")) == 2
    assert "history" not in kit.ok("warnings:list_open", ["", "", 10], org="Maintenance")[0]
    kit.fails("warnings:list_open", ["weather", "", 10], "source must be", org="Regulator")
    kit.fails("warnings:list_open", ["", "", 0], "limit", org="Regulator")
    kit.fails("warnings:list_open", ["", "", 10], "not an active member", org="Stranger")


def test_resolve_reminder_by_its_renewal(kit: GovKit) -> None:
    kit.ok("warnings:raise_warning", [reminder()], org="Inspection")
    kit.ok("warnings:raise_warning", [device_warning(_wid(1))], org="UsingUnit")
    wid = "e" * 64
    kit.ok("warnings:acknowledge", [wid, {}], org="UsingUnit")          # any open status may be resolved
    for wrong in ("UsingUnit", "Manufacturer", "Maintenance"):
        kit.fails("warnings:resolve_reminder", [wid, RENEWAL], "may not record a renewal", org=wrong)
    kit.fails("warnings:resolve_reminder", [_wid(1), RENEWAL], "not an expiry reminder", org="Regulator")
    kit.fails("warnings:resolve_reminder", [wid, {**RENEWAL, "due": "2025-08-01"}], "not later", org="Regulator")
    kit.fails("warnings:resolve_reminder", [wid, {**RENEWAL, "due": "2028-13-01"}], "not a calendar date",
              org="Regulator")
    kit.fails("warnings:resolve_reminder", [wid, {**RENEWAL, "due": "1 Aug 2028"}], "YYYY-MM-DD", org="Regulator")
    kit.fails("warnings:resolve_reminder", [wid, {**RENEWAL, "digests": []}], "digests", org="Regulator")
    kit.fails("warnings:resolve_reminder", [wid, {"due": "2028-08-01"}], "exactly due, note and digests",
              org="Regulator")
    kit.fails("warnings:resolve_reminder", ["f" * 64, RENEWAL], "does not exist", org="Regulator")
    got = kit.ok("warnings:resolve_reminder", [wid, RENEWAL], org="Regulator")
    assert got["status"] == "closed" and got["renewed_due"] == "2028-08-01"
    last = got["history"][-1]
    assert (last["step"], last["by"], last["evidence"]["digests"]) == ("resolve_reminder", "RegulatorMSP", ["9a" * 32])
    payload = json.loads(kit.stub.events[-1][2])
    assert payload["kind"] == "resolve_reminder" and payload["warnings"][0]["status"] == "closed"
    assert [w["source"] for w in kit.ok("warnings:list_open", ["", "", 10], org="Regulator")] == ["device"]
    kit.fails("warnings:resolve_reminder", [wid, RENEWAL], "is closed", org="Inspection")
    kit.fails("warnings:acknowledge", [wid, {}], "closed", org="UsingUnit")


def test_the_closed_loop_still_closes_a_reminder(kit: GovKit) -> None:
    kit.ok("warnings:raise_warning", [reminder()], org="Inspection")
    wid = "e" * 64
    for step, who, evidence in (("acknowledge", "UsingUnit", {}), ("start", "UsingUnit", {}),
                                ("dispose", "UsingUnit", EVIDENCE), ("verify", "Inspection", EVIDENCE),
                                ("close", "Regulator", {})):
        kit.ok(f"warnings:{step}", [wid, evidence], org=who)
    assert kit.ok("warnings:list_open", ["expiry", "", 10], org="Regulator") == []
