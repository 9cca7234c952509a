"""Fabric signature-policy parsing."""

from __future__ import annotations

import pytest

from qcchain_network.errors import PolicySyntaxError
from qcchain_consortium.policy import (
    Gate, ImplicitMeta, Principal, check_rule, is_implicit_meta, parse_rule, parse_signature_policy)


def test_parse_nested() -> None:
    tree = parse_signature_policy("OutOf(2, 'A.peer', AND(\"B.member\", 'C.D.admin'), 'E.client')")
    assert isinstance(tree, Gate) and tree.n == 2
    assert tree.rules[1] == Gate(2, (Principal("B", "member"), Principal("C.D", "admin")))


def test_or_and_case_insensitive() -> None:
    assert parse_signature_policy("or('A.peer','B.peer')") == Gate(1, (Principal("A", "peer"), Principal("B", "peer")))
    assert check_rule("AND('B.peer', 'A.peer', 'A.admin')") == ["A", "B"]


@pytest.mark.parametrize("rule, message", [
    ("", "empty"),
    ("AND('A.peer'", "unexpected end"),
    ("AND('A.boss')", "not 'MSPID.role'"),
    ("OutOf(3, 'A.peer', 'B.peer')", "n must be 1..2"),
    ("OutOf('A.peer')", "needs a number"),
    ("XOR('A.peer')", "expected AND, OR, OutOf"),
    ("AND('A.peer') 'B.peer'", "after the end"),
    ("AND('A.peer';)", "unexpected character"),
])
def test_bad_syntax(rule: str, message: str) -> None:
    with pytest.raises(PolicySyntaxError, match=message):
        check_rule(rule)


def test_implicit_meta() -> None:
    assert is_implicit_meta("MAJORITY Endorsement") and is_implicit_meta("ANY Readers")
    assert not is_implicit_meta("MOST Endorsement")
    assert check_rule("MAJORITY Endorsement") == []


@pytest.mark.parametrize("rule, message", [
    ("OutOf(0, 'A.peer')", "n must be 1..1"),
    ("ANY Readers", "'Readers' is not supported .*only Endorsement"),
    ("MAJORITY Endorsement2", "'Endorsement2' is not supported"),
])
def test_rules_the_devnet_cannot_run_are_refused(rule: str, message: str) -> None:
    with pytest.raises(PolicySyntaxError, match=message):
        check_rule(rule)


def test_parse_rule_returns_implicit_meta() -> None:
    assert parse_rule("  ALL Endorsement ") == ImplicitMeta("ALL", "Endorsement")
    assert parse_rule("OR('A.peer')") == Gate(1, (Principal("A", "peer"),))
