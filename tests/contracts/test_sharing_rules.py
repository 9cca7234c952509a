"""Property-based tests (hypothesis) of the pure grant rules: expiry, use counts, scope coverage, grade ceilings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from qcchain_contracts.errors import InvalidInput
from qcchain_contracts.grading_rules import GRADES, grade_rank
from qcchain_contracts import sharing_rules as rules

POLICY = yaml.safe_load((Path(__file__).resolve().parents[2] / "policies" / "sharing.yaml").read_text(encoding="utf-8"))
ROLES = ["inspection_body", "regulator", "using_unit", "manufacturer", "maintenance_unit"]
NOW = 1_700_000_000

scopes = st.sampled_from(["record", "category", "equipment"])
grades = st.sampled_from(GRADES)


@st.composite
def grants(draw: Any) -> dict[str, Any]:
    body = {"grant_id": "g1", "scope": {"type": draw(scopes), "value": draw(st.sampled_from(["r1", "hidden_danger", "EQ1"]))},
            "max_grade": draw(grades), "purpose": "inspection", "expires_at": NOW + draw(st.integers(-1000, 1000)),
            "max_uses": draw(st.one_of(st.none(), st.integers(1, 5)))}
    grant = rules.new_grant(body, "OwnerMSP", "GranteeMSP", NOW - 5000, "qcchannel")
    grant["status"] = draw(st.sampled_from(rules.STATUSES))
    grant["uses"] = draw(st.integers(0, 6))
    return grant


@st.composite
def records(draw: Any) -> dict[str, Any]:
    return {"record_id": draw(st.sampled_from(["r1", "r2"])), "category": draw(st.sampled_from(["hidden_danger", "personnel"])),
            "equipment_code": draw(st.sampled_from(["EQ1", "EQ2"])), "owner_msp": draw(st.sampled_from(["OwnerMSP", "OtherMSP"])),
            "grade": draw(grades)}


@settings(max_examples=400, deadline=None)
@given(grants(), records(), st.integers(NOW - 2000, NOW + 2000))
def test_grant_serves_exactly_when_every_rule_holds(grant: dict, meta: dict, now: int) -> None:
    field = rules.SCOPE_FIELD[grant["scope"]["type"]]
    expected = (
        grant["status"] == "approved"
        and now < grant["expires_at"]
        and (grant["max_uses"] is None or grant["uses"] < grant["max_uses"])
        and meta["owner_msp"] == grant["owner_msp"]
        and meta[field] == grant["scope"]["value"]
        and grade_rank(meta["grade"]) <= grade_rank(grant["max_grade"])
    )
    assert rules.grant_serves(grant, meta, now) is expected


@settings(max_examples=200, deadline=None)
@given(grants(), records(), st.integers(0, 3000))
def test_expiry_is_final_and_later_time_never_revives(grant: dict, meta: dict, later: int) -> None:
    at_expiry = rules.grant_serves(grant, meta, grant["expires_at"])
    assert at_expiry is False
    assert rules.grant_serves(grant, meta, grant["expires_at"] + later) is False


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6))
def test_use_count_allows_exactly_max_uses(max_uses: int) -> None:
    grant = rules.decided(rules.new_grant(
        {"grant_id": "g", "scope": {"type": "record", "value": "r1"}, "max_grade": "L4", "purpose": "audit",
         "expires_at": NOW + 100, "max_uses": max_uses}, "O", "G", NOW, "c"), "approved", "O", NOW, "")
    meta = {"record_id": "r1", "owner_msp": "O", "grade": "L3"}
    served = 0
    while rules.grant_serves(grant, meta, NOW + 1) and served < 100:
        grant = dict(grant, uses=grant["uses"] + 1)
        served += 1
    assert served == max_uses
    assert rules.unusable_reason(grant, NOW + 1) == "grant used up"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ROLES + ["stranger"]), scopes, grades, st.integers(-10, 2 * 31536000))
def test_term_ceilings(role: str, scope: str, grade: str, duration: int) -> None:
    terms = {"scope": {"type": scope, "value": "v"}, "max_grade": grade, "purpose": "inspection", "expires_at": NOW + duration}
    problems = rules.term_problems(POLICY, role, terms, NOW)
    ceiling = POLICY["grants"]["max_grade_by_grantee_role"].get(role)
    if ceiling is not None and scope != "record":
        ceiling = min(ceiling, POLICY["grants"]["broad_scope_max_grade"], key=grade_rank)
    ok = (ceiling is not None and grade_rank(grade) <= grade_rank(ceiling)
          and 0 < duration <= POLICY["grants"]["max_duration_seconds"])
    assert (problems == []) is ok


def test_l4_only_by_record_and_commercial_parties_capped() -> None:
    base = {"scope": {"type": "category", "value": "inspection_report"}, "max_grade": "L4", "purpose": "inspection", "expires_at": NOW + 10}
    assert "most a using_unit may get by category scope" in rules.term_problems(POLICY, "using_unit", base, NOW)[0]
    assert rules.term_problems(POLICY, "using_unit", dict(base, scope={"type": "record", "value": "r"}), NOW) == []
    assert rules.term_problems(POLICY, "manufacturer", dict(base, scope={"type": "record", "value": "r"}), NOW)
    assert "purpose 'gossip'" in " ".join(rules.term_problems(POLICY, "regulator", dict(base, purpose="gossip", scope={"type": "record", "value": "r"}), NOW))


def test_supervisory_access() -> None:
    assert rules.supervisory_allows(POLICY, "regulator", "L4", "supervision")
    assert not rules.supervisory_allows(POLICY, "regulator", "L4", "insurance")
    assert not rules.supervisory_allows(POLICY, "inspection_body", "L3", "supervision")


def test_findings() -> None:
    grant = rules.decided(rules.new_grant(
        {"grant_id": "g", "scope": {"type": "category", "value": "c"}, "max_grade": "L4", "purpose": "audit",
         "expires_at": NOW + 100}, "O", "G", NOW, "c"), "approved", "O", NOW, "")
    later = NOW + POLICY["check"]["never_used_after_seconds"]
    issues = {f["issue"] for f in rules.grant_findings(POLICY, grant, "manufacturer", later, "G has no active SM2 key")}
    assert issues == {"expired_listed", "above_policy", "grantee_key_revoked", "never_used"}
    fine = dict(grant, max_grade="L2", expires_at=later + 10, uses=1)
    assert rules.grant_findings(POLICY, fine, "manufacturer", later, None) == []
    assert rules.grant_findings(POLICY, dict(grant, status="revoked"), "manufacturer", later, "x") == []


def test_body_validation() -> None:
    body = {"action": "access", "channel": "qcchannel", "record_id": "r1", "purpose": "audit", "nonce": "n" * 8}
    rules.validate_body("access", body, "qcchannel")
    with pytest.raises(InvalidInput, match="for channel 'qcchannel', not 'other'"):
        rules.validate_body("access", body, "other")
    with pytest.raises(InvalidInput) as err:
        rules.validate_body("access", dict(body, action="grant", nonce="x", extra=1), "qcchannel")
    assert "$.action" in str(err.value) and "$.nonce" in str(err.value) and "extra" in str(err.value)


def test_sharing_policy_validation() -> None:
    rules.validate_sharing_policy(POLICY)
    bad = yaml.safe_load(yaml.safe_dump(POLICY))
    bad["supervisory"]["purposes"].append("spying")
    with pytest.raises(InvalidInput, match="'spying' is not in"):
        rules.validate_sharing_policy(bad)
    bad["grants"]["broad_scope_max_grade"] = "L7"
    with pytest.raises(InvalidInput, match=r"\$.grants.broad_scope_max_grade"):
        rules.validate_sharing_policy(bad)
