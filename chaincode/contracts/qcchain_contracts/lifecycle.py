"""Governed contract lifecycle (REQUIREMENTS T-9.2.2/T-9.2.6, ARCHITECTURE decision 8).

Per governed unit ``(channel, chaincode, contract)`` — ``contract == ""`` is the whole Fabric chaincode,
otherwise one contract of it (e.g. ``records``) — the state machine is::

    (absent) --propose deploy--> proposed --deploy--> active <--freeze/thaw--> frozen
    proposed|active|frozen --destroy--> destroyed   (terminal: nothing leaves it)
    active|frozen --upgrade--> same state, new approved version (a version is never reused)

Every operation is a *proposal* (see :mod:`qcchain_contracts.proposals`) whose canonical body is
``{operation, target{channel, chaincode, contract}, version, package_digest, reason, nonce, expiry}``;
it executes once the SM2 signatures of org admins meet the rule configured for the operation in the
``governance`` policy document (:func:`threshold_met`).

Package identity: Fabric's package id is ``<label>:<hex SHA-256 of the package .tar.gz>``
(``peer lifecycle chaincode calculatepackageid``). A deploy/upgrade proposal's ``package_digest`` is
that hex SHA-256 and ``version`` the approved version. The running process learns its package id once,
at start, from ``CHAINCODE_ID`` (``__main__`` calls :func:`configure_running_package`); business
contracts then refuse to serve unless the digest of the running package is the digest approved for the
unit's active version. Governance itself is exempt from the package check and from *frozen* (so a
frozen or mis-upgraded chaincode can still be thawed or upgraded again), never from *destroyed*.
Without a configured package id (unit tests, ``MockStub``) the package check is skipped.

Rules layer: reads and writes unit records through :mod:`qcchain_contracts.store.units`; every contract
front calls :func:`require_serving` before it serves.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from qcchain_model import thresholds as _rules
from qcchain_model.proposals import NODE_OPERATIONS, OPERATIONS, UNIT_OPERATIONS
from qcchain_model.thresholds import STATES, TRANSITIONS

from .clock import require_fresh
from .errors import Conflict, Destroyed, Forbidden, Frozen, InvalidInput
from .store.units import get_unit, new_unit, put_unit, unit_name

log = logging.getLogger(__name__)

__all__ = [
    "STATES",
    "UNIT_OPERATIONS",
    "NODE_OPERATIONS",
    "OPERATIONS",
    "TRANSITIONS",
    "DEFAULT_CHAINCODE",
    "RunningPackage",
    "configure_running_package",
    "running_package",
    "next_state",
    "required_count",
    "threshold_met",
    "apply_unit_operation",
    "require_serving",
]

_PACKAGE_ID = re.compile(r"^(?P<label>[A-Za-z0-9_.+-]+):(?P<digest>[0-9a-f]{64})$")


@dataclass(frozen=True)
class RunningPackage:
    """The package this chaincode process runs: ``label:digest`` split, plus the chaincode name."""

    package_id: str
    label: str
    digest: str
    chaincode: str


_RUNNING: RunningPackage | None = None
DEFAULT_CHAINCODE = "qcchain"


def configure_running_package(package_id: str | None, chaincode: str = DEFAULT_CHAINCODE) -> RunningPackage | None:
    """Set (once per process, from ``__main__``) the package id this process serves; None disables the check.

    Raises:
        InvalidInput: ``package_id`` is not ``<label>:<64 hex>``.
    """
    global _RUNNING
    if package_id is None:
        _RUNNING = None
        return None
    match = _PACKAGE_ID.match(package_id)
    if match is None:
        raise InvalidInput(f"CHAINCODE_ID {package_id!r} is not '<label>:<hex sha256>'")
    _RUNNING = RunningPackage(package_id, match["label"], match["digest"], chaincode)
    return _RUNNING


def running_package() -> RunningPackage | None:
    """The configured running package, or None."""
    return _RUNNING


def next_state(state: str | None, operation: str) -> str:
    """The state after ``operation`` from ``state`` (None = no unit yet). Pure.

    Raises:
        InvalidInput: ``operation`` is not a lifecycle operation.
        Conflict: the operation is not allowed from ``state`` (e.g. anything from destroyed).
    """
    if operation not in TRANSITIONS:
        raise InvalidInput(f"operation {operation!r} is not one of {', '.join(UNIT_OPERATIONS)}")
    allowed = TRANSITIONS[operation]
    if state not in allowed:
        shown = state or "absent"
        raise Conflict(f"cannot {operation} a contract that is {shown}")
    return allowed[state]


def required_count(rule: str, eligible: int) -> int:
    """How many eligible signer orgs a rule needs (ALL, ANY, MAJORITY, ``k-of-n``). Pure.

    Raises:
        InvalidInput: unknown rule.
    """
    try:
        return _rules.required_count(rule, eligible)
    except _rules.UnknownRule as exc:
        raise InvalidInput(str(exc)) from None


def threshold_met(spec: dict[str, Any], members: list[dict[str, Any]], signers: set[str]) -> tuple[bool, str]:
    """Decide whether ``signers`` satisfy ``spec`` (see :func:`qcchain_model.thresholds.threshold_met`). Pure.

    Raises:
        InvalidInput: the rule is unknown.
    """
    try:
        return _rules.threshold_met(spec, members, signers)
    except _rules.UnknownRule as exc:
        raise InvalidInput(str(exc)) from None


def apply_unit_operation(stub: Any, body: dict[str, Any], proposal_id: str, at: int) -> dict[str, Any]:
    """Execute a lifecycle operation on its unit and write the new unit record; returns it.

    Raises:
        Conflict: wrong state, or an upgrade to a version that was already approved once.
    """
    target, operation = body["target"], body["operation"]
    unit = get_unit(stub, target["channel"], target["chaincode"], target["contract"])
    state = None if unit is None else unit["state"]
    new_state = next_state(state, operation)
    unit = unit or new_unit(target, at)
    if operation in ("deploy", "upgrade"):
        if body["version"] in unit["versions"]:
            raise Conflict(f"version {body['version']!r} of {unit_name(target)} was already approved once")
        unit["versions"][body["version"]] = {
            "package_digest": body["package_digest"],
            "approved_at": at,
            "proposal_id": proposal_id,
        }
        unit["active_version"] = body["version"]
    unit["state"] = new_state
    unit["updated_at"] = at
    unit["history"].append({"operation": operation, "proposal_id": proposal_id, "at": at, "state": new_state})
    put_unit(stub, target, unit)
    return unit


def require_serving(ctx: Any, contract: str, write: bool) -> None:
    """Refuse the transaction unless the governed state lets ``contract`` serve it.

    First the transaction timestamp must be within the governance tolerance of this server's clock
    (:func:`.clock.require_fresh`, T-5.2a). Then the whole-chaincode unit and the contract's own unit on
    this channel: destroyed → refused;
    proposed (deploy not yet approved) → refused; frozen → writes refused (governance exempt);
    and, when a running package is configured, the package digest must be the approved one.

    Raises:
        Destroyed: the chaincode or the contract was destroyed.
        Frozen: a write to a frozen chaincode/contract.
        Forbidden: backdated/post-dated proposal, not deployed yet, or the running package is not the
            approved active version.
    """
    require_fresh(ctx)
    running = _RUNNING
    chaincode = running.chaincode if running else DEFAULT_CHAINCODE
    channel = ctx.stub.get_channel_id()
    governance = contract == "governance"
    for name in ("", contract):
        unit = get_unit(ctx.stub, channel, chaincode, name)
        if unit is None:
            continue
        label = unit_name(unit)
        if unit["state"] == "destroyed":
            raise Destroyed(f"{label} was destroyed by governance; it serves nothing (history stays auditable)")
        if unit["state"] == "proposed" and not governance:
            raise Forbidden(f"{label} is proposed but its deployment is not approved yet")
        if unit["state"] == "frozen" and write and not governance:
            raise Frozen(f"{label} is frozen by governance: writes are refused, reads allowed")
        if name == "" and running is not None and not governance and unit["active_version"]:
            approved = unit["versions"][unit["active_version"]]["package_digest"]
            if approved != running.digest:
                raise Forbidden(
                    f"running package {running.label} is not the approved version "
                    f"{unit['active_version']} of {label}; only the approved package serves"
                )
