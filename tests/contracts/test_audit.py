"""The ``audit`` contract on MockStub (record history, lifecycle log, timeline, access log) and the SDK
auditor re-verifying what it reads — flagging every tampered digest, signature and key."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from qcchain_core.canonical import canonical_json, canonical_loads
from qcchain_core.gm import SM2PrivateKey
from qcchain_contracts.audit import Audit
from qcchain_contracts.grading import Grading
from qcchain_contracts.records import Records
from qcchain_contracts.sharing import Sharing
from qcchain_sdk.contracts.audit import AuditClient, audit_channel, format_timeline, verify_key_record
from qcchain_sdk.contracts.records import build_record

from govkit import CHANNEL, GovKit, cert_pem
from test_records import DANGER, EQUIPMENT


class KitEvaluator:
    """``evaluate_transaction`` over the kit's MockStub as one org's admin (what a Gateway Contract does)."""

    def __init__(self, kit: GovKit, org: str) -> None:
        self.kit, self.org = kit, org

    def evaluate_transaction(self, fn: str, *args: str | bytes) -> bytes:
        msp = self.kit.orgs[self.org].msp
        response = self.kit.stub.invoke(self.kit.contracts, fn, list(args), creator=(msp, cert_pem(msp, True)),
                                        tx_time=self.kit.now)
        if not response.ok:
            raise RuntimeError(f"{fn}: {response.message}")
        return bytes(response.payload)


@pytest.fixture()
def kit() -> GovKit:
    k = GovKit(extra_contracts=(Records(), Grading(), Sharing(), Audit()))
    k.passed(k.proposal("deploy", contract="records", version="1", digest="ab" * 32),
             signers=["Regulator", "Inspection", "UsingUnit"])
    man, use, ins = k.orgs["Manufacturer"], k.orgs["UsingUnit"], k.orgs["Inspection"]
    eq = dict(record_id="EQ-1", category="equipment", equipment_code="32010001", stage="production",
              owner_msp=man.msp, grade="L1", signing_key=man.key)
    k.ok("records:submit", build_record(**eq, payload=EQUIPMENT).args(), org="Manufacturer")
    k.ok("records:submit", build_record(**eq, payload=dict(EQUIPMENT, busType="U", model="XL-2"), bus_type="U",
                                        version=2).args(), org="Manufacturer")
    hd = build_record(record_id="HD-1", category="hidden_danger", equipment_code="32010001", stage="use",
                      owner_msp=use.msp, grade="L3", signing_key=use.key, payload=DANGER,
                      recipients={o.msp: o.key.public_key() for o in (use, k.orgs["Regulator"])})
    k.ok("records:submit", hd.args(), org="UsingUnit", transient=hd.transient)
    ir = build_record(record_id="IR-1", category="inspection_report", equipment_code="32010001", stage="inspection",
                      owner_msp=ins.msp, grade="L4", signing_key=ins.key, original=b"%PDF original")
    k.ok("records:submit", ir.args(), org="Inspection")
    k.passed(k.proposal("freeze", contract="records"), signers=["Regulator"])
    k.passed(k.proposal("thaw", contract="records"), signers=["Regulator", "Inspection", "UsingUnit"])
    body = {"action": "access", "channel": CHANNEL, "record_id": "IR-1", "purpose": "supervision", "nonce": "nonce-0001"}
    k.ok("sharing:access", [body, k.orgs["Regulator"].key_id, k.sig("Regulator", body)], org="Regulator")
    return k


def test_record_history_lists_every_version(kit: GovKit) -> None:
    versions = kit.ok("audit:record_history", ["EQ-1"], org="Maintenance")
    assert [v["version"] for v in versions] == [1, 2] and all(v["history_tx_id"] for v in versions)
    assert versions[1]["payload"]["model"] == "XL-2"
    kit.fails("audit:record_history", ["NO-SUCH"], "no history")


def test_history_shows_only_what_the_caller_may_see(kit: GovKit) -> None:
    outsider = kit.ok("audit:record_history", ["HD-1"], org="Manufacturer")[0]
    assert outsider["access"] == "metadata" and "ciphertext" not in outsider
    regulator = kit.ok("audit:record_history", ["HD-1"], org="Regulator")[0]
    assert regulator["ciphertext"] and regulator["wrapped_key"]["key_id"] == kit.orgs["Regulator"].key_id


def test_lifecycle_log_says_who_proposed_signed_executed(kit: GovKit) -> None:
    log = kit.ok("audit:lifecycle_log", [], org="Maintenance")
    assert [e["operation"] for e in log] == ["deploy", "freeze", "thaw"]
    assert log[0]["version"] == "1" and log[0]["package_digest"] == "ab" * 32
    thaw = log[2]
    assert thaw["proposer_msp"] == "RegulatorMSP" and thaw["executed_by"] == "RegulatorMSP" and thaw["status"] == "executed"
    assert sorted(s["msp_id"] for s in thaw["signatures"]) == ["InspectionMSP", "RegulatorMSP", "UsingUnitMSP"]
    assert thaw["counted_signers"] == ["InspectionMSP", "RegulatorMSP", "UsingUnitMSP"] and thaw["executed_at"] >= thaw["proposed_at"]


def test_timeline_range_and_bad_range(kit: GovKit) -> None:
    everything = kit.ok("audit:timeline", [0, 10**12])
    kinds = [e["kind"] for e in everything]
    assert kinds[0] == "bootstrap" and kinds.count("record") == 4 and "executed" in kinds
    assert [e["at"] for e in everything] == sorted(e["at"] for e in everything)
    middle = everything[len(everything) // 2]["at"]
    assert all(e["at"] >= middle for e in kit.ok("audit:timeline", [middle, 10**12]))
    assert kit.ok("audit:timeline", [5, 5]) == []
    kit.fails("audit:timeline", [10, 5], "from_time <= to_time")
    kit.fails("audit:timeline", [-1, 5], "from_time <= to_time")


def test_access_log(kit: GovKit) -> None:
    entries = kit.ok("audit:access_log", ["IR-1"], org="Inspection")  # the owner
    assert [(e["reader_msp"], e["basis"], e["purpose"]) for e in entries] == [("RegulatorMSP", "supervisory", "supervision")]
    assert kit.ok("audit:access_log", ["IR-1"], org="Regulator") == entries  # a supervisory role
    assert kit.ok("audit:access_log", ["EQ-1"]) == []


def test_access_log_is_not_open_to_everyone(kit: GovKit) -> None:
    kit.fails("audit:access_log", ["IR-1"], "may not read the access log", org="Maintenance")
    kit.fails("audit:access_log", ["IR-1"], "not an active consortium member", org="Stranger")
    kit.fails("audit:access_log", ["NO-SUCH"], "does not exist", org="Regulator")
    kit.fails("audit:timeline", [0, 10**12], "not an active consortium member", org="Stranger")
    kit.fails("audit:lifecycle_log", [], "not an active consortium member", org="Stranger")


def _audit(kit: GovKit) -> Any:
    client = AuditClient(KitEvaluator(kit, "Regulator"), CHANNEL)
    return audit_channel(client, decrypt_key=kit.orgs["Regulator"].key)


def test_auditor_reverifies_everything(kit: GovKit) -> None:
    report = _audit(kit)
    assert report.ok, report.problems
    # 2 + 1 + 1 record versions; deploy 3 + freeze 1 + thaw 3 proposal signatures
    assert report.checked["sm2_signatures"] == 11 and report.checked["keys"] == 5
    assert report.checked["sm3_digests"] >= 2 + 2 + 2  # proposal ids, L1 payloads, L3 ciphertext + plaintext
    assert set(report.records) == {"EQ-1", "HD-1", "IR-1"} and len(report.accesses["IR-1"]) == 1
    text = "\n".join(format_timeline(report))
    assert "all hold" in text and "freeze records" in text and "read IR-1 for supervision (supervisory)" in text


def _tamper(kit: GovKit, object_type: str, attrs: list[str], change: Any, collection: str = "") -> None:
    key = kit.stub.create_composite_key(object_type, attrs) if object_type else attrs[0]
    value = canonical_loads(kit.stub.state[collection][key])
    change(value)
    kit.stub.state[collection][key] = canonical_json(value)
    if not collection and key in kit.stub.history:  # the ledger's history of the key, as a forger would
        last = kit.stub.history[key][-1]
        kit.stub.history[key][-1] = dataclasses.replace(last, value=canonical_json(value))


def test_auditor_flags_a_tampered_payload(kit: GovKit) -> None:
    _tamper(kit, "rec", ["EQ-1"], lambda v: v["payload"].update(model="FORGED"))
    problems = _audit(kit).problems
    assert problems == ["EQ-1 v2: payload does not match its SM3 digest"]


def test_auditor_flags_a_forged_record_signature(kit: GovKit) -> None:
    forged = SM2PrivateKey.generate().sign(b"whatever").hex()
    _tamper(kit, "rec", ["IR-1"], lambda v: v.update(signature=forged))
    assert _audit(kit).problems == ["IR-1 v1: SM2 signature does not verify"]


def test_auditor_flags_tampered_ciphertext_and_proposal(kit: GovKit) -> None:
    def flip(v: dict[str, Any]) -> None:
        v["ciphertext"] = v["ciphertext"][:-2] + ("00" if v["ciphertext"][-2:] != "00" else "11")
    _tamper(kit, "", ["HD-1"], flip, collection="collectionL3")
    pid = kit.ok("audit:lifecycle_log", [])[0]["proposal_id"]
    _tamper(kit, "gov.proposal", [pid], lambda v: v["body"].update(reason="rewritten"))
    problems = _audit(kit).problems
    assert "HD-1 v1: ciphertext does not match its SM3 digest" in problems
    assert any(p.startswith("HD-1 v1: L3 payload fails re-verification") for p in problems)
    assert any("id is not the SM3 of its canonical body" in p for p in problems)
    assert any("SM2 signature of RegulatorMSP does not verify" in p for p in problems)


def test_auditor_flags_a_swapped_key(kit: GovKit) -> None:
    key_id = kit.orgs["Manufacturer"].key_id
    other = SM2PrivateKey.generate().public_key().to_pem().decode()
    _tamper(kit, "gov.key", [key_id], lambda v: v.update(public_key_pem=other))
    problems = _audit(kit).problems
    assert any("key id is not the SM3 of the stored public key" in p for p in problems)
    assert any(p.startswith("EQ-1 v1: submitter key unknown") for p in problems)
    assert verify_key_record(None, key_id)[1] == [f"SM2 key {key_id[:16]}... is not registered on chain"]
    assert json.loads(KitEvaluator(kit, "Regulator").evaluate_transaction("keys:get", key_id))["public_key_pem"] == other


def test_auditor_skips_l3_items_wrapped_for_another_of_its_keys(kit: GovKit) -> None:
    # HD-1's data key is wrapped for the regulator's registered key; auditing with another key of the
    # regulator (e.g. a console's) is not a mismatch — the item is simply not one this key can open
    client = AuditClient(KitEvaluator(kit, "Regulator"), CHANNEL)
    other = audit_channel(client, decrypt_key=SM2PrivateKey.generate())
    assert other.ok, other.problems
    own = _audit(kit)
    assert own.ok and own.checked["sm3_digests"] == other.checked["sm3_digests"] + 1
