"""Pre/postconditions of the contracts' pure rules, checked symbolically by CrossHair (PEP 316 docstring
conditions; ``crosshair check --analysis_kind=PEP316 qcchain_verify.specs``). Each spec drives the contract
code itself over symbolic inputs and states the property as a postcondition:

* :func:`grade_floor` — a decided grade is never below the category's base grade (``grading_rules``);
* :func:`grant_within_policy` — a grant the sharing policy accepts never exceeds the grantee role's ceiling
  (``sharing_rules.term_problems``);
* :func:`threshold_count` — a governance rule is met only by at least its required count of eligible
  signers, and never without a required role (``qcchain_model.thresholds``).

The policies are the shipped ones, read once from the directory in ``QCCHAIN_VERIFY_POLICIES`` (default the
repository's ``policies/``): this module is the entry point of CrossHair's process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from qcchain_contracts.errors import ContractError
from qcchain_contracts.grading_rules import decide_grade, grade_rank
from qcchain_contracts.sharing_rules import term_problems
from qcchain_model import thresholds

__all__ = ["grade_floor", "grant_within_policy", "threshold_count"]

_ROLES = ("regulator", "inspection_body", "using_unit", "manufacturer", "maintenance_unit")
_GRADES = ("L1", "L2", "L3", "L4")
_RULES = ("ALL", "ANY", "MAJORITY", "2-of-n", "3-of-n")


def _load(name: str) -> dict[str, Any]:
    base = Path(os.environ.get("QCCHAIN_VERIFY_POLICIES", Path(__file__).resolve().parents[2] / "policies"))
    return dict(yaml.safe_load((base / f"{name}.yaml").read_text(encoding="utf-8")))


# Read at import, before any symbolic execution: CrossHair ignores paths with side effects such as file I/O,
# so a policy read during analysis would make every condition pass vacuously.
_POLICIES = {name: _load(name) for name in ("grading", "sharing")}


def _policy(name: str) -> dict[str, Any]:
    return _POLICIES[name]


def _categories() -> list[str]:
    return sorted(_policy("grading")["categories"])


def grade_floor(c: int, s: int, r: int, e: int) -> int:
    """Rank of the decided grade minus the category base's rank (refused routes: 0).

    pre: 0 <= c < 64
    pre: 0 <= s < 5
    pre: 0 <= r < 6
    pre: 0 <= e < 4
    post: __return__ >= 0
    """
    policy, cats = _policy("grading"), _categories()
    category = cats[c % len(cats)]
    receiver = None if r == 5 else _ROLES[r]
    try:
        decision = decide_grade(policy, category, _ROLES[s], receiver, ("I", "U", "D", "Q")[e])
    except ContractError:
        return 0
    return grade_rank(decision.grade) - grade_rank(policy["categories"][category]["base"])


def grant_within_policy(role: int, grade: int, record_scope: bool, purpose: int, duration: int) -> bool:
    """Whether the policy accepts the terms; an accepted grant is within the role's ceiling.

    pre: 0 <= role < 5
    pre: 0 <= grade < 4
    pre: 0 <= purpose < 8
    pre: 1 <= duration <= 10**8
    post: implies(__return__, _within_ceiling(_ROLES[role], _GRADES[grade], record_scope))
    """
    policy = _policy("sharing")
    purposes = sorted(policy["grants"]["purposes"])
    terms = {"scope": {"type": "record" if record_scope else "category", "value": "x"}, "max_grade": _GRADES[grade],
             "purpose": purposes[purpose % len(purposes)], "expires_at": 1000 + duration, "max_uses": None}
    return not term_problems(policy, _ROLES[role], terms, 1000)


def _within_ceiling(role: str, grade: str, record_scope: bool) -> bool:
    """Independent statement of the ceiling: the role's limit, and the broad-scope limit off record scope."""
    limits = _policy("sharing")["grants"]
    ceiling = limits["max_grade_by_grantee_role"].get(role)
    if ceiling is None:
        return False
    ok = _GRADES.index(grade) <= _GRADES.index(ceiling)
    return ok and (record_scope or _GRADES.index(grade) <= _GRADES.index(limits["broad_scope_max_grade"]))


def implies(a: bool, b: bool) -> bool:
    return (not a) or b


def threshold_count(rule: int, n: int, mask: int, regulator_required: bool) -> bool:
    """Whether ``mask``'s signers (of ``n`` orgs, Org0 the regulator) meet the rule; met ⇒ enough signers.

    pre: 0 <= rule < 5
    pre: 1 <= n <= 6
    pre: 0 <= mask < 2 ** n
    post: implies(__return__, bin(mask).count("1") >= _need(_RULES[rule], n))
    post: implies(__return__ and regulator_required, mask & 1 == 1)
    """
    members = [{"msp_id": f"O{i}", "role": "regulator" if i == 0 else "using_unit", "status": "active"} for i in range(n)]
    signers = {f"O{i}" for i in range(n) if mask >> i & 1}
    spec: dict[str, Any] = {"rule": _RULES[rule]}
    if regulator_required:
        spec["require_roles"] = ["regulator"]
    return thresholds.threshold_met(spec, members, signers)[0]


def _need(rule: str, n: int) -> int:
    return {"ALL": n, "ANY": 1, "MAJORITY": n // 2 + 1}.get(rule) or int(rule[0])
