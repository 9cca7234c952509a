"""Signature-policy strings and implicit-meta policies, parsed and evaluated like Fabric's cauthdsl."""

from __future__ import annotations

import pytest
from fabric_protos.common import policies_pb2
from fabric_protos.msp import msp_principal_pb2
from qcchain_devnet.errors import PolicyError, PolicySyntaxError
from qcchain_devnet.policy import Signer, from_envelope_bytes, parse_policy


def peer(msp: str, role: str = "peer") -> Signer:
    return Signer(msp, frozenset({role}), f"{msp}/{role}".encode())


def test_and_or_outof() -> None:
    p = parse_policy("AND('A.peer', OR('B.peer', 'C.member'))")
    assert p.evaluate([peer("A"), peer("B")])
    assert p.evaluate([peer("A"), peer("C", "client")])
    assert not p.evaluate([peer("A")])
    assert not p.evaluate([peer("B"), peer("C")])
    q = parse_policy("OutOf(2, 'A.peer', 'B.peer', 'C.peer')")
    assert q.evaluate([peer("C"), peer("A")]) and not q.evaluate([peer("C")])


def test_one_signature_counts_once() -> None:
    p = parse_policy("AND('A.member', 'A.member')")
    assert not p.evaluate([peer("A")])
    assert not p.evaluate([peer("A"), peer("A")])      # duplicates are removed
    assert p.evaluate([peer("A"), peer("A", "admin")])


def test_roles() -> None:
    p = parse_policy("OR('A.admin')")
    assert not p.evaluate([peer("A")]) and p.evaluate([peer("A", "admin")])


def test_envelope_encoding_matches_fabric() -> None:
    env = policies_pb2.SignaturePolicyEnvelope.FromString(
        parse_policy("AND('Org1MSP.peer','Org2MSP.peer')").to_bytes())
    assert env.rule.n_out_of.n == 2
    assert [r.signed_by for r in env.rule.n_out_of.rules] == [0, 1]
    role = msp_principal_pb2.MSPRole.FromString(env.identities[1].principal)
    assert role.msp_identifier == "Org2MSP" and role.role == msp_principal_pb2.MSPRole.PEER
    again = from_envelope_bytes(env.SerializeToString())
    assert again.evaluate([peer("Org1MSP"), peer("Org2MSP")])


def test_majority_and_plan() -> None:
    m = parse_policy("MAJORITY Endorsement", ["A", "B", "C", "D", "E"])
    assert m.evaluate([peer("A"), peer("B"), peer("C")])
    assert not m.evaluate([peer("A"), peer("B")])
    assert m.plan(["C", "A", "B", "D", "E"]) == ["C", "A", "B"]
    assert parse_policy("AND('A.peer','B.peer')").plan(["B", "C", "A"]) == ["B", "A"]
    assert parse_policy("AND('A.peer','Z.peer')").plan(["A", "B"]) is None


@pytest.mark.parametrize("text", ["", "AND(", "AND('A.peer'", "XOR('A.peer')", "OutOf(3, 'A.peer')",
                                  "'A.boss'", "AND('A.peer') extra", "OutOf('A.peer')"])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(PolicySyntaxError):
        parse_policy(text)


def test_bad_envelope_and_meta() -> None:
    with pytest.raises(PolicyError):
        from_envelope_bytes(b"\xff\xff")
    with pytest.raises(PolicyError):
        parse_policy("ANY Readers", ["A"])


AGREEMENT = ["OutOf(0, 'A.peer')", "ANY Readers", "MAJORITY Endorsement2", "MAJORITY Endorsement",
             "ANY  Endorsement", "OutOf(1, 'A.peer', 'B.peer')", "AND ('A.peer', \"B.admin\")", "OR()",
             "AND('A.peer',)", "'A.peer'", "MOST Endorsement", "OutOf(-1, 'A.peer')"]


@pytest.mark.parametrize("text", AGREEMENT)
def test_devnet_accepts_exactly_what_the_network_validates(text: str) -> None:
    from qcchain_network.errors import PolicySyntaxError as NetworkSyntaxError
    from qcchain_consortium.policy import check_rule
    try:
        check_rule(text)
        network_ok = True
    except NetworkSyntaxError:
        network_ok = False
    try:
        parse_policy(text, ["A", "B"])
        devnet_ok = True
    except PolicySyntaxError:
        devnet_ok = False
    assert devnet_ok == network_ok


def test_outof_zero_is_refused_not_vacuously_satisfied() -> None:
    with pytest.raises(PolicySyntaxError, match="n must be 1..1"):
        parse_policy("OutOf(0, 'A.peer')")


def test_unsupported_meta_names_the_supported_subpolicy() -> None:
    with pytest.raises(PolicySyntaxError, match="only Endorsement"):
        parse_policy("ANY Readers", ["A"])


def test_identities_not_deduplicated_like_fabric_policydsl() -> None:
    env = policies_pb2.SignaturePolicyEnvelope.FromString(
        parse_policy("OR('A.peer', AND('A.peer', 'B.peer'))").to_bytes())
    assert len(env.identities) == 3
    assert env.rule.n_out_of.rules[1].n_out_of.rules[0].signed_by == 1
