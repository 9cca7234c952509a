"""Governed channels at run time: ``channel_create`` / ``channel_join`` proposals (issue 18) — decided at the
threshold of the governance policy, checked at propose and again at execute, refused with nothing written,
and optional in a governance policy installed before they existed."""

from __future__ import annotations

from typing import Any

import pytest

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3

from govkit import GovKit

MAJ = ["Regulator", "Inspection", "UsingUnit"]


@pytest.fixture()
def kit() -> GovKit:
    return GovKit()


def _digest(artifact: Any) -> str:
    return sm3(canonical_json(artifact)).hex()


def _create(kit: GovKit, channel: str, members: list[str], subject: str | None = None) -> tuple[dict, dict]:
    artifact = {"channel": channel, "members": members}
    return kit.proposal("channel_create", contract=subject or channel, digest=_digest(artifact)), artifact


def _join(kit: GovKit, channel: str, msp: str) -> tuple[dict, dict]:
    artifact = {"channel": channel, "msp_id": msp}
    return kit.proposal("channel_join", contract=msp, digest=_digest(artifact)), artifact


def _propose_fails(kit: GovKit, body: dict, artifact: Any, contains: str) -> None:
    kit.fails("governance:propose", [body, artifact, kit.orgs["Regulator"].key_id, kit.sig("Regulator", body)],
              contains)


def test_channel_create_and_join_decided_at_threshold(kit: GovKit) -> None:
    body, artifact = _create(kit, "qc2", ["RegulatorMSP", "InspectionMSP"])
    kit.fails("governance:get_channel", ["qc2"], "no executed channel_create")
    executed = kit.passed(body, MAJ, artifact=artifact)
    assert executed["outcome"] == {"channel": "qc2", "members": ["RegulatorMSP", "InspectionMSP"]}
    record = kit.ok("governance:get_channel", ["qc2"])
    assert record["members"] == ["RegulatorMSP", "InspectionMSP"] and record["source"] == executed["proposal_id"]
    # decided once: a second creation of the same channel is refused when proposed
    again, art2 = _create(kit, "qc2", ["RegulatorMSP", "UsingUnitMSP"])
    _propose_fails(kit, again, art2, "already decided")
    body, artifact = _join(kit, "qc2", "UsingUnitMSP")
    kit.fails("governance:get_channel_join", ["qc2", "UsingUnitMSP"], "no executed channel_join")
    executed = kit.passed(body, MAJ, artifact=artifact)
    join = kit.ok("governance:get_channel_join", ["qc2", "UsingUnitMSP"])
    assert join["msp_id"] == "UsingUnitMSP" and join["source"] == executed["proposal_id"]
    for msp in ("UsingUnitMSP", "InspectionMSP"):  # joined already / a member since its creation
        body, artifact = _join(kit, "qc2", msp)
        _propose_fails(kit, body, artifact, "already decided onto channel qc2")
    # a channel made with the network (no record) can be joined by decision too
    body, artifact = _join(kit, "qcchannel", "ManufacturerMSP")
    kit.passed(body, MAJ, artifact=artifact)


def test_under_threshold_and_without_regulator_refused(kit: GovKit) -> None:
    body, artifact = _create(kit, "qc3", ["InspectionMSP", "UsingUnitMSP"])
    p = kit.ok("governance:propose", [body, artifact, kit.orgs["Inspection"].key_id, kit.sig("Inspection", body)],
               org="Inspection")
    kit.ok("governance:sign", [p["proposal_id"], kit.orgs["UsingUnit"].key_id, kit.sig("UsingUnit", body)],
           org="UsingUnit")
    kit.fails("governance:execute", [p["proposal_id"]], "under threshold", org="Inspection")
    kit.ok("governance:sign", [p["proposal_id"], kit.orgs["Manufacturer"].key_id, kit.sig("Manufacturer", body)],
           org="Manufacturer")
    kit.fails("governance:execute", [p["proposal_id"]], "under threshold", org="Inspection")  # no regulator
    kit.fails("governance:get_channel", ["qc3"], "no executed channel_create")


@pytest.mark.parametrize("channel,members,subject,words", [
    ("qc2", ["RegulatorMSP"], None, "two or more distinct"),
    ("qc2", ["RegulatorMSP", "RegulatorMSP"], None, "two or more distinct"),
    ("qc2", ["RegulatorMSP", "NobodyMSP"], None, "NobodyMSP is not an active member"),
    ("qc2", ["RegulatorMSP", "bad msp"], None, "not a valid MSP id"),
    ("QC2", ["RegulatorMSP", "InspectionMSP"], None, "must be lowercase"),
    ("qc2", ["RegulatorMSP", "InspectionMSP"], "qc9", "target names qc9"),
])
def test_bad_channel_create_refused(kit: GovKit, channel: str, members: list[str], subject: str | None,
                                    words: str) -> None:
    body, artifact = _create(kit, channel, members, subject)
    _propose_fails(kit, body, artifact, words)


def test_bad_channel_join_and_artifact_shape_refused(kit: GovKit) -> None:
    body, artifact = _join(kit, "qc2", "NobodyMSP")
    _propose_fails(kit, body, artifact, "not an active member")
    artifact = {"channel": "qc2", "msp_id": "UsingUnitMSP", "extra": 1}
    body = kit.proposal("channel_join", contract="UsingUnitMSP", digest=_digest(artifact))
    _propose_fails(kit, body, artifact, "exactly channel, msp_id")
    artifact = {"channel": "qc2", "msp_id": "UsingUnitMSP"}
    body = kit.proposal("channel_join", contract="InspectionMSP", digest=_digest(artifact))
    _propose_fails(kit, body, artifact, "target names InspectionMSP")
    body = kit.proposal("channel_join", contract="UsingUnitMSP", digest="00" * 32)
    _propose_fails(kit, body, artifact, "does not match package_digest")


def test_rechecked_at_execution(kit: GovKit) -> None:
    body, artifact = _join(kit, "qc2", "MaintenanceMSP")
    p = kit.ok("governance:propose", [body, artifact, kit.orgs["Regulator"].key_id, kit.sig("Regulator", body)])
    for org in MAJ[1:]:
        kit.ok("governance:sign", [p["proposal_id"], kit.orgs[org].key_id, kit.sig(org, body)], org=org)
    kit.passed(kit.proposal("member_remove", contract="MaintenanceMSP"), [*MAJ, "Manufacturer"])
    kit.fails("governance:execute", [p["proposal_id"]], "MaintenanceMSP is not an active member")
    kit.fails("governance:get_channel_join", ["qc2", "MaintenanceMSP"], "no executed channel_join")


def test_policy_without_channel_rules_stays_valid_and_refuses_them(kit: GovKit) -> None:
    doc = kit.policies()["governance"]
    for op in ("channel_create", "channel_join"):
        doc["operations"].pop(op)
    kit.passed(kit.proposal("policy_update", contract="governance", version="2", digest=_digest(doc)), MAJ,
               artifact=doc)
    body, artifact = _create(kit, "qc2", ["RegulatorMSP", "InspectionMSP"])
    _propose_fails(kit, body, artifact, "no rule for channel_create")
