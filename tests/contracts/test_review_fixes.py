"""Regression tests for the review findings: route-independent grade floor, channel-bound record
signatures, private data and indexes following updates, refused calls writing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qcchain_contracts.grading_rules import decide_grade, grade_rank, strictest_grade
from qcchain_contracts.grading import Grading
from qcchain_contracts.records import Records
from qcchain_contracts.sharing import Sharing
from qcchain_sdk.contracts.records import build_record

from qcchain_shim import ChaincodeError, Context, Contract, transaction

from govkit import GovKit
from test_records import DANGER, EQUIPMENT

POLICY = yaml.safe_load((Path(__file__).resolve().parents[2] / "policies" / "grading.yaml").read_text(encoding="utf-8"))


class Sloppy(Contract):
    """A contract that writes before refusing (what MockStub.last_writes must reveal)."""

    name = "sloppy"

    @transaction
    def write_then_refuse(self, ctx: Context) -> None:
        ctx.stub.put_state("k", b"v")
        ctx.stub.put_private_data("collectionL3", "p", b"secret")
        raise ChaincodeError("refused")

    @transaction
    def write(self, ctx: Context) -> None:
        ctx.stub.put_state("k", b"v")


@pytest.fixture()
def kit() -> GovKit:
    return GovKit(extra_contracts=(Records(), Grading(), Sharing()))


@pytest.mark.parametrize("category", sorted(POLICY["categories"]))
def test_strictest_grade_is_the_maximum_over_every_route(category: str) -> None:
    for sender in POLICY["categories"][category].get("senders", POLICY["roles"]):
        floor = strictest_grade(POLICY, category, sender)
        for exec_type in POLICY["exec_types"]:
            receivers = POLICY.get("receivers", {}).get(exec_type) or [None, *POLICY["roles"]]
            for receiver in receivers:
                route = decide_grade(POLICY, category, sender, receiver, exec_type)
                assert grade_rank(route.grade) <= grade_rank(floor.grade), (category, sender, exec_type, receiver)
        assert strictest_grade(POLICY, category, sender) == floor  # pure: same answer twice


def test_publish_cannot_dodge_the_report_rule() -> None:
    published = decide_grade(POLICY, "risk_point", "maintenance_unit", None, "publish").grade
    assert published == "L2" and strictest_grade(POLICY, "risk_point", "maintenance_unit").grade == "L3"


def test_submit_applies_the_route_independent_floor(kit: GovKit) -> None:
    m = kit.orgs["Maintenance"]
    risk = {"ID": "RP-1", "batchNo": "2025060100000001", "txCode": "06", "busType": "I", "updateDate": "2025-06-01"}
    built = build_record(record_id="RP-1", category="risk_point", equipment_code="32010001", stage="maintenance",
                         owner_msp=m.msp, grade="L2", signing_key=m.key, payload=risk, exec_type="publish",
                         placement="world_state")  # in clear (an old client): the chaincode's grade floor refuses it
    kit.fails("records:submit", built.args(), "below the required grade L3", org="Maintenance")


def test_record_signature_is_bound_to_the_channel(kit: GovKit) -> None:
    m = kit.orgs["Manufacturer"]
    args = dict(record_id="EQ-1", category="equipment", equipment_code="32010001", stage="production",
                owner_msp=m.msp, grade="L1", signing_key=m.key, payload=EQUIPMENT)
    other = build_record(**args, channel="manufacturer-channel")
    assert other.envelope["channel"] == "manufacturer-channel"
    message = kit.fails("records:submit", other.args(), "channel", org="Manufacturer")
    assert "manufacturer-channel" not in message
    kit.ok("records:submit", build_record(**args, channel="qcchannel").args(), org="Manufacturer")


def _recipients(kit: GovKit, *names: str) -> dict:
    return {kit.orgs[n].msp: kit.orgs[n].key.public_key() for n in names}


def test_private_data_is_deleted_when_a_record_leaves_l3_or_is_deleted(kit: GovKit) -> None:
    u = kit.orgs["UsingUnit"]
    base = dict(record_id="HD-1", category="hidden_danger", equipment_code="32010001", stage="use",
                owner_msp=u.msp, signing_key=u.key)
    first = build_record(**base, grade="L3", payload=DANGER, recipients=_recipients(kit, "UsingUnit", "Regulator"))
    kit.ok("records:submit", first.args(), org="UsingUnit", transient=first.transient)
    assert "HD-1" in kit.stub.state["collectionL3"]
    moved = build_record(**base, grade="L4", original=b"report kept off chain", bus_type="U", version=2)
    assert kit.ok("records:submit", moved.args(), org="UsingUnit")["placement"] == "off_chain"
    assert "HD-1" not in kit.stub.state.get("collectionL3", {}), "L3 ciphertext left behind after leaving L3"


def test_l3_delete_removes_private_data(kit: GovKit) -> None:
    u = kit.orgs["UsingUnit"]
    base = dict(record_id="HD-2", category="hidden_danger", equipment_code="32010001", stage="use",
                owner_msp=u.msp, signing_key=u.key, grade="L3")
    first = build_record(**base, payload=dict(DANGER, ID="HD-2"), recipients=_recipients(kit, "UsingUnit", "Regulator"))
    kit.ok("records:submit", first.args(), org="UsingUnit", transient=first.transient)
    kit.ok("records:submit", build_record(**base, payload={}, bus_type="D", version=2).args(), org="UsingUnit")
    assert "HD-2" not in kit.stub.state.get("collectionL3", {})


def test_stage_change_moves_the_index(kit: GovKit) -> None:
    m = kit.orgs["Manufacturer"]
    base = dict(record_id="EQ-1", category="equipment", equipment_code="32010001", owner_msp=m.msp, grade="L1",
                signing_key=m.key)
    kit.ok("records:submit", build_record(**base, stage="production", payload=EQUIPMENT).args(), org="Manufacturer")
    kit.ok("records:submit", build_record(**base, stage="use", payload=dict(EQUIPMENT, busType="U"), bus_type="U",
                                          version=2).args(), org="Manufacturer")
    assert kit.ok("records:query", ["stage", "production", "10", ""])["records"] == []
    assert [r["record_id"] for r in kit.ok("records:query", ["stage", "use", "10", ""])["records"]] == ["EQ-1"]


def test_verify_original_obeys_governance(kit: GovKit) -> None:
    i = kit.orgs["Inspection"]
    built = build_record(record_id="IR-1", category="inspection_report", equipment_code="32010001", stage="inspection",
                         owner_msp=i.msp, grade="L4", signing_key=i.key, original=b"%PDF original")
    kit.ok("records:submit", built.args(), org="Inspection")
    assert kit.ok("records:verify_original", ["IR-1", "%PDF original"])["match"] is True
    maj = ["Regulator", "Inspection", "UsingUnit"]
    kit.passed(kit.proposal("deploy", contract="records", version="1", digest="ab" * 32), maj)
    kit.passed(kit.proposal("destroy", contract="records"), maj)
    kit.fails("records:verify_original", ["IR-1", "%PDF original"], "destroyed")


def test_mockstub_keeps_the_write_set_of_a_refused_call() -> None:
    from qcchain_shim.testing import MockStub

    stub = MockStub("qcchannel")
    response = stub.submit([Sloppy()], "sloppy:write_then_refuse", [])
    assert not response.ok and stub.state[""] == {} and not stub.pending
    assert set(stub.last_writes) == {("", "k"), ("collectionL3", "p")}
    assert stub.submit([Sloppy()], "sloppy:write", []).ok and stub.last_writes == {}


def test_admin_needs_node_ou_or_reserved_hf_type() -> None:
    from qcchain_contracts.common import caller_is_admin

    from govkit import cert_pem

    class Identity:
        def __init__(self, admin_cert: bool, attrs: dict[str, str]) -> None:
            self.cert_pem, self.attrs = cert_pem("XMSP", admin_cert), attrs

        def get_attribute(self, name: str) -> str | None:
            return self.attrs.get(name)

    class Ctx:
        def __init__(self, identity: Identity) -> None:
            self.client_identity = identity

    assert caller_is_admin(Ctx(Identity(True, {})))
    assert caller_is_admin(Ctx(Identity(False, {"hf.Type": "admin"})))
    assert not caller_is_admin(Ctx(Identity(False, {"role": "admin"})))
    assert not caller_is_admin(Ctx(Identity(False, {})))


def test_errors_name_the_field_not_the_value(kit: GovKit) -> None:
    from qcchain_contracts.common import require_str
    from qcchain_contracts.errors import InvalidInput
    from qcchain_contracts.store.members import validate_member
    import re

    with pytest.raises(InvalidInput) as err:
        require_str("secret-value", "record_id", pattern=re.compile(r"^x$"))
    assert "record_id" in str(err.value) and "secret-value" not in str(err.value)
    with pytest.raises(InvalidInput) as err:
        validate_member({"msp_id": "XMSP", "role": "regulator", "name": "X", "credit_code": "91320000MA1NP000Z"}, ["regulator"])
    assert "credit_code" in str(err.value) and "91320000MA1NP000Z" not in str(err.value)


@pytest.mark.parametrize(("category", "sender", "grade"), [
    ("risk_picture", "using_unit", "L1"),       # posted publicly: no share rule lifts it
    ("equipment", "regulator", "L1"),           # registry basics stay public whoever sends them
    ("risk_point", "using_unit", "L3"),         # may be shared with a manufacturer: encrypted from the start
    ("key_regulator", "regulator", "L3"),       # regulator instructions to one org
])
def test_shipped_policy_route_independent_floors(category: str, sender: str, grade: str) -> None:
    assert strictest_grade(POLICY, category, sender).grade == grade
