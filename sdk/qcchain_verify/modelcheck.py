"""Exhaustive bounded model check of the contracts' state machines (T-9.2.5).

Breadth-first over every interleaving of the operations of ``n`` orgs up to depth ``k``, each step decided
by the contracts' own code — :func:`qcchain_contracts.lifecycle.next_state` and
:func:`~qcchain_contracts.lifecycle.require_serving` (on a dict-backed stub), the governance rule of
``policies/governance.yaml`` through :func:`qcchain_model.thresholds.threshold_met`,
:func:`qcchain_contracts.grading_rules.may_read` and :func:`qcchain_contracts.sharing_rules.grant_serves`
— and every step checked against invariants written independently of that code (the oracles below):

* ``destroyed-terminal`` — nothing leaves *destroyed*; ``frozen-refuses-writes`` — a business write to a
  frozen unit is refused; ``destroyed-serves-nothing`` — a destroyed one refuses reads and writes;
* ``threshold`` — an operation executes only with ≥ the oracle count of eligible signers (and the required
  roles); ``monotone`` — adding a signer never turns a met threshold into an unmet one;
* ``read-needs-audience-or-grant`` — a read outside the grade's audience is served only under an approved,
  unexpired grant with uses left, covering the record, for exactly the stated purpose;
* ``every-access-logged`` — each read served under a grant (``entitlement.consume_grant``, what
  ``sharing:access`` runs) writes exactly one access-log entry naming the reader, record, purpose and grant;
* the warnings closed loop and expiry reminders (:mod:`.warnmodel`): steps in order, by the right org, closed
  terminal, escalation only when overdue and only upwards, ``resolve_reminder`` only on an open expiry
  reminder with a later due date, nothing deleted, refusals change nothing; the batch raise
  (:mod:`.batchmodel`): all or nothing, and the same ledger as single raises.

Breadth-first order makes the first violation found one with the shortest trace.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from typing import Any, Iterator

from qcchain_contracts import lifecycle, sharing_rules
from qcchain_contracts.entitlement import consume_grant
from qcchain_contracts.errors import ContractError
from qcchain_contracts.grading_rules import may_read
from qcchain_contracts.store.grants import ACCESS
from qcchain_contracts.store.units import new_unit, put_unit
from qcchain_model import thresholds

from .machine import CHANNEL, ROLES, Ctx, Result, Stub, Violation, bfs
from .batchmodel import check_batch
from .warnmodel import RESPONSIBLE_ROLES, SOURCES, check_warnings

log = logging.getLogger(__name__)

__all__ = ["Violation", "Result", "ROLES", "check_lifecycle", "check_monotone", "check_sharing", "check_all"]

CHAINCODE = "qcchain"


def _serves(state: str | None, write: bool) -> bool:
    """The contract's verdict: may ``records`` serve a read/write when its unit is in ``state``?"""
    stub = Stub()
    if state is not None:
        target = {"channel": CHANNEL, "chaincode": CHAINCODE, "contract": "records"}
        unit = new_unit(target, 0)
        unit["state"] = state
        put_unit(stub, target, unit)
    try:
        lifecycle.require_serving(Ctx(stub), "records", write)  # type: ignore[arg-type]
    except ContractError:
        return False
    return True


def _members(n: int) -> list[dict[str, str]]:
    return [{"msp_id": f"Org{i}", "role": ROLES[i % len(ROLES)], "status": "active"} for i in range(n)]


def _oracle_met(spec: dict[str, Any], members: list[dict[str, str]], signers: frozenset[str]) -> bool:
    """Independent oracle of a governance rule (not the code under check)."""
    among = set(spec.get("among_roles") or [])
    eligible = [m for m in members if not among or m["role"] in among]
    counted = [m for m in eligible if m["msp_id"] in signers]
    rule, n = str(spec["rule"]), len(eligible)
    need = {"ALL": n, "ANY": 1, "MAJORITY": n // 2 + 1}.get(rule) or int(rule.split("-", 1)[0])
    roles = {m["role"] for m in counted}
    return 0 < need <= n and len(counted) >= need and set(spec.get("require_roles") or []) <= roles


def _met(spec: dict[str, Any], members: list[dict[str, str]], signers: frozenset[str]) -> bool:
    try:
        return thresholds.threshold_met(spec, members, set(signers))[0]
    except thresholds.UnknownRule:
        return False


# --- lifecycle + governance --------------------------------------------------------------------------
# state: (unit state | None, open proposal (op, signers) | None)

def _lifecycle_steps(state: tuple[Any, Any], rules: dict[str, Any], members: list[dict[str, str]]
                     ) -> Iterator[tuple[str, tuple[Any, Any], list[tuple[str, str]]]]:
    unit, open_ = state
    orgs = [m["msp_id"] for m in members]
    for org in orgs:  # business operations by every org
        wrote = _serves(unit, True)
        read = _serves(unit, False)
        bad = []
        if unit == "frozen" and wrote:
            bad.append(("frozen-refuses-writes", f"{org} wrote to a frozen contract"))
        if unit == "destroyed" and (wrote or read):
            bad.append(("destroyed-serves-nothing", f"{org} used a destroyed contract"))
        yield f"{org} write ({'served' if wrote else 'refused'})", state, bad
        break  # every org is treated alike by require_serving: one representative
    if open_ is None:
        for op in lifecycle.UNIT_OPERATIONS:
            try:
                lifecycle.next_state(unit if not (unit == "proposed" and op == "deploy") else "proposed", op)
            except ContractError:
                continue
            for org in orgs:
                yield f"{org} proposes {op}", (unit, (op, frozenset({org}))), []
        return
    op, signers = open_
    for org in orgs:
        if org not in signers:
            yield f"{org} signs {op}", (unit, (op, signers | {org})), []
    spec = rules[op]
    if _met(spec, members, signers):
        try:
            after = lifecycle.next_state(unit, op)
        except ContractError:
            yield f"execute {op} (refused: state)", (unit, None), []
            return
        bad = []
        if not _oracle_met(spec, members, signers):
            bad.append(("threshold", f"{op} executed with {sorted(signers)} under rule {spec}"))
        if unit == "destroyed" and after != "destroyed":
            bad.append(("destroyed-terminal", f"{op} moved a destroyed contract to {after}"))
        yield f"execute {op} by {sorted(signers)} -> {after}", (after, None), bad


def check_lifecycle(rules: dict[str, Any], n: int, depth: int) -> Result:
    """Governance + lifecycle of one unit: ``n`` orgs, up to ``depth`` steps from an absent unit."""
    members = _members(n)
    return bfs("lifecycle+governance", (None, None), lambda s: _lifecycle_steps(s, rules, members), depth)


def check_monotone(rules: dict[str, Any], n: int) -> Result:
    """Every rule, every signer set S and org x of ``n`` orgs: met(S) implies met(S + x); and met == oracle."""
    t0 = time.monotonic()
    result = Result("thresholds")
    members = _members(n)
    orgs = [m["msp_id"] for m in members]
    for op, spec in sorted(rules.items()):
        for size in range(n + 1):
            for subset in itertools.combinations(orgs, size):
                signers = frozenset(subset)
                result.states += 1
                met = _met(spec, members, signers)
                if met != _oracle_met(spec, members, signers):
                    result.violations.append(Violation("threshold", f"{op}: {sorted(signers)} met={met}, oracle "
                                                                     f"says {not met}", (f"signers {sorted(signers)}",)))
                for extra in orgs:
                    result.transitions += 1
                    if met and not _met(spec, members, signers | {extra}):
                        result.violations.append(Violation("monotone", f"{op}: adding {extra} unmet the threshold",
                                                           (f"signers {sorted(signers)}", f"+ {extra}")))
    result.seconds = round(time.monotonic() - t0, 3)
    return result


# --- sharing -----------------------------------------------------------------------------------------
# state: (grant (grantee, purpose, status, uses) | None); record of grade ``grade`` owned by Org1.

PURPOSES = ("inspection", "audit")


def _in_audience(policy: dict[str, Any], grade: str, member: dict[str, str], owner: str) -> bool:
    """Independent oracle of the grade's audience (owner, all_members, role:<r>; never grantees)."""
    audiences = policy["grades"][grade]["audiences"]
    return (member["msp_id"] == owner or "all_members" in audiences
            or f"role:{member['role']}" in audiences)


def _sharing_steps(state: Any, policy: dict[str, Any], grade: str, members: list[dict[str, str]]
                   ) -> Iterator[tuple[str, Any, list[tuple[str, str]]]]:
    owner = "Org1"
    meta = {"record_id": "R1", "owner_msp": owner, "grade": grade, "category": "c", "equipment_code": "E1"}
    if state is None:
        for m, purpose in itertools.product(members, PURPOSES):
            if m["msp_id"] != owner:
                yield f"{owner} grants {m['msp_id']} for {purpose}", (m["msp_id"], purpose, "approved", 0), []
    elif state[2] == "approved":
        yield f"{owner} revokes the grant", (state[0], state[1], "revoked", state[3]), []
    for m, purpose in itertools.product(members, PURPOSES):
        audience = may_read(policy, grade, m["role"], m["msp_id"], owner)
        grant = None if state is None else {
            "grant_id": "g1", "owner_msp": owner, "grantee_msp": state[0], "purpose": state[1], "status": state[2],
            "uses": state[3], "max_uses": 1, "expires_at": 100, "max_grade": grade,
            "scope": {"type": "record", "value": "R1"}}
        bad: list[tuple[str, str]] = []
        granted = False
        if not audience and grant is not None and grant["grantee_msp"] == m["msp_id"]:
            granted, logged = _grant_read(grant, meta, m["msp_id"], purpose)
            expected = {"reader_msp": m["msp_id"], "record_id": "R1", "purpose": purpose, "basis": "grant",
                        "grant_id": "g1"}
            if granted and [{k: e.get(k) for k in expected} for e in logged] != [expected]:
                bad.append(("every-access-logged", f"{m['msp_id']} read R1 for {purpose} under grant g1 and the "
                                                   f"access log holds {len(logged)} matching entr(y/ies)"))
        if not (audience or granted):
            continue
        if not _in_audience(policy, grade, m, owner):
            valid = (state is not None and state[0] == m["msp_id"] and state[1] == purpose
                     and state[2] == "approved" and state[3] < 1)
            if not valid:
                bad.append(("read-needs-audience-or-grant",
                            f"{m['msp_id']} ({m['role']}) read a {grade} record for {purpose} under {state}"))
        nxt = (state[0], state[1], state[2], state[3] + 1) if granted and state is not None else state
        yield f"{m['msp_id']} reads for {purpose} ({'grant' if granted else 'audience'})", nxt, bad


def _grant_read(grant: dict[str, Any], meta: dict[str, Any], reader: str, purpose: str
                ) -> tuple[bool, list[dict[str, Any]]]:
    """A read under ``grant`` through the contract (``entitlement.consume_grant`` on an empty stub): served?
    and the access-log entries it wrote."""
    stub = Stub(tx_id="read")
    try:
        consume_grant(Ctx(stub, reader), grant, meta, purpose)  # type: ignore[arg-type]
    except ContractError:
        return False, []
    prefix = stub.create_composite_key(ACCESS, [])
    return True, [json.loads(v) for k, v in sorted(stub.state.items()) if k.startswith(prefix)]


def check_sharing(policy: dict[str, Any], n: int, depth: int, grade: str = "L3") -> Result:
    """Grants and reads of one ``grade`` record by ``n`` orgs, up to ``depth`` steps."""
    members = _members(n)
    return bfs(f"sharing ({grade})", None, lambda s: _sharing_steps(s, policy, grade, members), depth)


def check_all(governance: dict[str, Any], grading: dict[str, Any], n: int, depth: int) -> list[Result]:
    """Every machine: lifecycle + governance, thresholds (monotone, exact), sharing of L2..L4 records (with the
    access log), the warnings closed loop with a using unit and with an inspection body responsible."""
    rules = governance["operations"]
    unit_rules = {op: rules[op] for op in lifecycle.UNIT_OPERATIONS}
    out = [check_lifecycle(unit_rules, n, depth), check_monotone(rules, n)]
    out += [check_sharing(grading, n, depth, g) for g in ("L2", "L3", "L4") if g in grading["grades"]]
    out += [check_warnings(n, depth, role, source) for source in SOURCES for role in RESPONSIBLE_ROLES
            if ROLES.index(role) < n]
    out += [check_batch(n, min(depth, 3))]
    return out


def results_json(results: list[Result]) -> str:
    """The results as JSON (for reports and the mutation test's subprocess)."""
    return json.dumps([{"machine": r.machine, "states": r.states, "transitions": r.transitions, "seconds": r.seconds,
                        "violations": [{"invariant": v.invariant, "detail": v.detail, "trace": list(v.trace)}
                                       for v in r.violations]} for r in results], indent=1)
