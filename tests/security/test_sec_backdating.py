"""Finding 2 (T-5.2a): the endorsing chaincode refuses a proposal dated further than the governance policy's
``max_clock_skew_seconds`` from its server's clock, so an expired grant or a revoked key cannot be used by
backdating; the check is configured by the chaincode's entry point, which the devnet runs too."""

from __future__ import annotations

import base64
import os
from types import SimpleNamespace
from typing import Any

import pytest

import qcchain_contracts.__main__ as entry
from qcchain_contracts import clock
from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3

from govkit import GovKit, policy
from seckit import call_at, full_kit, server_clock, signed, state_snapshot

HD = {"record_id": "r-hd", "category": "hidden_danger", "equipment_code": "EQ1", "stage": "use",
      "owner_msp": "UsingUnitMSP", "grade": "L3", "digest": "a" * 64, "version": 1, "deleted": False,
      "placement": "private_encrypted"}


@pytest.fixture()
def kit() -> GovKit:
    k = full_kit()
    k.stub.state[""][k.stub.create_composite_key("rec", ["r-hd"])] = canonical_json(HD)
    return k


def _grant(kit: GovKit, ttl: int) -> None:
    wrapped = kit.orgs["Maintenance"].key.public_key().encrypt(os.urandom(16))
    item = {"record_id": "r-hd", "key_id": kit.orgs["Maintenance"].key_id, "wrapped_key": base64.b64encode(wrapped).decode()}
    kit.ok("sharing:grant", signed(kit, "UsingUnit", "grant", grant_id="g1", grantee_msp="MaintenanceMSP",
                                   scope={"type": "record", "value": "r-hd"}, max_grade="L3", purpose="maintenance",
                                   expires_at=kit.now + ttl, wrapped_keys=[item]), org="UsingUnit")


def _refused_at(kit: GovKit, fn: str, args: list[Any], tx_time: int, contains: str, org: str) -> str:
    before = state_snapshot(kit)
    response = call_at(kit, fn, args, tx_time, org=org)
    assert not response.ok, f"{fn} dated {tx_time} (clock {kit.now}) was accepted"
    assert contains in response.message, response.message
    assert kit.stub.last_writes == {} and state_snapshot(kit) == before
    return response.message


def test_an_expired_grant_cannot_be_used_by_backdating(kit: GovKit) -> None:
    with server_clock(kit):
        _grant(kit, ttl=600)
        expires = kit.now + 599
        kit.tick(3600)  # the grant expired an hour ago
        args = signed(kit, "Maintenance", "access", record_id="r-hd", purpose="maintenance", nonce="backdated01")
        message = _refused_at(kit, "sharing:access", args, expires - 100, "behind the endorsing peer's clock", "Maintenance")
        assert "tolerance 300 s" in message and "\n" not in message
        # records:get (an evaluate) is bounded the same way
        assert not call_at(kit, "records:get", ["r-hd"], expires - 100, org="Maintenance").ok


def test_a_revoked_key_cannot_sign_by_backdating(kit: GovKit) -> None:
    with server_clock(kit):
        revoked_at = kit.now + 1
        kit.ok("keys:revoke", [kit.orgs["Inspection"].key_id, "compromised"], org="Inspection")
        kit.tick(1000)
        body = kit.proposal("freeze", contract="records")
        args = [body, {}, kit.orgs["Inspection"].key_id, kit.sig("Inspection", body)]
        _refused_at(kit, "governance:propose", args, revoked_at - 5, "behind the endorsing peer's clock", "Inspection")
        _refused_at(kit, "keys:get", [kit.orgs["Inspection"].key_id], revoked_at - 5, "behind", "Inspection")


def test_post_dated_proposals_are_refused_and_the_tolerance_is_inclusive(kit: GovKit) -> None:
    with server_clock(kit):
        _refused_at(kit, "governance:members", [], kit.now + 301, "ahead of the endorsing peer's clock", "Regulator")
        assert call_at(kit, "governance:members", [], kit.now + 300, org="Regulator").ok
        assert call_at(kit, "governance:members", [], kit.now - 300, org="Regulator").ok


def test_the_tolerance_is_governance_policy_data(kit: GovKit) -> None:
    doc = dict(policy("governance"), max_clock_skew_seconds=60)
    digest = sm3(canonical_json(doc)).hex()
    kit.passed(kit.proposal("policy_update", contract="governance", version="2", digest=digest),
               signers=["Regulator", "Inspection", "UsingUnit"], artifact=doc)
    with server_clock(kit):
        assert clock.max_skew(kit.stub) == 60
        _refused_at(kit, "governance:members", [], kit.now - 100, "tolerance 60 s", "Regulator")
        assert call_at(kit, "governance:members", [], kit.now - 50, org="Regulator").ok


@pytest.mark.parametrize("value", [0, -1, 3601, True, "300", 1.5])
def test_a_policy_with_an_unusable_tolerance_is_refused(kit: GovKit, value: Any) -> None:
    doc = dict(policy("governance"), max_clock_skew_seconds=value)
    body = kit.proposal("policy_update", contract="governance", version="2", digest=sm3(canonical_json(doc)).hex())
    kit.fails("governance:propose", [body, doc, kit.orgs["Regulator"].key_id, kit.sig("Regulator", body)],
              "max_clock_skew_seconds: must be 1..3600 seconds")


def test_the_shipped_policy_sets_the_tolerance() -> None:
    assert policy("governance")["max_clock_skew_seconds"] == 300


def test_the_chaincode_entry_point_turns_the_check_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m qcchain_contracts`` (native Fabric CCaaS and the devnet's chaincode process) reads the clock."""
    import qcchain_shim
    import qcchain_shim.server

    seen: dict[str, Any] = {}
    monkeypatch.setattr(qcchain_shim.server, "config_from_env", lambda: SimpleNamespace(chaincode_id="dev-1"))
    monkeypatch.setattr(qcchain_shim, "serve", lambda contracts, config: seen.update(on=clock.clock_configured()))
    try:
        entry.main()
    finally:
        clock.configure_clock(None)
    assert seen == {"on": True}
