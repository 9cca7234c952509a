"""The warnings model knows ``resolve_reminder``: served exactly from every open status of an expiry reminder,
by a regulator / inspection body other than the responsible unit, with a later due date; refused otherwise."""

from __future__ import annotations

import pytest

from qcchain_verify.machine import ROLES
from qcchain_verify.warnmodel import ORDER, RENEWALS, _steps, check_warnings

START = ("raised", "blue", 72 * 3600, 720 * 3600, 0)


def _reach(n: int, responsible: str, source: str, depth: int) -> dict:
    """Every state reachable without a violation, with the labels of the transitions taken from it."""
    seen, frontier, labels = {START}, [START], {}
    for _ in range(depth):
        nxt = []
        for state in frontier:
            steps = list(_steps(state, n, responsible, source))
            assert all(not bad for _l, _n, bad in steps), [(label, bad) for label, _n, bad in steps if bad]
            labels[state] = [(label, after) for label, after, _b in steps]
            nxt += [after for _l, after, _b in steps if after not in seen]
            seen.update(nxt)
        frontier = nxt
    return labels


@pytest.mark.parametrize("responsible", ["Org2", "Org1"], ids=["using_unit", "inspection_body"])
def test_a_reminder_closes_by_renewal_from_every_open_status(responsible: str) -> None:
    labels = _reach(5, responsible, "expiry", 6)
    verifiers = {f"Org{i}" for i in range(5) if ROLES[i] in ("regulator", "inspection_body")} - {responsible}
    by_status: dict[str, set] = {}
    for state, out in labels.items():
        for label, after in out:
            if "resolve_reminder" in label and "(refused)" not in label:
                by_status.setdefault(state[0], set()).add(label.split()[0])
                assert after[0] == "closed" and label.split()[2] == "later", label
    assert set(by_status) == set(ORDER[:-1])  # every open status, never closed
    assert all(orgs == verifiers for orgs in by_status.values()), by_status


def test_a_closed_loop_warning_is_never_resolved_as_a_reminder() -> None:
    labels = _reach(5, "Org2", "rectification", 6)
    assert not [label for out in labels.values() for label, _a in out if "resolve_reminder" in label]
    into_closed = {label.split()[1] for state, out in labels.items() for label, after in out
                   if after[0] == "closed" and state[0] != "closed"}
    assert into_closed == {"close"}  # it closes only through its closed loop


def test_reminder_machines_hold_and_grow() -> None:
    for role in ("using_unit", "inspection_body"):
        result = check_warnings(3, 10, role, "expiry")
        assert result.violations == [] and result.states > 100
    assert set(RENEWALS) == {"earlier", "same", "later", "malformed"}
    with pytest.raises(ValueError, match="source must be one of"):
        check_warnings(3, 2, "using_unit", "device")


def test_batch_raise_machine_reaches_every_ledger_and_holds() -> None:
    from qcchain_verify.batchmodel import ITEMS, check_batch

    result = check_batch(5, 3)
    assert result.violations == [] and result.states == 4  # {}, {A}, {B}, {A, B}: bad items never stored
    assert result.transitions == 4 * 5 * (len(ITEMS) + len(ITEMS) ** 2)
