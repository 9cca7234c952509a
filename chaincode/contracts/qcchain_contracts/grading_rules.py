"""Grading rules of QC data (REQUIREMENTS T-7.1, ARCHITECTURE decision 7) — pure, no ledger access.

The rules are policy data (``policies/grading.yaml``, loaded on chain through governance as the
``"grading"`` policy document). :func:`decide_grade` turns (category, sender role, receiver role,
execution type) into a grade L1..L4 and its audiences; it is pure and deterministic: the result is
the strictest of the category's base grade and every matching rule, so rule order never matters and
rules can only raise a grade. :func:`may_read` answers the grade-based read entitlement (grants are
checked separately by :mod:`qcchain_contracts.entitlement`). :func:`validate_grading_policy` checks a
``"grading"`` policy document before governance installs it.

Rules layer: imports only :mod:`qcchain_model` and :mod:`qcchain_contracts.errors`. The ``Grading``
contract front (``grading:decide``, ``grading:categories``) is :mod:`qcchain_contracts.grading`.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator

from qcchain_model import grades as _grades
from qcchain_model.errors import UnknownGrade
from qcchain_model.grades import (AUDIENCE_ALL, AUDIENCE_GRANTEES, AUDIENCE_OWNER, GRADES, PLACEMENTS,
                                  ROLE_AUDIENCE_PREFIX)

from .errors import Forbidden, InvalidInput

log = logging.getLogger(__name__)

__all__ = [
    "GRADES",
    "PLACEMENTS",
    "AUDIENCE_ALL",
    "AUDIENCE_OWNER",
    "AUDIENCE_GRANTEES",
    "GradeDecision",
    "decide_grade",
    "strictest_grade",
    "may_read",
    "grade_rank",
    "placement_of",
    "validate_grading_policy",
]

_WHEN_KEYS = ("category", "group", "sender_role", "receiver_role", "exec_type")


class GradeDecision(NamedTuple):
    """The outcome of :func:`decide_grade`: the grade floor, who may read it, and why."""

    grade: str
    audiences: tuple[str, ...]
    reason: str


def grade_rank(grade: str) -> int:
    """Return 1..4 for ``"L1"``..``"L4"``.

    Raises:
        InvalidInput: ``grade`` is not one of :data:`GRADES`.
    """
    try:
        return _grades.grade_rank(grade)
    except UnknownGrade as exc:
        raise InvalidInput(str(exc)) from None


def _as_set(value: Any) -> set[str]:
    return {value} if isinstance(value, str) else set(value)


def _rule_matches(when: dict[str, Any], facts: dict[str, str | None]) -> bool:
    for key in _WHEN_KEYS:
        if key in when and facts.get(key) not in _as_set(when[key]):
            return False
    return True


def _check_route(policy: dict[str, Any], sender_role: str, receiver_role: str | None, exec_type: str) -> None:
    roles = policy["roles"]
    if sender_role not in roles:
        raise InvalidInput(f"sender_role {sender_role!r} is not a role of the grading policy ({', '.join(roles)})")
    if exec_type not in policy["exec_types"]:
        raise InvalidInput(f"exec_type {exec_type!r} is not one of {', '.join(policy['exec_types'])}")
    accepted = policy.get("receivers", {}).get(exec_type)
    if accepted is not None:
        if receiver_role is None:
            raise InvalidInput(f"exec_type {exec_type!r} needs a receiver_role (one of {', '.join(accepted)})")
        if receiver_role not in accepted:
            raise InvalidInput(f"receiver_role {receiver_role!r} cannot receive {exec_type!r} (allowed: {', '.join(accepted)})")
    elif receiver_role is not None and receiver_role not in roles:
        raise InvalidInput(f"receiver_role {receiver_role!r} is not a role of the grading policy")


def decide_grade(
    policy: dict[str, Any], category: str, sender_role: str, receiver_role: str | None, exec_type: str
) -> GradeDecision:
    """Decide the grade floor and audiences of data of ``category`` sent on the given route.

    Pure and deterministic: depends only on its arguments.

    Raises:
        InvalidInput: unknown category, role, execution type, or a receiver missing/not accepted
            for the execution type.
        Forbidden: ``sender_role`` may not submit data of ``category`` (the category's ``senders``).
    """
    categories = policy["categories"]
    if category not in categories:
        raise InvalidInput(f"unknown category {category!r} (known: {', '.join(sorted(categories))})")
    _check_route(policy, sender_role, receiver_role, exec_type)
    spec = categories[category]
    senders = spec.get("senders")
    if senders is not None and sender_role not in senders:
        raise Forbidden(f"role {sender_role!r} may not submit {category!r} data (allowed: {', '.join(senders)})")
    facts = {"category": category, "group": spec.get("group"), "sender_role": sender_role,
             "receiver_role": receiver_role, "exec_type": exec_type}
    grade = spec["base"]
    reasons = [f"{category} base {grade}"]
    for rule in policy.get("rules", []):
        if _rule_matches(rule.get("when", {}), facts):
            reasons.append(f"rule {rule['id']} -> {rule['at_least']}")
            if grade_rank(rule["at_least"]) > grade_rank(grade):
                grade = rule["at_least"]
    audiences = tuple(policy["grades"][grade]["audiences"])
    return GradeDecision(grade=grade, audiences=audiences, reason="; ".join(reasons))


def _routes(policy: dict[str, Any]) -> list[tuple[str | None, str]]:
    """Every (receiver_role, exec_type) route the policy admits, in policy order (deterministic)."""
    routes: list[tuple[str | None, str]] = []
    for exec_type in policy["exec_types"]:
        accepted = policy.get("receivers", {}).get(exec_type)
        receivers: list[str | None] = list(accepted) if accepted is not None else [None, *policy["roles"]]
        routes.extend((receiver, exec_type) for receiver in receivers)
    return routes


def strictest_grade(policy: dict[str, Any], category: str, sender_role: str) -> GradeDecision:
    """The grade floor of ``category`` data from ``sender_role`` whatever route it is declared on.

    The route (execution type, receiver) is self-declared by the submitter, so the floor is the
    strictest :func:`decide_grade` over every route the policy admits: choosing ``publish`` cannot
    dodge a ``report`` or ``share`` rule. Pure and deterministic (policy order; first strictest wins).

    Raises:
        InvalidInput: unknown category or role. Forbidden: ``sender_role`` may not submit ``category``.
    """
    best: GradeDecision | None = None
    for receiver, exec_type in _routes(policy):
        decision = decide_grade(policy, category, sender_role, receiver, exec_type)
        if best is None or grade_rank(decision.grade) > grade_rank(best.grade):
            best = GradeDecision(decision.grade, decision.audiences,
                                 f"strictest route {exec_type}->{receiver or '-'}: {decision.reason}")
    if best is None:
        raise InvalidInput("the grading policy admits no route (exec_types is empty)")
    return best


def may_read(policy: dict[str, Any], grade: str, reader_role: str | None, reader_msp: str, owner_msp: str) -> bool:
    """Whether a reader is entitled to data of ``grade`` by the grade's audiences alone.

    The owner always may; ``all_members`` admits any member (``reader_role`` not None);
    ``role:<r>`` admits role ``r``. The ``grantees`` audience is NOT decided here: callers check a
    grant with :func:`qcchain_contracts.entitlement.find_grant`.

    Raises:
        InvalidInput: ``grade`` is not one of :data:`GRADES` or not in the policy.
    """
    grade_rank(grade)
    if grade not in policy["grades"]:
        raise InvalidInput(f"grade {grade!r} is not defined by the grading policy")
    if reader_msp == owner_msp:
        return True
    if reader_role is None:
        return False
    audiences = policy["grades"][grade]["audiences"]
    return AUDIENCE_ALL in audiences or f"{ROLE_AUDIENCE_PREFIX}{reader_role}" in audiences


def placement_of(policy: dict[str, Any], grade: str) -> str:
    """Where payloads of ``grade`` live: ``world_state``, ``private_encrypted`` or ``off_chain``.

    Raises:
        InvalidInput: ``grade`` is not defined by the policy.
    """
    if grade not in policy.get("grades", {}):
        raise InvalidInput(f"grade {grade!r} is not defined by the grading policy")
    return str(policy["grades"][grade]["placement"])


# --- policy document validation (used when governance accepts a "grading" policy update) ------------

_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"}
_NAMES = {"oneOf": [_NAME, {"type": "array", "items": _NAME, "minItems": 1, "uniqueItems": True}]}
_GRADE = {"enum": list(GRADES)}
POLICY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["version", "roles", "exec_types", "grades", "categories"],
    "additionalProperties": False,
    "properties": {
        "version": {"type": "integer", "minimum": 1},
        "roles": {"type": "array", "items": _NAME, "minItems": 1, "uniqueItems": True},
        "exec_types": {"type": "array", "items": _NAME, "minItems": 1, "uniqueItems": True},
        "receivers": {"type": "object", "additionalProperties": {"type": "array", "items": _NAME, "uniqueItems": True}},
        "grades": {
            "type": "object", "required": list(GRADES), "additionalProperties": False,
            "patternProperties": {"^L[1-4]$": {
                "type": "object", "required": ["name", "placement", "audiences"], "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "placement": {"enum": list(PLACEMENTS)},
                               "audiences": {"type": "array", "uniqueItems": True, "items": {
                                   "type": "string", "pattern": "^(all_members|owner|grantees|role:[a-z][a-z0-9_]*)$"}}}}},
        },
        "categories": {
            "type": "object", "minProperties": 1, "propertyNames": _NAME,
            "additionalProperties": {
                "type": "object", "required": ["group", "base"], "additionalProperties": False,
                "properties": {"group": _NAME, "ref": {"type": "string"}, "base": _GRADE,
                               "tx_code": {"type": "string", "pattern": "^0[1-9]$"},
                               "senders": {"type": "array", "items": _NAME, "uniqueItems": True}}}},
        "rules": {"type": "array", "items": {
            "type": "object", "required": ["id", "when", "at_least"], "additionalProperties": False,
            "properties": {"id": {"type": "string", "minLength": 1}, "at_least": _GRADE,
                           "when": {"type": "object", "additionalProperties": False,
                                    "properties": {key: _NAMES for key in _WHEN_KEYS}}}}},
    },
}


def _policy_ref_errors(policy: dict[str, Any]) -> list[str]:
    roles = set(policy["roles"])
    errors: list[str] = []
    for exec_type, accepted in sorted(policy.get("receivers", {}).items()):
        if exec_type not in policy["exec_types"]:
            errors.append(f"$.receivers.{exec_type}: not an exec_type")
        errors += [f"$.receivers.{exec_type}: unknown role {r!r}" for r in accepted if r not in roles]
    for grade in GRADES:
        for audience in policy["grades"][grade]["audiences"]:
            if audience.startswith("role:") and audience[5:] not in roles:
                errors.append(f"$.grades.{grade}.audiences: unknown role {audience[5:]!r}")
    for name, spec in sorted(policy["categories"].items()):
        errors += [f"$.categories.{name}.senders: unknown role {r!r}" for r in spec.get("senders", []) if r not in roles]
    known = {"category": set(policy["categories"]), "sender_role": roles, "receiver_role": roles,
             "exec_type": set(policy["exec_types"]),
             "group": {spec["group"] for spec in policy["categories"].values()}}
    for index, rule in enumerate(policy.get("rules", [])):
        for key, value in sorted(rule["when"].items()):
            errors += [f"$.rules[{index}].when.{key}: unknown {key} {v!r}" for v in sorted(_as_set(value)) if v not in known[key]]
    return errors


def validate_grading_policy(policy: Any) -> None:
    """Check a ``"grading"`` policy document: structure (JSON Schema) and cross-references.

    Raises:
        InvalidInput: listing every violation with its JSON path.
    """
    if not isinstance(policy, dict):
        raise InvalidInput("grading policy: $: must be an object")
    validator = Draft202012Validator(POLICY_SCHEMA)
    errors = [f"{e.json_path}: {e.message}" for e in sorted(validator.iter_errors(policy), key=lambda e: e.json_path)]
    if not errors:
        errors = _policy_ref_errors(policy)
    if errors:
        raise InvalidInput("grading policy invalid: " + "; ".join(errors))
