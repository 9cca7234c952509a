"""Governance threshold rules shared by chaincode and SDK (qcchain_model.thresholds)."""

import pytest

from qcchain_model.thresholds import TRANSITIONS, UnknownRule, required_count, threshold_met

MEMBERS = [{"msp_id": f"Org{i}MSP", "role": role, "status": "active"}
           for i, role in enumerate(["regulator", "inspection_body", "using_unit", "manufacturer", "maintenance_unit"])]


@pytest.mark.parametrize(("rule", "need"), [("ALL", 5), ("ANY", 1), ("MAJORITY", 3), ("2-of-n", 2)])
def test_required_count(rule: str, need: int) -> None:
    assert required_count(rule, 5) == need


@pytest.mark.parametrize("rule", ["", "SOME", "0-of-n", "all"])
def test_unknown_rule_is_named(rule: str) -> None:
    with pytest.raises(UnknownRule, match="threshold rule"):
        required_count(rule, 5)


def test_majority_including_regulator() -> None:
    spec = {"rule": "MAJORITY", "require_roles": ["regulator"]}
    assert threshold_met(spec, MEMBERS, {"Org0MSP", "Org1MSP", "Org2MSP"})[0]
    met, why = threshold_met(spec, MEMBERS, {"Org1MSP", "Org2MSP", "Org3MSP"})
    assert not met and "regulator" in why
    assert not threshold_met(spec, MEMBERS, {"Org0MSP", "Org1MSP"})[0]


def test_among_roles_and_inactive_members_do_not_count() -> None:
    members = MEMBERS[:-1] + [{**MEMBERS[-1], "status": "removed"}]
    spec = {"rule": "ANY", "among_roles": ["regulator"]}
    assert threshold_met(spec, members, {"Org0MSP"})[0]
    assert not threshold_met(spec, members, {"Org1MSP", "Org4MSP"})[0]


def test_destroyed_is_terminal() -> None:
    assert all("destroyed" not in starts for starts in TRANSITIONS.values())
