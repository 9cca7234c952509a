"""Finding 8: the auditor's "all hold" must cover the current world state, not only the history (a state row
changed or rolled back behind the ledger's back), and must re-check an executed proposal's threshold against
the rule and members in force when it executed, not today's."""

from __future__ import annotations

from typing import Any

from qcchain_core.canonical import canonical_json, canonical_loads
from qcchain_core.gm import sm3
from qcchain_sdk.contracts.audit import AuditClient, audit_channel, format_timeline

from govkit import CHANNEL, GovKit, policy
from test_audit import KitEvaluator, kit  # noqa: F401  (EQ-1 v1+v2, HD-1 (L3), IR-1 (L4))


def _audit(k: GovKit) -> Any:
    return audit_channel(AuditClient(KitEvaluator(k, "Regulator"), CHANNEL), decrypt_key=k.orgs["Regulator"].key)


def _state_only(k: GovKit, record_id: str, change: Any) -> None:
    """Change the current state row of a record WITHOUT touching its key history (a tampered state DB)."""
    key = k.stub.create_composite_key("rec", [record_id])
    value = canonical_loads(k.stub.state[""][key])
    k.stub.state[""][key] = canonical_json(change(value))


def test_a_state_row_rolled_back_to_an_older_signed_version_is_flagged(kit: GovKit) -> None:  # noqa: F811
    v1 = canonical_loads(kit.stub.history[kit.stub.create_composite_key("rec", ["EQ-1"])][0].value)
    _state_only(kit, "EQ-1", lambda current: v1)  # every signature still verifies: only the state is wrong
    report = _audit(kit)
    assert report.problems == ["EQ-1: current state row differs from its last history write v2 "
                               "(at, bus_type, digest, payload, signature, tx_id, version)"], report.problems


def test_a_state_row_edited_behind_the_ledger_is_flagged(kit: GovKit) -> None:  # noqa: F811
    _state_only(kit, "IR-1", lambda v: dict(v, deleted=True))
    problems = _audit(kit).problems
    assert problems == ["IR-1: current state row differs from its last history write v1 (deleted)"]


def test_the_report_says_what_was_verified(kit: GovKit) -> None:  # noqa: F811
    report = _audit(kit)
    assert report.ok and report.checked["current_state_rows"] == 3
    assert "3 current record rows against their history" in format_timeline(report)[-1]
    assert "proposal thresholds as in force at execution: all hold" in format_timeline(report)[-1]


def test_thresholds_are_rechecked_against_the_policy_in_force_at_execution(kit: GovKit) -> None:  # noqa: F811
    # the deploy executed under MAJORITY (+regulator); today's policy asks ALL for deploy
    doc = dict(policy("governance"))
    doc["operations"] = dict(doc["operations"], deploy={"rule": "ALL"})
    kit.passed(kit.proposal("policy_update", contract="governance", version="2", digest=sm3(canonical_json(doc)).hex()),
               signers=["Regulator", "Inspection", "UsingUnit"], artifact=doc)
    report = _audit(kit)
    assert report.ok, report.problems  # judged by today's ALL, the earlier deploy would be "under threshold"
