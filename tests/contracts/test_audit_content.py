"""The auditor checks what the signatures mean, not only that they verify: a grant's stored status and
terms must follow from its signed trail, and an executed proposal's counted signers must have verified
signatures that meet the operation's threshold."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from qcchain_core.gm import SM2PrivateKey
from qcchain_sdk.contracts.audit import AuditClient, verify_proposal, verify_record_view
from qcchain_sdk.contracts.verify import is_not_found, read_key_record
from qcchain_gateway.errors import ErrorDetail, EvaluateError, stage_error_type
from qcchain_sdk.contracts.sharing import check_trail

from govkit import CHANNEL, GovKit
from test_audit import _audit, _tamper, kit  # noqa: F401 - the fixture is used by name


def _grant(kit: GovKit) -> str:  # noqa: F811
    """Manufacturer asks UsingUnit for an equipment-scope grant; UsingUnit approves it."""
    request = {"action": "request", "channel": CHANNEL, "grant_id": "g-1", "owner_msp": "UsingUnitMSP",
               "scope": {"type": "equipment", "value": "32010001"}, "max_grade": "L2",
               "purpose": "maintenance", "expires_at": kit.now + 3600}
    kit.ok("sharing:request", [request, kit.orgs["Manufacturer"].key_id, kit.sig("Manufacturer", request)],
           org="Manufacturer")
    approve = {"action": "approve", "channel": CHANNEL, "grant_id": "g-1"}
    kit.ok("sharing:approve", [approve, kit.orgs["UsingUnit"].key_id, kit.sig("UsingUnit", approve)], org="UsingUnit")
    return "g-1"


def test_untampered_grant_holds_and_its_signatures_are_counted(kit: GovKit) -> None:  # noqa: F811
    _grant(kit)
    report = _audit(kit)
    assert report.ok, report.problems
    assert report.checked["sm2_signatures"] == 11 + 2


@pytest.mark.parametrize(("change", "expected"), [
    (lambda g: g.update(status="approved" if g["status"] != "approved" else "revoked"), "status is"),
    (lambda g: g.update(max_grade="L4"), "max_grade is 'L4' but the signed steps give 'L2'"),
    (lambda g: g.update(grantee_msp="InspectionMSP"), "grantee_msp is 'InspectionMSP'"),
    (lambda g: g.update(decided_by="ManufacturerMSP"), "decided_by is 'ManufacturerMSP'"),
    (lambda g: g["trail"][1]["body"].update(grant_id="g-other"), "signed body is for grant 'g-other'"),
])
def test_tampered_grant_content_is_flagged(kit: GovKit, change: Any, expected: str) -> None:  # noqa: F811
    gid = _grant(kit)
    _tamper(kit, "shr.grant", [gid], change)
    problems = _audit(kit).problems
    assert any(p.startswith(f"grant {gid}: ") and expected in p for p in problems), problems


def test_a_step_signed_with_another_orgs_key_is_flagged(kit: GovKit) -> None:  # noqa: F811
    gid = _grant(kit)
    manufacturer = kit.orgs["Manufacturer"]
    _tamper(kit, "shr.grant", [gid], lambda g: g["trail"][1].update(
        key_id=manufacturer.key_id, signature=kit.sig("Manufacturer", g["trail"][1]["body"])))
    problems = _audit(kit).problems
    assert f"grant {gid}: step 1 (approve): signing key belongs to ManufacturerMSP, not UsingUnitMSP" in problems


def test_trail_replay_rejects_impossible_steps() -> None:
    key = SM2PrivateKey.generate()
    pub = key.public_key()

    def step(action: str, msp: str, **body: Any) -> dict[str, Any]:
        full = {"action": action, "channel": "ch", "grant_id": "g", **body}
        from qcchain_core.canonical import canonical_json
        return {"action": action, "msp": msp, "key_id": pub.key_id(), "signature": key.sign(canonical_json(full)).hex(), "body": full}

    terms = {"scope": {"type": "record", "value": "r"}, "max_grade": "L2", "purpose": "p", "expires_at": 9}
    trail = [step("request", "A", owner_msp="B", **terms), step("approve", "A"), step("reject", "B")]
    grant = {"grant_id": "g", "channel": "ch", "owner_msp": "B", "grantee_msp": "A", **terms, "max_uses": None,
             "status": "rejected", "decided_by": "B", "reason": "", "trail": trail}
    verified, problems = check_trail(grant, {pub.key_id(): pub})
    assert verified == 3
    assert problems == ["step 1 (approve): A may not approve this grant",
                        "step 2 (reject): grant was approved, reject needs requested"]


def _entry(kit: GovKit) -> dict[str, Any]:  # noqa: F811
    return next(e for e in kit.ok("audit:lifecycle_log", []) if e["operation"] == "thaw")


def _keys(kit: GovKit) -> tuple[Any, Any]:  # noqa: F811
    public = {o.key_id: o.key.public_key() for o in kit.orgs.values()}
    owner = {o.key_id: o.msp for o in kit.orgs.values()}
    return public.get, owner.get


def test_counted_signers_must_have_verified_signatures(kit: GovKit) -> None:  # noqa: F811
    entry = _entry(kit)
    assert verify_proposal(entry, *_keys(kit)) == (3, [])
    bad = dict(entry, signatures=[dict(s, signature=SM2PrivateKey.generate().sign(b"x").hex())
                                  if s["msp_id"] == "InspectionMSP" else s for s in entry["signatures"]])
    checked, problems = verify_proposal(bad, *_keys(kit))
    assert checked == 2
    assert any("counted signers without a verified signature: InspectionMSP" in p for p in problems), problems


def test_executed_under_threshold_is_flagged(kit: GovKit) -> None:  # noqa: F811
    entry = _entry(kit)
    spec = kit.ok("governance:policy", ["governance"])["document"]["operations"]["thaw"]
    members = kit.ok("governance:members", [])
    assert verify_proposal(entry, *_keys(kit), spec, members)[1] == []
    few = dict(entry, signatures=[s for s in entry["signatures"] if s["msp_id"] == "RegulatorMSP"],
               counted_signers=["RegulatorMSP"])
    problems = verify_proposal(few, *_keys(kit), spec, members)[1]
    assert len(problems) == 1 and "executed under threshold" in problems[0], problems


def test_auditor_flags_counted_signer_added_on_chain(kit: GovKit) -> None:  # noqa: F811
    pid = _entry(kit)["proposal_id"]
    _tamper(kit, "gov.proposal", [pid], lambda p: p.update(counted_signers=[*p["counted_signers"], "MaintenanceMSP"]))
    problems = _audit(kit).problems
    assert any("counted signers without a verified signature: MaintenanceMSP" in p for p in problems), problems


# --- one record-view check for auditor and CLI; only a chaincode 404 means "not registered" ------------
def _forged_view(kit: GovKit) -> dict[str, Any]:  # noqa: F811
    """A view of a Manufacturer-owned record signed (validly) with UsingUnit's registered key."""
    from qcchain_sdk.contracts.records import build_record
    from test_records import EQUIPMENT

    built = build_record(record_id="EQ-9", category="equipment", equipment_code="32010009", stage="production",
                         owner_msp="ManufacturerMSP", grade="L1", signing_key=kit.orgs["UsingUnit"].key, payload=EQUIPMENT)
    return {**built.envelope, "signature": built.signature, "payload": built.payload}


def test_record_view_signed_with_another_orgs_key_is_flagged(kit: GovKit) -> None:  # noqa: F811
    view = _forged_view(kit)
    key_record = kit.ok("keys:get", [kit.orgs["UsingUnit"].key_id])
    problems = verify_record_view(view, key_record)
    assert problems == ["EQ-9 v1: signing key is not the owner's (it is registered to UsingUnitMSP, "
                        "the record is ManufacturerMSP's)"]
    genuine = kit.ok("records:get", ["EQ-1"])
    assert verify_record_view(genuine, kit.ok("keys:get", [genuine["key_id"]])) == []
    assert verify_record_view(genuine, None) == [f"SM2 key {genuine['key_id'][:16]}... is not registered on chain"]


def _gateway_error(status: int, message: str) -> EvaluateError:
    text = f"evaluate call to endorser returned error: chaincode response {status}, {message}"
    details = [ErrorDetail("peer0:7051", "RegulatorMSP", text)]  # typed as the Gateway client types it (404: NotFoundError)
    return stage_error_type(EvaluateError, text, details)("evaluate failed", grpc.StatusCode.UNKNOWN, details)


class _Failing:
    def __init__(self, exc: Exception) -> None:
        self.exc, self.calls = exc, 0

    def evaluate_transaction(self, name: str, *args: str | bytes) -> bytes:
        self.calls += 1
        raise self.exc


def test_only_a_404_means_not_registered() -> None:
    missing = _gateway_error(404, "SM2 key 'ab' is not registered")
    assert is_not_found(missing) and read_key_record(_Failing(missing), "ab" * 32) is None
    assert AuditClient(_Failing(missing), CHANNEL).key("ab" * 32) is None
    for exc in (_gateway_error(500, "key does not exist in 404 ways"), _gateway_error(403, "denied"),
                RuntimeError("chaincode response 404, x")):
        assert not is_not_found(exc)
        with pytest.raises(type(exc)):
            read_key_record(_Failing(exc), "ab" * 32)
        with pytest.raises(type(exc)):
            AuditClient(_Failing(exc), CHANNEL).key("ab" * 32)


def test_locate_reraises_all_but_an_unknown_tx() -> None:
    unknown = EvaluateError("x", grpc.StatusCode.UNKNOWN, [ErrorDetail("p", "M", "chaincode response 500, Failed to get "
                                                                       "transaction with id t1, error Entry not found in index")])
    assert AuditClient(_Failing(unknown), CHANNEL, qscc=_Failing(unknown)).locate("t1") is None
    denied = _gateway_error(500, "access denied for [GetBlockByTxID]")
    with pytest.raises(EvaluateError):
        AuditClient(_Failing(denied), CHANNEL, qscc=_Failing(denied)).locate("t1")
