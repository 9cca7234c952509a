"""The ``warnings`` policy through governance: validated at bootstrap and in ``policy_update`` proposals
(the schema of ``policies/warnings.yaml``), and the contract's deadlines read from the installed policy."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3

from qcchain_contracts.devices import Devices
from qcchain_contracts.errors import InvalidInput
from qcchain_contracts.policy_rules import validate_policy
from qcchain_contracts.store.policies import POLICY_NAMES
from qcchain_contracts.warnings import Warnings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contracts"))
from govkit import ROOT, GovKit  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_warnings_contract import DEVICE, device_warning  # noqa: E402

MAJ = ["Regulator", "Inspection", "UsingUnit"]
DOC = yaml.safe_load((ROOT / "policies" / "warnings.yaml").read_text(encoding="utf-8"))


def _update(kit: GovKit, doc: dict) -> dict:
    body = kit.proposal("policy_update", contract="warnings", version="2", digest=sm3(canonical_json(doc)).hex())
    return kit.passed(body, MAJ, artifact=doc)


def test_the_shipped_file_is_a_valid_warnings_policy() -> None:
    assert "warnings" in POLICY_NAMES
    validate_policy("warnings", DOC)


@pytest.mark.parametrize("path, value, needle", [
    (("deadlines", "red", "ack_h"), 0, "$.deadlines.red.ack_h"),
    (("deadlines", "red", "dispose_h"), 1.5, "$.deadlines.red.dispose_h"),
    (("deadlines", "orange"), None, "$.deadlines"),
    (("quantities", "pressure", "max"), 1.0, "outside the plausible range"),
    (("expiry", "safety_valve", "yellow_days"), 90, "yellow_days must not exceed blue_days"),
    (("prediction", "colour"), "red", "$.prediction.colour"),
    (("surprise",), 1, "Additional properties"),
])
def test_invalid_documents_are_refused_naming_the_path(path: tuple, value: object, needle: str) -> None:
    doc = copy.deepcopy(DOC)
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    with pytest.raises(InvalidInput, match="warnings policy invalid") as info:
        validate_policy("warnings", doc)
    assert needle in str(info.value)


def test_deadlines_follow_the_policy_installed_through_governance() -> None:
    kit = GovKit(extra_contracts=(Devices(), Warnings()))
    kit.ok("devices:register", [DEVICE], org="UsingUnit")
    first = kit.ok("warnings:raise_warning", [device_warning("0" * 63 + "1", "red")], org="UsingUnit")
    assert first["ack_deadline"] - first["raised_at"] == 3600          # the default (= the file)
    doc = copy.deepcopy(DOC)
    doc["deadlines"]["red"] = {"ack_h": 2, "dispose_h": 12}
    bad = copy.deepcopy(doc)
    bad["deadlines"]["red"] = {"ack_h": 12, "dispose_h": 2}
    body = kit.proposal("policy_update", contract="warnings", version="2", digest=sm3(canonical_json(bad)).hex())
    kit.fails("governance:propose", [body, bad, kit.orgs["Regulator"].key_id, kit.sig("Regulator", body)],
              "dispose_h must not be before ack_h", org="Regulator")
    assert _update(kit, doc)["status"] == "executed"
    assert kit.ok("governance:policy", ["warnings"], org="Inspection")["document"]["deadlines"]["red"]["ack_h"] == 2
    second = kit.ok("warnings:raise_warning", [device_warning("0" * 63 + "2", "red", seq=8)], org="UsingUnit")
    assert second["ack_deadline"] - second["raised_at"] == 2 * 3600
    assert second["dispose_deadline"] - second["raised_at"] == 12 * 3600
    kit.tick(2 * 3600 + 1)
    escalated = kit.ok("warnings:escalate_overdue", [50], org="Regulator")["escalated"]
    assert [w["warning_id"] for w in escalated] == [first["warning_id"], second["warning_id"]]


def test_bootstrap_accepts_and_checks_a_warnings_policy() -> None:
    policies = {n: yaml.safe_load((ROOT / "policies" / f"{n}.yaml").read_text(encoding="utf-8"))
                for n in ("governance", "grading", "sharing", "warnings")}
    kit = GovKit(bootstrap=False, keys=False)
    broken = {**policies, "warnings": {**DOC, "version": 2}}
    kit.fails("governance:bootstrap", [kit.members(), broken], "$.version", org="Regulator")
    kit.ok("governance:bootstrap", [kit.members(), policies], org="Regulator")
    assert kit.ok("governance:policy", ["warnings"], org="Regulator")["document"] == DOC
