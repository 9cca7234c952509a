"""Governance contract on MockStub: bootstrap, members, keys, proposals, thresholds, serving state."""

from __future__ import annotations

import hashlib

import pytest

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import SM2PrivateKey, sm3
from qcchain_contracts.errors import Destroyed, Forbidden, Frozen
from qcchain_contracts.store.members import validate_credit_code
from qcchain_contracts.lifecycle import configure_running_package, require_serving
from qcchain_contracts.errors import InvalidInput

from govkit import CHANNEL, GovKit, cert_pem, make_org

DIGEST1 = hashlib.sha256(b"package v1").hexdigest()
DIGEST2 = hashlib.sha256(b"package v2").hexdigest()
MAJ = ["Regulator", "Inspection", "UsingUnit"]


@pytest.fixture()
def kit() -> GovKit:
    k = GovKit()
    k.passed(k.proposal("deploy", contract="records", version="1", digest=DIGEST1), MAJ)
    return k


def test_credit_code_check_digit() -> None:
    assert validate_credit_code("9144030071526726XG") == "9144030071526726XG"
    for bad, why in [("9144030071526726XH", "wrong check character"), ("914403007152672", "18 characters"),
                     ("9144030071526726OG", "code set")]:
        with pytest.raises(InvalidInput, match=why):
            validate_credit_code(bad)


def test_bootstrap_once_by_member_admin_only() -> None:
    fresh = GovKit(bootstrap=False)
    fresh.fails("governance:bootstrap", [fresh.members(), fresh.policies()], "admin", org="Regulator", admin=False)
    fresh.fails("governance:bootstrap", [fresh.members(), fresh.policies()], "initial members", org="Outsider")
    bad = fresh.members()
    bad[0] = dict(bad[0], credit_code="91320000MA1NP00010")
    fresh.fails("governance:bootstrap", [bad, fresh.policies()], "check character", org="Regulator")
    fresh.fails("governance:bootstrap", [fresh.members(), {"grading": fresh.policies()["grading"]}], "governance")
    fresh.ok("governance:bootstrap", [fresh.members(), fresh.policies()], org="Inspection")
    fresh.fails("governance:bootstrap", [fresh.members(), fresh.policies()], "already bootstrapped", org="Inspection")
    assert len(fresh.ok("governance:members", [])) == 5


def test_key_registration_rules(kit: GovKit) -> None:
    org = kit.orgs["Inspection"]
    key = SM2PrivateKey.generate()
    pem = key.public_key().to_pem().decode()
    other = SM2PrivateKey.generate()
    kit.fails("keys:register", [pem, ["sign"], kit.now, kit.now + 100, other.sign(b"x").hex()], "proof of possession",
              org="Inspection")
    kit.fails("keys:register", [pem, ["sign"], kit.now, kit.now + 100, "00"], "admin", org="Inspection", admin=False)
    kit.fails("keys:register", [pem, ["fly"], kit.now, kit.now + 100, "00"], "usages", org="Inspection")
    kit.fails("keys:register", [pem, ["sign"], kit.now, kit.now + 100, "00"], "not an active consortium member", org="Outsider")
    kit.register_key(org, ("sign",), key=key)
    kit.fails("keys:revoke", [org.key_id, "lost"], "only its own admins", org="Regulator")
    kit.ok("keys:revoke", [org.key_id, "lost"], org="Inspection")
    assert kit.ok("keys:get", [org.key_id])["state"] == "revoked"


def test_regulator_alone_freezes_then_majority_thaws(kit: GovKit) -> None:
    freeze = kit.proposal("freeze", contract="records")
    p = kit.ok("governance:propose", [freeze, {}, kit.orgs["Inspection"].key_id, kit.sig("Inspection", freeze)],
               org="Inspection")
    kit.fails("governance:execute", [p["proposal_id"]], "under threshold", org="Inspection")
    kit.ok("governance:sign", [p["proposal_id"], kit.orgs["Regulator"].key_id, kit.sig("Regulator", freeze)])
    done = kit.ok("governance:execute", [p["proposal_id"]])
    assert done["outcome"]["state"] == "frozen"
    thaw = kit.proposal("thaw", contract="records")
    p = kit.ok("governance:propose", [thaw, {}, kit.orgs["Regulator"].key_id, kit.sig("Regulator", thaw)])
    kit.ok("governance:sign", [p["proposal_id"], kit.orgs["UsingUnit"].key_id, kit.sig("UsingUnit", thaw)], org="UsingUnit")
    kit.fails("governance:execute", [p["proposal_id"]], "2 of 3 required")
    kit.ok("governance:sign", [p["proposal_id"], kit.orgs["Maintenance"].key_id, kit.sig("Maintenance", thaw)],
           org="Maintenance")
    assert kit.ok("governance:execute", [p["proposal_id"]])["outcome"]["state"] == "active"
    kit.fails("governance:execute", [p["proposal_id"]], "already executed")


def test_majority_without_regulator_is_refused(kit: GovKit) -> None:
    body = kit.proposal("deploy", contract="sharing", version="1", digest=DIGEST1)
    p = kit.ok("governance:propose", [body, {}, kit.orgs["Inspection"].key_id, kit.sig("Inspection", body)], org="Inspection")
    for name in ("UsingUnit", "Manufacturer"):
        kit.ok("governance:sign", [p["proposal_id"], kit.orgs[name].key_id, kit.sig(name, body)], org=name)
    kit.fails("governance:execute", [p["proposal_id"]], "role regulator is required")


def test_bad_proposals_fail_clearly_and_write_nothing(kit: GovKit) -> None:
    reg = kit.orgs["Regulator"]
    body = kit.proposal("freeze", contract="records", nonce="replayed-nonce")
    kit.fails("governance:propose", [body, {}, reg.key_id, kit.sig("Inspection", body)], "does not verify")
    kit.fails("governance:propose", [body, {}, kit.orgs["Inspection"].key_id, kit.sig("Inspection", body)],
              "not to the signer")
    kit.fails("governance:propose", [body, {}, "ab" * 32, kit.sig("Regulator", body)], "not a registered admin key")
    expired = kit.proposal("freeze", contract="records", expiry=kit.now - 10)
    kit.fails("governance:propose", [expired, {}, reg.key_id, kit.sig("Regulator", expired)], "expired")
    other = dict(body, target=dict(body["target"], channel="elsewhere"))
    kit.fails("governance:propose", [other, {}, reg.key_id, kit.sig("Regulator", other)], "channel")
    kit.fails("governance:propose", [dict(body, extra=1), {}, reg.key_id, "00"], "exactly the fields")
    kit.fails("governance:propose", [dict(body, operation="explode"), {}, reg.key_id, "00"], "not one of")
    kit.ok("governance:propose", [body, {}, reg.key_id, kit.sig("Regulator", body)])
    kit.fails("governance:propose", [body, {}, reg.key_id, kit.sig("Regulator", body)], "duplicate")
    replay = dict(body, reason="different text, same nonce")
    kit.fails("governance:propose", [replay, {}, reg.key_id, kit.sig("Regulator", replay)], "replay")


def test_signer_key_must_be_a_govern_key(kit: GovKit) -> None:
    org = kit.orgs["Regulator"]
    kit.register_key(org, ("sign",))
    body = kit.proposal("freeze", contract="records")
    kit.fails("governance:propose", [body, {}, org.key_id, kit.sig("Regulator", body)], "not registered for 'govern'")


def test_revoked_signature_stops_counting(kit: GovKit) -> None:
    body = kit.proposal("freeze", contract="records")
    reg = kit.orgs["Regulator"]
    p = kit.ok("governance:propose", [body, {}, reg.key_id, kit.sig("Regulator", body)])
    kit.ok("keys:revoke", [reg.key_id, "compromised"], org="Regulator")
    kit.fails("governance:execute", [p["proposal_id"]], "under threshold")


def test_expired_key_signs_nothing(kit: GovKit) -> None:
    org = kit.orgs["UsingUnit"]
    kit.register_key(org, ("govern",), lifetime=5)
    kit.tick(10)
    body = kit.proposal("freeze", contract="records")
    kit.fails("governance:propose", [body, {}, org.key_id, kit.sig("UsingUnit", body)], "expired", org="UsingUnit")


def test_destroy_is_terminal_and_refuses_everything(kit: GovKit) -> None:
    kit.passed(kit.proposal("deploy", contract="scratch", version="1", digest=DIGEST1), MAJ)
    kit.passed(kit.proposal("destroy", contract="scratch"), MAJ)
    for op in ("thaw", "freeze", "upgrade", "deploy"):
        body = kit.proposal(op, contract="scratch", version="9" if op in ("upgrade", "deploy") else "",
                            digest=DIGEST2 if op in ("upgrade", "deploy") else "")
        kit.fails("governance:propose", [body, {}, kit.orgs["Regulator"].key_id, kit.sig("Regulator", body)], "destroyed")
    assert kit.ok("governance:unit", [CHANNEL, "qcchain", "scratch"])["state"] == "destroyed"


class _Ctx:
    def __init__(self, stub) -> None:  # type: ignore[no-untyped-def]
        self.stub = stub


def test_require_serving_follows_the_unit_state(kit: GovKit) -> None:
    ctx = _Ctx(kit.stub)
    require_serving(ctx, "records", write=True)  # not governed yet: serves
    kit.passed(kit.proposal("deploy", version="1", digest=DIGEST1), MAJ)
    kit.passed(kit.proposal("freeze", contract="records"), ["Regulator"])
    with pytest.raises(Frozen):
        require_serving(ctx, "records", write=True)
    require_serving(ctx, "records", write=False)
    require_serving(ctx, "sharing", write=True)
    kit.passed(kit.proposal("upgrade", version="2", digest=DIGEST2), MAJ)
    try:
        configure_running_package(f"qcchain_1:{DIGEST1}")
        with pytest.raises(Forbidden, match="not the approved version 2"):
            require_serving(ctx, "sharing", write=False)
        configure_running_package(f"qcchain_2:{DIGEST2}")
        require_serving(ctx, "sharing", write=True)
    finally:
        configure_running_package(None)
    kit.passed(kit.proposal("destroy"), MAJ)
    with pytest.raises(Destroyed):
        require_serving(ctx, "sharing", write=False)
    kit.fails("keys:revoke", [kit.orgs["Regulator"].key_id, "x"], "destroyed")
    assert kit.ok("governance:units", [])  # reads of governance stay possible for audit


def test_upgrade_cannot_reuse_a_version(kit: GovKit) -> None:
    kit.passed(kit.proposal("deploy", version="1", digest=DIGEST1), MAJ)
    body = kit.proposal("upgrade", version="1", digest=DIGEST2)
    kit.fails("governance:propose", [body, {}, kit.orgs["Regulator"].key_id, kit.sig("Regulator", body)], "already approved")


def test_member_admit_and_remove(kit: GovKit) -> None:
    newcomer = make_org("Installer", "manufacturer", "91320400MA1NT0006")
    artifact = newcomer.member()
    digest = sm3(canonical_json(artifact)).hex()
    kit.passed(kit.proposal("member_admit", contract=newcomer.msp, digest=digest), MAJ, artifact=artifact)
    assert kit.ok("governance:get_member", [newcomer.msp])["status"] == "active"
    kit.passed(kit.proposal("member_remove", contract="MaintenanceMSP"), [*MAJ, "Manufacturer"])  # 4 of 6
    assert kit.ok("governance:get_member", ["MaintenanceMSP"])["status"] == "removed"
    body = kit.proposal("freeze", contract="records")
    kit.fails("governance:propose", [body, {}, kit.orgs["Maintenance"].key_id, kit.sig("Maintenance", body)],
              "not an active member", org="Maintenance")


def test_policy_update_checks_digest_and_document(kit: GovKit) -> None:
    doc = kit.policies()["governance"]
    doc["operations"]["freeze"] = {"rule": "2-of-n"}
    good = sm3(canonical_json(doc)).hex()
    body = kit.proposal("policy_update", contract="governance", version="2", digest="00" * 32)
    kit.fails("governance:propose", [body, doc, kit.orgs["Regulator"].key_id, kit.sig("Regulator", body)],
              "does not match package_digest")
    broken = dict(doc, operations={"freeze": {"rule": "SOME"}})
    body = kit.proposal("policy_update", contract="governance", version="2", digest=sm3(canonical_json(broken)).hex())
    kit.fails("governance:propose", [body, broken, kit.orgs["Regulator"].key_id, kit.sig("Regulator", body)], "rule")
    kit.passed(kit.proposal("policy_update", contract="governance", version="2", digest=good), MAJ, artifact=doc)
    record = kit.ok("governance:policy", ["governance"])
    assert record["version"] == "2" and record["document"]["operations"]["freeze"]["rule"] == "2-of-n"


def test_admin_detection_uses_node_ou() -> None:
    assert b"BEGIN CERTIFICATE" in cert_pem("XMSP", True)
