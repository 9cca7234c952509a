"""Node registry on MockStub (T-7.2.3): node_admit / node_remove proposals (single and genesis form),
join / leave attestations, the policy rules, and every refusal writing nothing."""

from __future__ import annotations

import pytest

from qcchain_contracts.policy_rules import validate_governance_policy
from qcchain_contracts.errors import InvalidInput

from govkit import CHANNEL, GovKit
from nodekit import MAJ, admit, admit_body, digest, fp, node, propose_args, remove

O4 = "orderer4.orderer.qcchain.example.com"


@pytest.fixture()
def kit() -> GovKit:
    return GovKit()


def test_single_admission_join_leave_remove(kit: GovKit) -> None:
    record = node(O4)
    result = admit(kit, record)
    assert result["outcome"] == {"nodes": [O4], "status": "active"}
    stored = kit.ok("governance:node", [O4])
    assert stored["status"] == "active" and stored["admitted_by"] == result["proposal_id"]
    assert {k: stored[k] for k in record} == record and stored["joins"] == []
    entry = kit.ok("governance:node_joined", [O4, CHANNEL, 7, record["tls_cert_sha256"]], org="Inspection")
    assert entry["submitter_msp"] == "InspectionMSP" and entry["block"] == 7 and entry["tx_id"]
    kit.fails("governance:node_joined", [O4, CHANNEL, 8, record["tls_cert_sha256"]], "already recorded as joined")
    kit.fails("governance:node_joined", [O4, "inspection-channel", 3, fp("other")], "does not match")
    remove(kit, O4)
    assert kit.ok("governance:node", [O4])["status"] == "removed"
    kit.fails("governance:node_joined", [O4, "inspection-channel", 9, record["tls_cert_sha256"]], "removed")
    kit.fails("governance:node_left", [O4, CHANNEL, 6], "before the join block")
    kit.ok("governance:node_left", [O4, CHANNEL, 9], org="UsingUnit")
    kit.fails("governance:node_left", [O4, CHANNEL, 10], "already recorded as having left")
    final = kit.ok("governance:node", [O4])
    assert [j["event"] for j in final["joins"]] == ["joined", "left"]
    assert [h["event"] for h in final["history"]] == ["admitted", "removed"]


def test_events_reach_the_timeline() -> None:
    from qcchain_contracts.audit import Audit

    kit = GovKit(extra_contracts=(Audit(),))
    record = node(O4)
    admit(kit, record)
    kit.ok("governance:node_joined", [O4, CHANNEL, 7, record["tls_cert_sha256"]])
    remove(kit, O4)
    kit.ok("governance:node_left", [O4, CHANNEL, 9])
    events = kit.ok("audit:timeline", ["0", str(kit.now + 10)], org="Regulator")
    nodes = [e for e in events if e["kind"].startswith("node_")]
    assert [e["kind"] for e in nodes] == ["node_admitted", "node_joined", "node_removed", "node_left"]
    assert all(e["node_id"] == O4 for e in nodes) and nodes[0]["node_kind"] == "orderer"


def test_genesis_admission_once_sorted_unique(kit: GovKit) -> None:
    records = [node(f"orderer{i}.orderer.qcchain.example.com") for i in (1, 2, 3)] + \
              [node("peer0.inspection.qcchain.example.com", "peer", "InspectionMSP")]
    records.sort(key=lambda r: r["node_id"])
    unsorted = {"nodes": list(reversed(records))}
    kit.fails("governance:propose", propose_args(kit, admit_body(kit, unsorted, "genesis"), unsorted), "sorted")
    dup = {"nodes": [records[0], records[0]]}
    kit.fails("governance:propose", propose_args(kit, admit_body(kit, dup, "genesis"), dup), "unique")
    kit.fails("governance:propose", propose_args(kit, admit_body(kit, {"nodes": []}, "genesis"), {"nodes": []}), "1..64")
    result = admit(kit, {"nodes": records})
    assert result["outcome"]["nodes"] == [r["node_id"] for r in records]
    listed = kit.ok("governance:nodes", [])
    assert [n["node_id"] for n in listed] == sorted(r["node_id"] for r in records)
    assert all(n["genesis"] and n["status"] == "active" for n in listed)
    again = {"nodes": [node("orderer9.orderer.qcchain.example.com")]}
    kit.fails("governance:propose", propose_args(kit, admit_body(kit, again, "genesis"), again), "already admitted")
    admit(kit, node(O4))  # later nodes: single form
    assert len(kit.ok("governance:nodes", [])) == 5


def test_malformed_records_refused(kit: GovKit) -> None:
    good = node(O4)
    cases = [
        (dict(good, extra=1), "exactly"),
        ({k: v for k, v in good.items() if k != "issuer"}, "exactly"),
        (dict(good, kind="client"), "kind"),
        (dict(good, consensus=False), "consensus"),
        (dict(good, kind="peer"), "consensus"),
        (dict(good, tls_cert_sha256="AB" * 32), "tls_cert_sha256"),
        (dict(good, sign_cert_sha256=good["tls_cert_sha256"]), "must differ"),
        (dict(good, subject=""), "subject"),
        (dict(good, issuer="x" * 513), "issuer"),
        (dict(good, not_after="2030"), "not_after"),
        (dict(good, not_after=True), "not_after"),
        (dict(good, not_after=1000), "expired"),
        (dict(good, org_msp="bad msp"), "org_msp"),
    ]
    for artifact, needle in cases:
        kit.fails("governance:propose", propose_args(kit, admit_body(kit, artifact, O4), artifact), needle)
    bad_id = dict(good, node_id="-bad")
    kit.fails("governance:propose", propose_args(kit, admit_body(kit, bad_id, "-bad"), bad_id), "node id")
    long_id = dict(good, node_id="a" * 256)
    kit.fails("governance:propose", propose_args(kit, admit_body(kit, long_id, "a" * 256), long_id), "node id")
    kit.fails("governance:propose", propose_args(kit, admit_body(kit, good, "orderer5.example.com"), good), "target names")
    wrong_digest = dict(admit_body(kit, good), package_digest=digest(node("x.example.com")))
    kit.fails("governance:propose", propose_args(kit, wrong_digest, good), "does not match package_digest")
    versioned = dict(admit_body(kit, good), version="1")
    kit.fails("governance:propose", propose_args(kit, versioned, good), "version must be empty")
    assert kit.ok("governance:nodes", []) == []


def test_thresholds_replay_and_non_admins(kit: GovKit) -> None:
    record = node(O4)
    body = admit_body(kit, record)
    p = kit.ok("governance:propose", propose_args(kit, body, record), org="Regulator")
    kit.fails("governance:execute", [p["proposal_id"]], "under threshold")
    kit.ok("governance:sign", [p["proposal_id"], kit.orgs["Inspection"].key_id, kit.sig("Inspection", body)], org="Inspection")
    kit.fails("governance:execute", [p["proposal_id"]], "under threshold")  # 2 of 5: no majority
    other = dict(admit_body(kit, record), nonce=body["nonce"])
    kit.fails("governance:propose", propose_args(kit, other, record), "replay")
    kit.fails("governance:propose", propose_args(kit, body, record), "duplicate")
    no_reg = admit_body(kit, node("orderer5.example.com"))
    p2 = kit.ok("governance:propose", propose_args(kit, no_reg, node("orderer5.example.com"), "Inspection"), org="Inspection")
    for org in ("UsingUnit", "Manufacturer", "Maintenance"):
        kit.ok("governance:sign", [p2["proposal_id"], kit.orgs[org].key_id, kit.sig(org, no_reg)], org=org)
    kit.fails("governance:execute", [p2["proposal_id"]], "role regulator")  # majority without the regulator
    kit.ok("governance:sign", [p["proposal_id"], kit.orgs["UsingUnit"].key_id, kit.sig("UsingUnit", body)], org="UsingUnit")
    kit.ok("governance:execute", [p["proposal_id"]])
    kit.fails("governance:execute", [p["proposal_id"]], "already executed")
    # removal: only a regulator's signature counts
    rm = kit.proposal("node_remove", contract=O4)
    p3 = kit.ok("governance:propose", propose_args(kit, rm, None, "Inspection"), org="Inspection")
    kit.fails("governance:execute", [p3["proposal_id"]], "under threshold")
    kit.fails("governance:propose", propose_args(kit, kit.proposal("node_remove", contract="nobody.example.com"), None),
              "not an active admitted node")
    # attestations: only an admin of an active member org
    tls = record["tls_cert_sha256"]
    kit.fails("governance:node_joined", [O4, CHANNEL, 7, tls], "admin", org="Inspection", admin=False)
    kit.fails("governance:node_joined", [O4, CHANNEL, 7, tls], "not an active member", org="Stranger")
    kit.fails("governance:node_joined", ["ghost.example.com", CHANNEL, 7, tls], "never admitted")
    kit.fails("governance:node_joined", [O4, "Bad_Channel", 7, tls], "channel")
    kit.fails("governance:node_joined", [O4, CHANNEL, -1, tls], "config_block_number")


def test_readmission_needs_new_certificates(kit: GovKit) -> None:
    admit(kit, node(O4))
    kit.fails("governance:propose", propose_args(kit, admit_body(kit, node(O4)), node(O4)), "already admitted and active")
    remove(kit, O4)
    old = node(O4)
    kit.fails("governance:propose", propose_args(kit, admit_body(kit, old), old), "never comes back")
    mixed = dict(node(O4, gen="2"), sign_cert_sha256=old["sign_cert_sha256"])
    kit.fails("governance:propose", propose_args(kit, admit_body(kit, mixed), mixed), "never comes back")
    stolen = dict(node("orderer5.example.com"), tls_cert_sha256=old["tls_cert_sha256"])
    kit.fails("governance:propose", propose_args(kit, admit_body(kit, stolen), stolen), "already admitted for node")
    admit(kit, node(O4, gen="2"))
    again = kit.ok("governance:node", [O4])
    assert again["status"] == "active" and again["tls_cert_sha256"] == node(O4, gen="2")["tls_cert_sha256"]
    assert [h["event"] for h in again["history"]] == ["admitted", "removed", "admitted"]


def test_installed_policy_without_node_rules_keeps_working() -> None:
    policies = GovKit.policies()
    ops = policies["governance"]["operations"]
    del ops["node_admit"], ops["node_remove"]
    with pytest.raises(InvalidInput, match="node_admit: missing"):
        validate_governance_policy(policies["governance"])
    kit = GovKit(bootstrap=False)
    # a ledger bootstrapped before the node operations existed (validator bypassed: old code installed it)
    import qcchain_contracts.policy_rules as policy_rules

    original = policy_rules.validate_governance_policy
    policy_rules.validate_governance_policy = lambda doc: None
    try:
        kit.ok("governance:bootstrap", [kit.members(), policies], org="Regulator")
    finally:
        policy_rules.validate_governance_policy = original
    for org in kit.orgs.values():
        kit.register_key(org)
    kit.passed(kit.proposal("deploy", contract="records", version="1", digest=fp("pkg")), MAJ)  # others keep working
    record = node(O4)
    kit.fails("governance:propose", propose_args(kit, admit_body(kit, record), record),
              "no rule for node_admit in the installed governance policy; update it with a policy_update proposal")
    current = GovKit.policies()["governance"]  # the fix: a policy_update installing the rules
    kit.passed(kit.proposal("policy_update", contract="governance", version="2", digest=digest(current)), MAJ,
               artifact=current)
    admit(kit, record)
    assert kit.ok("governance:node", [O4])["status"] == "active"


def test_malformed_values_are_named_not_echoed(kit: GovKit) -> None:
    """Review fix: refusals name the field but never echo the caller's value (it may be anything)."""
    marker = "SECRET<script>"
    good = node(O4)
    for field in ("org_msp", "kind"):
        bad = dict(good, **{field: marker})
        message = kit.fails("governance:propose", propose_args(kit, admit_body(kit, bad, O4), bad), field)
        assert marker not in message
    bad_id = dict(good, node_id=marker)
    message = kit.fails("governance:propose", propose_args(kit, admit_body(kit, bad_id, O4), bad_id), "node_id")
    assert marker not in message
    tls = good["tls_cert_sha256"]
    for args, needle in (([marker, CHANNEL, 7, tls], "node_id"), ([O4, marker, 7, tls], "channel_name")):
        message = kit.fails("governance:node_joined", args, needle)
        assert marker not in message
    assert "node_id" in kit.fails("governance:node", [marker], "not a node id")
    assert marker not in kit.fails("governance:node", [marker], "node_id")


def test_bounds_on_attestations_and_listing(kit: GovKit, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: the join/leave list per node and the ``nodes()`` scan are bounded (refusal writes nothing)."""
    import qcchain_contracts.noderegistry as nodes_mod
    import qcchain_contracts.store.nodes as node_store

    record = node(O4)
    admit(kit, record)
    monkeypatch.setattr(nodes_mod, "MAX_JOINS", 2)
    kit.ok("governance:node_joined", [O4, CHANNEL, 7, record["tls_cert_sha256"]])
    kit.ok("governance:node_left", [O4, CHANNEL, 8])
    kit.fails("governance:node_joined", [O4, CHANNEL, 9, record["tls_cert_sha256"]], "2 attestations")
    for i in (5, 6):
        admit(kit, node(f"orderer{i}.example.com"))
    assert len(kit.ok("governance:nodes", [])) == 3
    listed = node_store.list_nodes(kit.stub, limit=2)
    assert [n["node_id"] for n in listed] == [O4, "orderer5.example.com"]


def test_unencodable_and_oversized_values_are_invalid_input(kit: GovKit) -> None:
    """Review fix: a lone surrogate (valid JSON escape, not UTF-8) was a 500 UnicodeEncodeError; integers
    beyond 2**53-1 were stored although JSON readers lose their exactness."""
    good = node(O4)
    surrogate = dict(good, subject="CN=\ud800")
    body = kit.proposal("node_admit", contract=O4, digest=fp("any"))
    kit.fails("governance:propose", propose_args(kit, body, surrogate), "artifact cannot be encoded as canonical JSON")
    assert kit.call("governance:propose", propose_args(kit, body, surrogate)).status == 400
    bad_reason = dict(admit_body(kit, good), reason="\udfff")
    kit.fails("governance:propose", [bad_reason, good, kit.orgs["Regulator"].key_id, "00"],
              "proposal cannot be encoded as canonical JSON")
    huge = dict(good, not_after=10**30)
    kit.fails("governance:propose", propose_args(kit, admit_body(kit, huge), huge), "not_after must be at most")
    admit(kit, good)
    kit.fails("governance:node_joined", [O4, CHANNEL, 2**60, good["tls_cert_sha256"]], "config_block_number")


def test_control_characters_in_subject_refused(kit: GovKit) -> None:
    """Review fix: subject / issuer are printed by ``qcchain nodes show``; an ESC sequence is refused."""
    good = node(O4)
    for field in ("subject", "issuer"):
        bad = dict(good, **{field: "CN=x\x1b[2J"})
        kit.fails("governance:propose", propose_args(kit, admit_body(kit, bad), bad), f"{field} must be 1..512 printable")
