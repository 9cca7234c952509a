"""Governance rules shared by the chaincode (which enforces them) and the SDK (which pre-checks them).

Pure and deterministic: the contract-unit state machine ``proposed → active ⇄ frozen → destroyed`` and the
signature thresholds of ``policies/governance.yaml`` (``ALL``, ``ANY``, ``MAJORITY``, ``<k>-of-n`` over
active member orgs, optionally restricted to ``among_roles`` and requiring ``require_roles``).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ModelError

__all__ = ["STATES", "TRANSITIONS", "UnknownRule", "required_count", "threshold_met"]

#: States of a governed unit (contract or whole chaincode).
STATES: tuple[str, ...] = ("proposed", "active", "frozen", "destroyed")

#: operation -> {state it may start from (None = no unit yet): state after}. Upgrade keeps the state.
TRANSITIONS: dict[str, dict[str | None, str]] = {
    "deploy": {None: "active", "proposed": "active"},
    "upgrade": {"active": "active", "frozen": "frozen"},
    "freeze": {"active": "frozen"},
    "thaw": {"frozen": "active"},
    "destroy": {"proposed": "destroyed", "active": "destroyed", "frozen": "destroyed"},
}

_K_OF_N = re.compile(r"^([1-9][0-9]?)-of-n$")


class UnknownRule(ModelError, ValueError):
    """A threshold rule is not ALL, ANY, MAJORITY or ``<k>-of-n``."""


def required_count(rule: str, eligible: int) -> int:
    """How many eligible signer orgs a rule needs. Pure.

    Raises:
        UnknownRule: the rule is not ALL, ANY, MAJORITY or ``<k>-of-n``.
    """
    if rule == "ALL":
        return eligible
    if rule == "ANY":
        return 1
    if rule == "MAJORITY":
        return eligible // 2 + 1
    match = _K_OF_N.match(rule)
    if match is None:
        raise UnknownRule(f"threshold rule {rule!r} is not ALL, ANY, MAJORITY or '<k>-of-n'")
    return int(match[1])


def threshold_met(spec: dict[str, Any], members: list[dict[str, Any]], signers: set[str]) -> tuple[bool, str]:
    """Decide whether ``signers`` (MSP ids with valid admin signatures) satisfy ``spec``. Pure.

    ``spec`` = ``{"rule": ..., "among_roles": [...]?, "require_roles": [...]?}``; only active members
    (restricted to ``among_roles`` if given) count. Returns (met, human-readable explanation).

    Raises:
        UnknownRule: the rule is unknown.
    """
    among = set(spec.get("among_roles") or [])
    eligible = sorted(m["msp_id"] for m in members if m.get("status") == "active" and (not among or m["role"] in among))
    counted = sorted(set(eligible) & signers)
    need = required_count(str(spec.get("rule", "")), len(eligible))
    roles = {m["msp_id"]: m["role"] for m in members}
    missing = sorted(set(spec.get("require_roles") or []) - {roles[m] for m in counted})
    if need == 0 or need > len(eligible):
        return False, f"rule {spec.get('rule')} needs {need} of {len(eligible)} eligible orgs: unsatisfiable"
    if len(counted) < need:
        return False, f"{len(counted)} of {need} required signatures ({spec.get('rule')} of {len(eligible)} eligible orgs)"
    if missing:
        return False, f"a signature of role {', '.join(missing)} is required"
    return True, f"{len(counted)} of {len(eligible)} eligible orgs signed ({spec.get('rule')})"
