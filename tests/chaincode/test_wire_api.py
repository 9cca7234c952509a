"""Stub calls that travel as their own message types: private data, hashes, purge, key metadata, pagination."""

from __future__ import annotations

import json

from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage
from fakepeer import connected_peer, watch

from qcchain_shim import Context, Contract, transaction

M = ChaincodeMessage


class Wire(Contract):
    @transaction
    def private_put(self, ctx: Context, key: str, value: str) -> None:
        ctx.stub.put_private_data("collectionL3", key, value.encode())
        ctx.stub.set_state_validation_parameter(key, b"policy-bytes")

    @transaction
    def private_read(self, ctx: Context, key: str) -> dict:
        return {
            "value": ctx.stub.get_private_data("collectionL3", key).decode(),
            "hash": ctx.stub.get_private_data_hash("collectionL3", key).hex(),
            "ep": ctx.stub.get_state_validation_parameter(key).decode(),
        }

    @transaction
    def purge(self, ctx: Context, key: str) -> None:
        ctx.stub.purge_private_data("collectionL3", key)

    @transaction
    def page(self, ctx: Context, size: int, bookmark: str = "") -> dict:
        it, meta = ctx.stub.get_state_by_range_with_pagination("", "", size, bookmark)
        with it:
            keys = [kv.key for kv in it]
        return {"keys": keys, "count": meta.fetched_records_count, "bookmark": meta.bookmark}

    @transaction
    def seed(self, ctx: Context, n: int) -> None:
        for i in range(n):
            ctx.stub.put_state(f"k{i}", b"v")


def test_private_data_metadata_and_purge_on_the_wire() -> None:
    import hashlib

    with connected_peer([Wire()], collections=["collectionL3"]) as peer:
        first = peer.submit(["private_put", "p1", "secret"])
        assert first.ok
        assert peer.committed_private("collectionL3", "p1") == b"secret"
        out = json.loads(peer.submit(["private_read", "p1"]).response.payload)
        assert out == {"value": "secret", "hash": hashlib.sha256(b"secret").hexdigest(), "ep": "policy-bytes"}
        purge = peer.submit_async(["purge", "p1"])
        assert purge.result(5).ok and peer.committed_private("collectionL3", "p1") is None


def test_pagination_and_query_close_on_the_wire() -> None:
    with connected_peer([Wire()]) as peer:
        assert peer.submit(["seed", "5"]).ok
        first = json.loads(peer.submit(["page", "3"]).response.payload)
        assert first == {"keys": ["k0", "k1", "k2"], "count": 3, "bookmark": "k3"}
        second = json.loads(peer.submit(["page", "3", first["bookmark"]]).response.payload)
        assert second == {"keys": ["k3", "k4"], "count": 2, "bookmark": ""}
        seen = watch(peer, M.QUERY_STATE_NEXT, M.QUERY_STATE_CLOSE)  # record, then answer normally
        assert peer.submit(["page", "3"]).ok
        assert [m.type for m in seen] == [M.QUERY_STATE_NEXT, M.QUERY_STATE_CLOSE]  # batches of 2: one NEXT, then CLOSE on exit
