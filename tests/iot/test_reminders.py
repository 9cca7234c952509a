"""The daily reminder job: overdue hidden dangers and expiry reminders (colours from policy, deterministic
ids, no personal field on chain), raised through the warnings contract once however often the job runs, and
each reminder closed on chain when its renewal is recorded (only by a regulator / inspection body)."""

from __future__ import annotations

import datetime as dt
import json

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3
from qcchain_iot.reminderjob import run_reminder_job
from qcchain_iot.reminders import (DueItem, expiry_reminders, inspection_items, node_items,
                                   overdue_rectifications, personnel_items, reminder_due, renewal_of, renewals)
from qcchain_sdk.contracts.warnings import WarningsClient

from chainkit import KitContract, chain_kit

TODAY = dt.date(2025, 7, 10)
DANGERS = [
    {"ID": "HD-1", "regNo": "32010001", "troubleLevel": "一般事故隐患", "limitDate": "2025-06-30"},
    {"ID": "HD-2", "regNo": "32010001", "troubleLevel": "严重事故隐患", "limitDate": "2025-07-01",
     "dealDate": "2025-07-02", "dealInfo": "fixed"},
    {"ID": "HD-3", "regNo": "32010002", "troubleLevel": "较大事故隐患", "limitDate": "2025-06-01",
     "dealDate": "2025-05-30", "acceptDate": "2025-06-01"},                 # accepted: no warning
    {"ID": "HD-4", "regNo": "32010002", "troubleLevel": "较大事故隐患", "limitDate": "2025-07-10"},  # due today
    {"ID": "HD-5", "regNo": "32010002", "troubleLevel": "?", "limitDate": "2025-01-01"},          # skipped
]


def test_overdue_rectifications(policy) -> None:
    out = overdue_rectifications(DANGERS, "UsingUnitMSP", TODAY, policy)
    assert [(w["subject"], w["colour"]) for w in out] == [("HD:HD-1", "yellow"), ("HD:HD-2", "red")]
    assert "awaiting acceptance" in out[1]["summary"]
    assert out == overdue_rectifications(DANGERS, "UsingUnitMSP", TODAY, policy)     # deterministic


def test_expiry_windows_and_kinds(policy) -> None:
    people = [{"ID": "P1", "psnName": "Zhang San", "idCardNo": "110101199001011234", "certNo": "TS-001",
               "endDate": "2025-08-01"},
              {"ID": "P2", "psnName": "Li Si", "idCardNo": "110101199001015678", "certNo": "TS-002",
               "endDate": "2025-09-20"},
              {"ID": "P3", "psnName": "Wang", "idCardNo": "110101199001019999", "certNo": "TS-003",
               "endDate": "2026-09-20"}]
    reports = [{"regNo": "32010001", "inspectionDate": "2024-07-01", "nextInspectionDate": "2025-07-01"},
               {"regNo": "32010001", "inspectionDate": "2023-07-01", "nextInspectionDate": "2024-07-01"}]
    nodes = [{"node_id": "peer0.unit", "org_msp": "UsingUnitMSP", "status": "active", "tls_cert_sha256": "a" * 64,
              "sign_cert_sha256": "b" * 64,
              "not_after": int(dt.datetime(2025, 8, 20, tzinfo=dt.timezone.utc).timestamp())}]
    items = (personnel_items(people, "UsingUnitMSP") + inspection_items(reports, "UsingUnitMSP")
             + node_items(nodes, "UsingUnitMSP")
             + [DueItem("safety_valve", "32010001/SV-1", dt.date(2025, 7, 20), "UsingUnitMSP", {"valve": "SV-1"}),
                DueItem("bursting_disc", "32010001/BD-1", dt.date(2025, 9, 1), "UsingUnitMSP", {"disc": "BD-1"})])
    out = {w["subject"]: w["colour"] for w in expiry_reminders(items, TODAY, policy)}
    assert out == {"personnel_certificate:TS-001": "yellow", "personnel_certificate:TS-002": "blue",
                   "inspection_due:32010001": "yellow", "node_certificate:peer0.unit": "blue",
                   "safety_valve:32010001/SV-1": "yellow", "bursting_disc:32010001/BD-1": "blue"}
    text = json.dumps(expiry_reminders(items, TODAY, policy), ensure_ascii=False)
    assert "110101" not in text and "Zhang" not in text


def test_job_raises_once_on_chain(policy) -> None:
    kit = chain_kit()
    client = WarningsClient(KitContract(kit, "Regulator"))
    docs = overdue_rectifications(DANGERS, "UsingUnitMSP", TODAY, policy)
    docs += expiry_reminders([DueItem("personnel_certificate", "TS-001", dt.date(2025, 8, 1), "UsingUnitMSP",
                                      {"certNo": "TS-001"})], TODAY, policy)
    for _ in range(2):   # the job runs twice (or after a crash): nothing twice
        answers = [client.raise_warning(d) for d in docs]
    assert all(a["duplicate"] for a in answers)
    listed = client.list(limit=50)
    assert sorted((w["source"], w["colour"]) for w in listed) == [("expiry", "yellow"), ("rectification", "red"),
                                                                  ("rectification", "yellow")]
    assert all(w["responsible_msp"] == "UsingUnitMSP" for w in listed)


def _cert(end: str, cert_no: str = "TS-001") -> dict:
    return {"ID": "P1", "psnName": "Zhang San", "idCardNo": "110101199001011234", "certNo": cert_no, "endDate": end}


def test_renewals_pick_the_latest_due_per_subject(policy) -> None:
    old, new = _cert("2025-08-01"), _cert("2028-08-01")
    open_ = expiry_reminders(personnel_items([old], "UsingUnitMSP"), TODAY, policy)
    assert reminder_due(open_[0]) == dt.date(2025, 8, 1)
    assert renewals(open_, personnel_items([old], "UsingUnitMSP")) == []                  # not renewed
    assert renewals(open_, []) == []                                                     # item no longer listed
    found = renewals(open_, personnel_items([old, new], "UsingUnitMSP"))                 # old record beside its renewal
    assert [(w["warning_id"], i.due) for w, i in found] == [(open_[0]["warning_id"], dt.date(2028, 8, 1))]
    renewal = renewal_of(found[0][1])
    assert renewal["due"] == "2028-08-01" and "TS-001" in renewal["note"] and "Zhang" not in json.dumps(renewal)
    assert renewals([{**open_[0], "source": "device"}], personnel_items([new], "UsingUnitMSP")) == []


def test_job_closes_the_reminder_when_the_renewal_is_recorded(policy) -> None:
    kit = chain_kit()
    inspector = WarningsClient(KitContract(kit, "Inspection"))
    first = run_reminder_job(inspector, TODAY, policy, personnel_items([_cert("2025-08-01")], "UsingUnitMSP"),
                             DANGERS, "UsingUnitMSP")
    assert first.summary() == {"resolved": 0, "raised": 3, "duplicates": 0, "failed": 0}
    reminder_id = next(w["warning_id"] for w in inspector.list_open("expiry"))
    rerun = run_reminder_job(inspector, TODAY, policy, personnel_items([_cert("2025-08-01")], "UsingUnitMSP"),
                             DANGERS, "UsingUnitMSP")
    assert rerun.summary() == {"resolved": 0, "raised": 0, "duplicates": 3, "failed": 0}
    # the certificate is renewed for three years: the reminder closes, nothing new is due
    renewed = _cert("2028-08-01")
    out = run_reminder_job(inspector, TODAY, policy, personnel_items([_cert("2025-08-01"), renewed], "UsingUnitMSP"))
    assert out.resolved == [reminder_id] and out.raised == [] and out.failed == []
    got = inspector.get(reminder_id)
    assert got["status"] == "closed" and got["renewed_due"] == "2028-08-01"
    assert got["history"][-1]["evidence"]["digests"] == [sm3(canonical_json(renewed)).hex()]
    assert inspector.list_open("expiry") == []
    assert run_reminder_job(inspector, TODAY, policy, personnel_items([renewed], "UsingUnitMSP")).summary() == \
        {"resolved": 0, "raised": 0, "duplicates": 0, "failed": 0}


def test_a_short_renewal_closes_both_colours_and_raises_the_next_reminder(policy) -> None:
    kit = chain_kit()
    regulator = WarningsClient(KitContract(kit, "Regulator"))
    reports = [{"regNo": "32010001", "inspectionDate": "2024-09-01", "nextInspectionDate": "2025-09-01"}]
    blue = run_reminder_job(regulator, TODAY, policy, inspection_items(reports, "UsingUnitMSP"))
    yellow = run_reminder_job(regulator, dt.date(2025, 8, 15), policy, inspection_items(reports, "UsingUnitMSP"))
    assert len(blue.raised) == len(yellow.raised) == 1 and len(regulator.list_open("expiry")) == 2
    reports.append({"regNo": "32010001", "inspectionDate": "2025-08-20", "nextInspectionDate": "2025-10-01"})
    out = run_reminder_job(regulator, dt.date(2025, 8, 20), policy, inspection_items(reports, "UsingUnitMSP"))
    assert sorted(out.resolved) == sorted(blue.raised + yellow.raised) and len(out.raised) == 1
    still_open = regulator.list_open("expiry")
    assert [w["warning_id"] for w in still_open] == out.raised and "2025-10-01" in still_open[0]["evidence"]["note"]


def test_the_responsible_unit_cannot_close_its_own_reminder(policy) -> None:
    kit = chain_kit()
    inspector = WarningsClient(KitContract(kit, "Inspection"))
    run_reminder_job(inspector, TODAY, policy, personnel_items([_cert("2025-08-01")], "UsingUnitMSP"))
    unit = WarningsClient(KitContract(kit, "UsingUnit"))
    out = run_reminder_job(unit, TODAY, policy, personnel_items([_cert("2028-08-01")], "UsingUnitMSP"))
    assert out.resolved == [] and len(out.failed) == 1
    assert [w["status"] for w in unit.list_open("expiry")] == ["raised"]
