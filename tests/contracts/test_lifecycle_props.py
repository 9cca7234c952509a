"""Property tests of the lifecycle state machine and threshold rules (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcchain_contracts.errors import Conflict
from qcchain_contracts.lifecycle import STATES, UNIT_OPERATIONS, next_state, required_count, threshold_met

ops = st.lists(st.sampled_from(UNIT_OPERATIONS), max_size=30)


@given(ops)
def test_random_operation_sequences_respect_the_state_machine(sequence: list[str]) -> None:
    state: str | None = None
    destroyed = False
    for op in sequence:
        try:
            new = next_state(state, op)
        except Conflict:
            assert destroyed or op not in _allowed(state)
            continue
        assert not destroyed, "nothing leaves destroyed"
        assert new in STATES
        if op == "freeze":
            assert (state, new) == ("active", "frozen")
        if op == "thaw":
            assert (state, new) == ("frozen", "active")
        if op == "upgrade":
            assert new == state
        destroyed = new == "destroyed"
        state = new


def _allowed(state: str | None) -> set[str]:
    return {
        None: {"deploy"}, "proposed": {"deploy", "destroy"}, "active": {"upgrade", "freeze", "destroy"},
        "frozen": {"upgrade", "thaw", "destroy"}, "destroyed": set(),
    }[state]


@pytest.mark.parametrize("op", UNIT_OPERATIONS)
def test_destroyed_is_terminal(op: str) -> None:
    with pytest.raises(Conflict, match="destroyed"):
        next_state("destroyed", op)


members_st = st.lists(st.sampled_from(["regulator", "using_unit", "manufacturer"]), min_size=1, max_size=8)


@settings(max_examples=200)
@given(members_st, st.data())
def test_threshold_is_monotonic_and_matches_the_rule(roles: list[str], data: st.DataObject) -> None:
    members = [{"msp_id": f"O{i}", "role": r, "status": "active"} for i, r in enumerate(roles)]
    rule = data.draw(st.sampled_from(["ALL", "ANY", "MAJORITY", "2-of-n"]))
    signers = set(data.draw(st.lists(st.sampled_from([m["msp_id"] for m in members]), unique=True)))
    spec = {"rule": rule, "require_roles": ["regulator"]}
    met, _ = threshold_met(spec, members, signers)
    need = required_count(rule, len(members))
    has_reg = any(m["role"] == "regulator" and m["msp_id"] in signers for m in members)
    assert met == (len(signers) >= need and has_reg and need <= len(members))
    if met:  # adding a signer never breaks a met threshold
        extra = {m["msp_id"] for m in members}
        assert threshold_met(spec, members, extra)[0]
    outsider_only = threshold_met(spec, members, {"NotAMember"})[0]
    assert not outsider_only
