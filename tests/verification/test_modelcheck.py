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
    assert all(r.states > 10 for r in results)
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
