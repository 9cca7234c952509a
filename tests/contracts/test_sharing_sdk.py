"""The SDK's typed sharing/grading clients against the real contracts (MockStub behind a fake transport)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from qcchain_sdk.contracts.grading import GradingClient
from qcchain_gateway.errors import SdkError
from qcchain_sdk.contracts.sharing import SharingClient, unwrap_data_key, verify_trail, wrap_data_key
from qcchain_contracts.grading import Grading
from qcchain_contracts.sharing import Sharing

from govkit import CHANNEL, GovKit, cert_pem
from test_sharing_contract import seed_records


class TransportError(SdkError, RuntimeError):
    """Stands in for the gateway's EndorseError in these tests."""


class FakeContract:
    """The transport boundary: what ``qcchain_gateway.contract.Contract`` would send, run on MockStub."""

    def __init__(self, kit: GovKit, org: str) -> None:
        self.kit, self.org, self.channel = kit, org, CHANNEL

    def _run(self, name: str, args: tuple[Any, ...]) -> bytes:
        msp = self.kit.orgs[self.org].msp
        raw = [a if isinstance(a, (str, bytes)) else json.dumps(a) for a in args]
        response = self.kit.stub.submit(self.kit.contracts, name, raw, creator=(msp, cert_pem(msp, True)), tx_time=self.kit.tick())
        if not response.ok:
            raise TransportError(response.message)
        return bytes(response.payload)

    evaluate_transaction = lambda self, name, *args: self._run(name, args)  # noqa: E731
    submit_transaction = lambda self, name, *args, **kw: self._run(name, args)  # noqa: E731


@pytest.fixture()
def kit() -> GovKit:
    k = GovKit(extra_contracts=(Sharing(), Grading()))
    seed_records(k)
    return k


def client(kit: GovKit, org: str) -> SharingClient:
    return SharingClient.with_key(FakeContract(kit, org), kit.orgs[org].key)


def test_request_approve_access_and_trail_verification(kit: GovKit) -> None:
    manufacturer, owner = client(kit, "Manufacturer"), client(kit, "UsingUnit")
    g = manufacturer.request("UsingUnitMSP", ("record", "r-hd"), "L3", "maintenance", kit.now + 3600)
    data_key = os.urandom(16)
    grantee_key = kit.orgs["Manufacturer"].key
    owner.approve(g["grant_id"], [wrap_data_key("r-hd", data_key, grantee_key.public_key())])
    out = manufacturer.access("r-hd", "maintenance")
    assert unwrap_data_key(out["wrapped_key"], grantee_key) == data_key
    with pytest.raises(ValueError, match="not this private key"):
        unwrap_data_key(out["wrapped_key"], kit.orgs["UsingUnit"].key)
    stored = owner.get(g["grant_id"])
    keys = {o.key_id: o.key.public_key() for o in kit.orgs.values()}
    assert verify_trail(stored, keys) == []
    tampered = json.loads(json.dumps(stored))
    tampered["trail"][0]["body"]["max_grade"] = "L4"
    assert verify_trail(tampered, keys) == ["step 0 (request): signature does not verify"]
    assert [e["record_id"] for e in owner.access_log("r-hd")] == ["r-hd"]
    assert owner.list_grants("approved")[0]["uses"] == 1
    assert owner.check()["findings"] == []
    with pytest.raises(TransportError, match="is approved; reject needs requested"):
        owner.reject(g["grant_id"])
    owner.revoke(g["grant_id"], "done")
    with pytest.raises(TransportError, match="holds no grant"):
        manufacturer.access("r-hd", "maintenance")


def test_direct_grant_and_grading_client(kit: GovKit) -> None:
    g = client(kit, "UsingUnit").grant("InspectionMSP", ("category", "hidden_danger"), "L3", "inspection",
                                        kit.now + 3600, max_uses=1, grant_id="g-direct")
    assert g["status"] == "approved" and g["max_uses"] == 1
    grading = GradingClient(FakeContract(kit, "UsingUnit"))
    decision = grading.decide("hidden_danger", "using_unit", "report", "regulator")
    assert decision.grade == "L3" and "owner" in decision.audiences
    assert len(grading.categories()) == 21
