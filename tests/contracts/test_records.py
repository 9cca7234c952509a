"""Records contract on MockStub: placement by grade, grade floor, signatures, entitlement, bad input."""

from __future__ import annotations


import pytest

from qcchain_core.gm import sm3
from qcchain_contracts.grading import Grading
from qcchain_contracts.records import Records
from qcchain_contracts.sharing import Sharing
from qcchain_sdk.contracts.records import build_record, decrypt_view, verify_view

from govkit import GovKit

EQUIPMENT = {"ID": "EQ-1", "busType": "I", "updateDate": "2025-06-01", "regNo": "32010001", "equipmentKind": "电梯",
             "equipmentName": "Passenger lift", "model": "XL-1", "productNo": "P-001",
             "manufacturerName": "Lift Maker Co.", "manufactureDate": "2024-12-01"}
DANGER = {"ID": "HD-1", "batchNo": "2025060100000001", "txCode": "09", "busType": "I", "updateDate": "2025-06-01",
          "taskNo": "T-1", "regNo": "32010001", "troubleType": "设备类", "troubleLevel": "一般事故隐患",
          "mainProblem": "brake worn", "checkMan": "Wang", "checkDate": "2025-06-01", "limitDate": "2025-06-30"}


@pytest.fixture()
def kit() -> GovKit:
    return GovKit(extra_contracts=(Records(), Grading(), Sharing()))


def submit(kit: GovKit, org: str, built, ok: bool = True, contains: str = ""):  # type: ignore[no-untyped-def]
    if ok:
        return kit.ok("records:submit", built.args(), org=org, transient=built.transient)
    return kit.fails("records:submit", built.args(), contains, org=org, transient=built.transient)


def equipment(kit: GovKit, **kw):  # type: ignore[no-untyped-def]
    m = kit.orgs["Manufacturer"]
    args = dict(record_id="EQ-1", category="equipment", equipment_code="32010001", stage="production",
                owner_msp=m.msp, grade="L1", signing_key=m.key, payload=EQUIPMENT)
    args.update(kw)
    return build_record(**args)


def test_l1_record_roundtrip_and_queries(kit: GovKit) -> None:
    meta = submit(kit, "Manufacturer", equipment(kit))
    assert meta["grade"] == "L1" and meta["placement"] == "world_state" and "payload" not in meta
    view = kit.ok("records:get", ["EQ-1"], org="Maintenance")
    assert view["payload"] == EQUIPMENT and view["access"] == "audience"
    assert verify_view(view, kit.orgs["Manufacturer"].key.public_key()) == []
    page = kit.ok("records:query", ["equipment", "32010001", "10", ""], org="UsingUnit")
    assert [r["record_id"] for r in page["records"]] == ["EQ-1"]
    assert kit.ok("records:query", ["stage", "use", "10", ""])["records"] == []


def test_update_and_delete_make_versions(kit: GovKit) -> None:
    submit(kit, "Manufacturer", equipment(kit))
    changed = dict(EQUIPMENT, busType="U", model="XL-2")
    submit(kit, "Manufacturer", equipment(kit, payload=changed, bus_type="U", version=2))
    submit(kit, "Manufacturer", equipment(kit, payload=changed, bus_type="U", version=2), ok=False, contains="version")
    submit(kit, "Manufacturer", equipment(kit, payload={}, bus_type="D", version=3))
    assert kit.ok("records:get", ["EQ-1"])["deleted"] is True


def test_bad_input_is_refused_and_writes_nothing(kit: GovKit) -> None:
    submit(kit, "Manufacturer", equipment(kit, payload=dict(EQUIPMENT, equipmentKind="rocket")), ok=False,
           contains="$.equipmentKind")
    submit(kit, "Manufacturer", equipment(kit, category="spaceship"), ok=False, contains="unknown category")
    submit(kit, "Manufacturer", equipment(kit, stage="orbit"), ok=False, contains="stage")
    big = dict(EQUIPMENT, equipmentName="x" * 70000)
    submit(kit, "Manufacturer", equipment(kit, payload=big), ok=False, contains="at most")
    forged = equipment(kit)
    forged.signature = kit.orgs["Inspection"].key.sign(b"other").hex()
    submit(kit, "Manufacturer", forged, ok=False, contains="does not verify")
    stolen = equipment(kit, signing_key=kit.orgs["Inspection"].key)
    submit(kit, "Manufacturer", stolen, ok=False, contains="not to the signer")
    submit(kit, "Inspection", equipment(kit), ok=False, contains="not the submitting org")
    tampered = equipment(kit)
    tampered.payload = dict(EQUIPMENT, model="other")
    submit(kit, "Manufacturer", tampered, ok=False, contains="digest")


def test_signature_cannot_be_reused(kit: GovKit) -> None:
    built = equipment(kit)
    submit(kit, "Manufacturer", built)
    submit(kit, "Manufacturer", built, ok=False, contains="already")


def test_grade_cannot_be_lowered(kit: GovKit) -> None:
    u = kit.orgs["UsingUnit"]
    low = build_record(record_id="HD-1", category="hidden_danger", equipment_code="32010001", stage="use",
                       owner_msp=u.msp, grade="L2", signing_key=u.key, payload=DANGER,
                       recipients=_recipients(kit, "UsingUnit", "Regulator"))  # L2 is sealed too (issue 13 #3)
    submit(kit, "UsingUnit", low, ok=False, contains="cannot lower")


def _recipients(kit: GovKit, *names: str):  # type: ignore[no-untyped-def]
    return {kit.orgs[n].msp: kit.orgs[n].key.public_key() for n in names}


def test_l3_record_is_encrypted_for_owner_and_regulator(kit: GovKit) -> None:
    u = kit.orgs["UsingUnit"]
    args = dict(record_id="HD-1", category="hidden_danger", equipment_code="32010001", stage="use",
                owner_msp=u.msp, grade="L3", signing_key=u.key, payload=DANGER)
    submit(kit, "UsingUnit", build_record(**args, recipients=_recipients(kit, "UsingUnit")), ok=False,
           contains="RegulatorMSP")
    built = build_record(**args, recipients=_recipients(kit, "UsingUnit", "Regulator"))
    meta = submit(kit, "UsingUnit", built)
    assert meta["placement"] == "private_encrypted"
    assert "brake".encode() not in b"".join(kit.stub.state[""].values())
    view = kit.ok("records:get", ["HD-1"], org="Regulator")
    assert decrypt_view(view, view["wrapped_key"]["wrapped"], kit.orgs["Regulator"].key) == DANGER
    assert verify_view(view, u.key.public_key()) == []
    other = kit.ok("records:get", ["HD-1"], org="Manufacturer")
    assert other["access"] == "metadata" and "ciphertext" not in other


def test_l4_keeps_only_the_digest(kit: GovKit) -> None:
    i = kit.orgs["Inspection"]
    original = b"%PDF-1.7 periodic inspection report, lift 32010001, conclusion: pass"
    built = build_record(record_id="IR-1", category="inspection_report", equipment_code="32010001",
                         stage="inspection", owner_msp=i.msp, grade="L4", signing_key=i.key, original=original)
    meta = submit(kit, "Inspection", built)
    assert meta["placement"] == "off_chain" and meta["digest"] == sm3(original).hex()
    assert kit.ok("records:verify_original", ["IR-1", original], org="Regulator")["match"] is True
    assert kit.ok("records:verify_original", ["IR-1", original + b"x"], org="Regulator")["match"] is False
    assert "payload" not in kit.ok("records:get", ["IR-1"], org="Regulator")


def test_frozen_records_refuse_writes_but_serve_reads(kit: GovKit) -> None:
    submit(kit, "Manufacturer", equipment(kit))
    import hashlib

    kit.passed(kit.proposal("deploy", contract="records", version="1", digest=hashlib.sha256(b"p").hexdigest()),
               ["Regulator", "Inspection", "UsingUnit"])
    kit.passed(kit.proposal("freeze", contract="records"), ["Regulator"])
    changed = dict(EQUIPMENT, busType="U", model="XL-2")
    submit(kit, "Manufacturer", equipment(kit, payload=changed, bus_type="U", version=2), ok=False, contains="frozen")
    assert kit.ok("records:get", ["EQ-1"])["version"] == 1
