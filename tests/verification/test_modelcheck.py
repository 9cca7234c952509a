"""Bounded model check: the project's contracts hold every invariant; each seeded bug in a copy is caught
with the shortest trace. Bigger runs: QCCHAIN_VERIFY_N / QCCHAIN_VERIFY_K."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from qcchain_verify.modelcheck import check_all, check_lifecycle
from qcchain_verify.mutation import MUTANTS, Mutant, MutationError, run_mutant

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
N = int(os.environ.get("QCCHAIN_VERIFY_N", "5"))
K = int(os.environ.get("QCCHAIN_VERIFY_K", "12"))


def _load(name: str) -> dict:
    return yaml.safe_load((POLICIES / f"{name}.yaml").read_text())


def test_project_contracts_hold() -> None:
    results = check_all(_load("governance"), _load("grading"), N, K)
    assert [r.machine for r in results][:2] == ["lifecycle+governance", "thresholds"]
    # the batch machine's states are the ledgers (4); its work is in the batches tried from each
    assert all(r.states > 10 or (r.machine == "warnings batch raise" and r.transitions > 100) for r in results)
    assert [v for r in results for v in r.violations] == []


def test_lifecycle_reaches_every_state() -> None:
    rules = {op: _load("governance")["operations"][op] for op in ("deploy", "upgrade", "freeze", "thaw", "destroy")}
    result = check_lifecycle(rules, 3, 10)
    reached = {s[0] for s in _states(rules)}
    assert {"active", "frozen", "destroyed"} <= reached and result.states > 40


def _states(rules: dict) -> set:
    from qcchain_verify.modelcheck import _lifecycle_steps, _members

    seen, frontier = {(None, None)}, [(None, None)]
    for _ in range(10):
        frontier = [n for s in frontier for _l, n, _b in _lifecycle_steps(s, rules, _members(3)) if n not in seen]
        seen.update(frontier)
    return seen


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_each_seeded_bug_is_caught(mutant: Mutant) -> None:
    results = run_mutant(mutant, POLICIES, 3, 10)
    hits = [v for r in results for v in r["violations"] if v["invariant"] == mutant.invariant]
    assert hits, f"{mutant.name} not caught: {results}"
    assert all(len(v["trace"]) <= 10 for v in hits)


def test_a_mutant_that_no_longer_applies_is_an_error() -> None:
    with pytest.raises(MutationError, match="found 0 times"):
        run_mutant(Mutant("gone", "qcchain_contracts", "lifecycle.py", "no such text", "", "x"), POLICIES, 2, 2)


def test_warnings_and_access_log_machines_are_checked() -> None:
    names = [r.machine for r in check_all(_load("governance"), _load("grading"), 3, 8)]
    assert "warnings (using_unit responsible)" in names and "warnings (inspection_body responsible)" in names
    assert "expiry reminders (using_unit responsible)" in names and "expiry reminders (inspection_body responsible)" in names
    from qcchain_verify.warnmodel import _steps

    start = ("raised", "blue", 72 * 3600, 720 * 3600, 0)
    seen, frontier = {start}, [start]
    for _ in range(12):
        frontier = [n for s in frontier for _l, n, bad in _steps(s, 3, "Org2", "rectification")
                    if n not in seen and not bad]
        seen.update(frontier)
    assert {s[0] for s in seen} == {"raised", "acknowledged", "disposing", "disposed", "verified", "closed"}
    assert "red" in {s[1] for s in seen}  # escalation reaches the top colour and stays there
    from qcchain_verify.modelcheck import _grant_read

    grant = {"grant_id": "g1", "owner_msp": "Org1", "grantee_msp": "Org2", "purpose": "audit", "status": "approved",
             "uses": 0, "max_uses": 1, "expires_at": 100, "max_grade": "L3", "scope": {"type": "record", "value": "R1"}}
    meta = {"record_id": "R1", "owner_msp": "Org1", "grade": "L3", "category": "c", "equipment_code": "E1"}
    served, logged = _grant_read(grant, meta, "Org2", "audit")
    assert served and [(e["reader_msp"], e["purpose"], e["grant_id"]) for e in logged] == [("Org2", "audit", "g1")]
    assert _grant_read(grant, meta, "Org2", "inspection") == (False, [])  # refused reads write nothing
