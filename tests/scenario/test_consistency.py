"""Unit tests of :mod:`qcchain_network.consistency` (what makes multi-org flows read their writes on real
Fabric): no Fabric needed -- each org's peer is a fake whose channel height advances as blocks arrive."""

from __future__ import annotations

from typing import Any

import pytest

from fabric_protos.common import ledger_pb2
from qcchain_network.consistency import ChannelHeights, PeersBehind, SyncedContract

pytestmark = pytest.mark.timeout(30)


class FakePeer:
    """qscc of one org's gateway peer; ``lag`` evaluates pass before it catches up with ``target``."""

    def __init__(self, height: int, lag: int = 0) -> None:
        self.height, self.lag, self.calls = height, lag, 0

    def get_network(self, channel: str) -> "FakePeer":
        return self

    def get_contract(self, name: str) -> "FakePeer":
        assert name == "qscc"
        return self

    def evaluate_transaction(self, fn: str, channel: str) -> bytes:
        assert (fn, channel) == ("GetChainInfo", "qcchannel")
        self.calls += 1
        if self.lag and self.calls > self.lag:
            self.height += 1
        return ledger_pb2.BlockchainInfo(height=self.height).SerializeToString()


class Status:
    def __init__(self, block: int, code: int = 0) -> None:
        self.block_number, self.code = block, code

    def raise_for_status(self) -> None:
        if self.code:
            raise RuntimeError(f"validation code {self.code}")


class FakeContract:
    def __init__(self, block: int, code: int = 0) -> None:
        self.block, self.code = block, code
        self.submitted: list[Any] = []

    def submit_async(self, name: str, args: tuple, transient: Any, endorsers: Any) -> "FakeContract":
        self.submitted.append((name, args, transient, endorsers))
        return self

    def get_status(self) -> Status:
        return Status(self.block, self.code)

    def get_result(self) -> bytes:
        return b"ok"

    def evaluate_transaction(self, name: str, *args: Any) -> bytes:
        return b"read"


def test_submit_returns_only_after_every_org_has_the_block() -> None:
    peers = {"Regulator": FakePeer(8), "Inspection": FakePeer(7, lag=3), "UsingUnit": FakePeer(6, lag=2)}
    heights = ChannelHeights("qcchannel", peers, timeout=5)
    contract = SyncedContract(FakeContract(block=7), heights)
    assert contract.submit_transaction("records:submit", "a", transient={"k": b"v"}) == b"ok"
    assert {org: p.height for org, p in peers.items()} == {"Regulator": 8, "Inspection": 8, "UsingUnit": 8}
    assert peers["Inspection"].calls >= 4  # it was asked again until it had block 7
    assert contract.evaluate_transaction("records:get", "a") == b"read"


def test_peer_that_never_catches_up_is_named() -> None:
    peers = {"Regulator": FakePeer(9), "Maintenance": FakePeer(3)}
    heights = ChannelHeights("qcchannel", peers, timeout=0.3)
    with pytest.raises(PeersBehind, match="Maintenance did not commit block 5 of qcchannel") as info:
        SyncedContract(FakeContract(block=5), heights).submit_transaction("governance:propose", "{}")
    assert isinstance(info.value, TimeoutError) and "Regulator" not in str(info.value)


def test_invalid_transaction_raises_without_waiting() -> None:
    peers = {"Regulator": FakePeer(1)}
    with pytest.raises(RuntimeError, match="validation code 11"):
        SyncedContract(FakeContract(block=4, code=11), ChannelHeights("qcchannel", peers, 5)).submit_transaction("x")
    assert peers["Regulator"].calls == 0
