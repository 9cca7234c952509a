"""The daily reminder job: overdue hidden dangers and expiry reminders (colours from policy, deterministic
ids, no personal field on chain), raised through the warnings contract once however often the job runs."""

from __future__ import annotations

import datetime as dt
import json

from qcchain_iot.reminders import (DueItem, expiry_reminders, inspection_items, node_items,
                                   overdue_rectifications, personnel_items)
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
