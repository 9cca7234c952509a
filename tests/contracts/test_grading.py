"""Grading: the shipped policy, decide_grade rules (floor, monotonic), may_read, policy validation."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from qcchain_contracts.errors import Forbidden, InvalidInput
from qcchain_contracts.grading_rules import GRADES, decide_grade, grade_rank, may_read, placement_of, validate_grading_policy
from qcchain_contracts.schemas import CATEGORIES

POLICY_FILE = Path(__file__).resolve().parents[2] / "policies" / "grading.yaml"
POLICY = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
ROLES = POLICY["roles"]
DUAL = ["unit", "department", "personnel", "rules", "training", "risk_point", "hazard_source", "risk_picture", "hidden_danger"]


def test_shipped_policy_is_valid_and_matches_the_schemas() -> None:
    validate_grading_policy(POLICY)
    assert set(POLICY["categories"]) == set(CATEGORIES)
    codes = {spec["tx_code"]: name for name, spec in POLICY["categories"].items() if "tx_code" in spec}
    assert [codes[f"0{i}"] for i in range(1, 10)] == DUAL


@pytest.mark.parametrize(
    ("category", "sender", "receiver", "exec_type", "grade"),
    [
        ("equipment", "manufacturer", None, "publish", "L1"),
        ("unit", "using_unit", None, "publish", "L2"),
        ("personnel", "using_unit", "regulator", "report", "L3"),
        ("hidden_danger", "using_unit", "regulator", "report", "L3"),
        ("inspection_report", "inspection_body", None, "publish", "L4"),
        ("certificate", "regulator", "using_unit", "share", "L4"),
        ("key_using_unit", "using_unit", None, "publish", "L2"),
        ("key_using_unit", "using_unit", "manufacturer", "share", "L3"),
        ("key_regulator", "regulator", None, "publish", "L2"),
        ("key_regulator", "regulator", "using_unit", "share", "L3"),
        ("risk_point", "using_unit", "inspection_body", "share", "L2"),
        ("risk_point", "using_unit", "maintenance_unit", "share", "L3"),
        ("risk_point", "maintenance_unit", "regulator", "report", "L3"),
        ("risk_picture", "using_unit", None, "publish", "L1"),
        ("equipment", "regulator", "using_unit", "share", "L1"),  # registry basics stay public
        ("key_regulator", "regulator", None, "publish", "L2"),
    ],
)
def test_default_grades(category: str, sender: str, receiver: str | None, exec_type: str, grade: str) -> None:
    decision = decide_grade(POLICY, category, sender, receiver, exec_type)
    assert decision.grade == grade
    assert decision.audiences == tuple(POLICY["grades"][grade]["audiences"])
    assert category in decision.reason


def test_bad_routes_are_refused_with_clear_errors() -> None:
    with pytest.raises(InvalidInput, match="unknown category 'nope'"):
        decide_grade(POLICY, "nope", "using_unit", None, "publish")
    with pytest.raises(InvalidInput, match="sender_role 'pirate'"):
        decide_grade(POLICY, "equipment", "pirate", None, "publish")
    with pytest.raises(InvalidInput, match="exec_type 'broadcast'"):
        decide_grade(POLICY, "equipment", "manufacturer", None, "broadcast")
    with pytest.raises(InvalidInput, match="needs a receiver_role"):
        decide_grade(POLICY, "equipment", "manufacturer", None, "share")
    with pytest.raises(InvalidInput, match="cannot receive 'report'"):
        decide_grade(POLICY, "hidden_danger", "using_unit", "manufacturer", "report")
    with pytest.raises(Forbidden, match="may not submit 'inspection_report'"):
        decide_grade(POLICY, "inspection_report", "manufacturer", None, "publish")


routes = st.tuples(
    st.sampled_from(sorted(POLICY["categories"])),
    st.sampled_from(ROLES),
    st.sampled_from(ROLES),
    st.sampled_from(POLICY["exec_types"]),
)


def _decide_or_none(policy: dict, route: tuple[str, str, str, str]) -> str | None:
    category, sender, receiver, exec_type = route
    try:
        return decide_grade(policy, category, sender, receiver, exec_type).grade
    except (Forbidden, InvalidInput):
        return None


@settings(max_examples=200, deadline=None)
@given(routes)
def test_grade_is_never_below_the_category_base(route: tuple[str, str, str, str]) -> None:
    grade = _decide_or_none(POLICY, route)
    if grade is not None:
        assert grade_rank(grade) >= grade_rank(POLICY["categories"][route[0]]["base"])
        assert grade == _decide_or_none(POLICY, route)  # deterministic


@settings(max_examples=100, deadline=None)
@given(routes, st.permutations(range(len(POLICY["rules"]))), st.sampled_from(GRADES))
def test_rules_only_raise_and_order_does_not_matter(route, order, extra_grade) -> None:
    shuffled = copy.deepcopy(POLICY)
    shuffled["rules"] = [POLICY["rules"][i] for i in order]
    assert _decide_or_none(shuffled, route) == _decide_or_none(POLICY, route)
    widened = copy.deepcopy(POLICY)
    widened["rules"].append({"id": "extra", "when": {"category": route[0]}, "at_least": extra_grade})
    before, after = _decide_or_none(POLICY, route), _decide_or_none(widened, route)
    if before is not None:
        assert after == max(before, extra_grade, key=grade_rank)


def test_may_read_follows_grade_audiences() -> None:
    assert may_read(POLICY, "L1", "manufacturer", "M", "O")
    assert not may_read(POLICY, "L1", None, "X", "O")  # non-members read nothing
    assert may_read(POLICY, "L2", "inspection_body", "I", "O")
    assert not may_read(POLICY, "L2", "manufacturer", "M", "O")
    assert may_read(POLICY, "L3", "regulator", "R", "O")
    assert not may_read(POLICY, "L3", "inspection_body", "I", "O")
    assert not may_read(POLICY, "L4", "regulator", "R", "O")  # regulator reads L4 via supervisory access
    assert may_read(POLICY, "L4", "manufacturer", "O", "O")  # the owner always
    with pytest.raises(InvalidInput, match="grade 'L5'"):
        may_read(POLICY, "L5", "regulator", "R", "O")


def test_placements() -> None:
    assert [placement_of(POLICY, g) for g in GRADES] == ["world_state", "private_encrypted", "private_encrypted", "off_chain"]


def test_policy_validation_lists_every_violation() -> None:
    bad = copy.deepcopy(POLICY)
    bad["categories"]["equipment"]["base"] = "L9"
    bad["grades"]["L1"]["placement"] = "moon"
    with pytest.raises(InvalidInput) as err:
        validate_grading_policy(bad)
    assert "$.categories.equipment.base" in str(err.value) and "$.grades.L1.placement" in str(err.value)
    refs = copy.deepcopy(POLICY)
    refs["categories"]["equipment"]["senders"] = ["pirate"]
    refs["rules"][0]["when"]["exec_type"] = "teleport"
    with pytest.raises(InvalidInput) as err:
        validate_grading_policy(refs)
    assert "unknown role 'pirate'" in str(err.value) and "unknown exec_type 'teleport'" in str(err.value)
    with pytest.raises(InvalidInput, match="must be an object"):
        validate_grading_policy(["not", "a", "policy"])
