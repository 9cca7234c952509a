"""Finding 8b: an executed proposal stores the rule, the governance policy (version, digest) and the members
in force when it executed, so the auditor re-checks the threshold against those, not against today's."""

from __future__ import annotations

from qcchain_contracts.lifecycle import threshold_met
from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3

from govkit import policy
from seckit import full_kit


def test_the_threshold_in_force_at_execution_is_stored_and_rechecks() -> None:
    kit = full_kit()
    executed = kit.passed(kit.proposal("deploy", contract="scratch", version="1", digest="d" * 64),
                          signers=["Regulator", "Inspection", "UsingUnit"])
    before = kit.ok("governance:policy", ["governance"])
    stored = executed["threshold"]
    assert stored["rule"] == {"rule": "MAJORITY", "require_roles": ["regulator"]}
    assert (stored["policy_version"], stored["policy_digest"]) == (before["version"], before["digest"])
    assert {m["msp_id"] for m in stored["members"]} == {o.msp for o in kit.orgs.values()}
    # today's policy needs every org to deploy; the stored rule is what counted then
    doc = dict(policy("governance"))
    doc["operations"] = dict(doc["operations"], deploy={"rule": "ALL"})
    kit.passed(kit.proposal("policy_update", contract="governance", version="2", digest=sm3(canonical_json(doc)).hex()),
               signers=["Regulator", "Inspection", "UsingUnit"], artifact=doc)
    log = {e["proposal_id"]: e for e in kit.ok("audit:lifecycle_log", [])}
    entry = log[executed["proposal_id"]]
    assert entry["threshold"] == stored
    assert threshold_met(stored["rule"], stored["members"], set(entry["counted_signers"]))[0]
    assert not threshold_met({"rule": "ALL"}, stored["members"], set(entry["counted_signers"]))[0]


def test_a_policy_update_stores_the_policy_it_replaced() -> None:
    kit = full_kit()
    old = kit.ok("governance:policy", ["governance"])
    doc = dict(policy("governance"), max_proposal_lifetime=86400)
    done = kit.passed(kit.proposal("policy_update", contract="governance", version="2", digest=sm3(canonical_json(doc)).hex()),
                      signers=["Regulator", "Inspection", "UsingUnit"], artifact=doc)
    assert done["threshold"]["policy_digest"] == old["digest"] != kit.ok("governance:policy", ["governance"])["digest"]
