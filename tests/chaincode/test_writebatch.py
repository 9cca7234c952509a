"""Fabric v3.1 write batches and multi-key reads: the READY capabilities, the batch itself, the stub API on
MockStub, and the wire through a fake peer (``WRITE_BATCH_STATE`` / ``GET_STATE_MULTIPLE`` messages)."""

from __future__ import annotations

import json

import pytest
from fabric_protos.peer.chaincode_pb2 import ChaincodeAdditionalParams
from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage, WriteBatchState, WriteRecord
from fakepeer import connected_peer, watch

from qcchain_shim import ChaincodeError, Context, Contract, transaction
from qcchain_shim.errors import InvalidArgumentError, InvalidKeyError
from qcchain_bench.example import KVContract
from qcchain_shim.testing import MockStub
from qcchain_shim.writebatch import FABRIC_3_1, MIN_BATCH, PeerCapabilities, WriteBatch, chunks

M = ChaincodeMessage


class Batched(Contract):
    name = "batched"
    write_batch = True

    @transaction
    def write(self, ctx: Context, count: int) -> None:
        for i in range(count):
            ctx.stub.put_state(f"k{i}", b"v")
        ctx.stub.set_state_validation_parameter("k0", b"policy")

    @transaction
    def write_then_fail(self, ctx: Context) -> None:
        ctx.stub.put_state("written", b"v")
        raise ChaincodeError("refused after writing", status=403)

    @transaction
    def overwrite(self, ctx: Context) -> None:
        ctx.stub.put_state("a", b"1")
        ctx.stub.put_state("b", b"2")
        ctx.stub.del_state("a")
        ctx.stub.put_state("b", b"3")

    @transaction(evaluate=True)
    def batch_open(self, ctx: Context) -> bool:
        return ctx.stub.write_batch_open

    @transaction
    def paged_then_write(self, ctx: Context) -> None:
        it, _ = ctx.stub.get_state_by_range_with_pagination("", "", 2)
        list(it)
        ctx.stub.put_state("after-page", b"v")


# ---- READY capabilities ------------------------------------------------------------------------
def test_capabilities_follow_the_go_shim_rules() -> None:
    assert PeerCapabilities.from_ready_payload(b"") == PeerCapabilities()
    assert PeerCapabilities.from_ready_payload(b"\xff\xff\xff") == PeerCapabilities()  # undecodable: none
    small = ChaincodeAdditionalParams(use_write_batch=True, max_size_write_batch=5, use_get_multiple_keys=True,
                                      max_size_get_multiple_keys=0).SerializeToString()
    assert PeerCapabilities.from_ready_payload(small) == PeerCapabilities(True, MIN_BATCH, True, MIN_BATCH)
    off = ChaincodeAdditionalParams(use_write_batch=False, max_size_write_batch=7).SerializeToString()
    assert PeerCapabilities.from_ready_payload(off) == PeerCapabilities(False, 7, False, 0)
    assert PeerCapabilities.from_ready_payload(FABRIC_3_1.to_ready_payload()) == FABRIC_3_1 == PeerCapabilities(
        True, 1000, True, 1000)


def test_batch_keeps_the_last_write_per_slot_in_first_write_order() -> None:
    batch = WriteBatch()
    batch.put("", "a", b"1")
    batch.put("c1", "a", b"private")
    batch.put_metadata("", "a", "VALIDATION_PARAMETER", b"p1")
    batch.put_metadata("", "a", "OTHER", b"o")
    batch.delete("", "a")
    batch.put_metadata("", "a", "VALIDATION_PARAMETER", b"p2")
    batch.purge("c1", "a")
    recs = batch.records()
    assert [(r.collection, r.key, r.type) for r in recs] == [
        ("", "a", WriteRecord.DEL_STATE), ("c1", "a", WriteRecord.PURGE_PRIVATE_DATA),
        ("", "a", WriteRecord.PUT_STATE_METADATA), ("", "a", WriteRecord.PUT_STATE_METADATA)]
    assert [(r.metadata.metakey, r.metadata.value) for r in recs[2:]] == [("VALIDATION_PARAMETER", b"p2"), ("OTHER", b"o")]
    assert list(chunks(list(range(5)), 2)) == [[0, 1], [2, 3], [4]]
    assert list(chunks([], 3)) == [] and list(chunks([1, 2], 0)) == [[1, 2]]


# ---- the stub API on MockStub (answers as a Fabric v3.1 peer) ------------------------------------
def test_mockstub_sends_one_batch_and_commits_it() -> None:
    stub = MockStub()
    assert stub.submit([Batched], "write", ["3"]).ok
    assert stub.batches_sent == [4]  # 3 puts + 1 metadata record, in one batch
    assert stub.state[""] == {"k0": b"v", "k1": b"v", "k2": b"v"}
    assert stub.get_state_validation_parameter("k0") == b"policy"
    assert stub.submit([Batched], "overwrite").ok
    assert stub.state[""].get("a") is None and stub.state[""]["b"] == b"3" and stub.batches_sent[-1] == 2
    assert stub.invoke([Batched], "batch_open").payload == b"false"  # evaluate transactions open no batch


def test_mockstub_refused_transaction_still_shows_its_batched_writes() -> None:
    stub = MockStub()
    response = stub.invoke([Batched], "write_then_fail")
    assert response.status == 403 and not stub.pending
    assert stub.last_writes == {("", "written"): b"v"}  # write-before-refuse stays detectable


def test_mockstub_as_an_older_peer_writes_one_by_one_with_the_same_result() -> None:
    stub = MockStub()
    stub.peer_capabilities = PeerCapabilities()
    assert stub.submit([Batched], "write", ["3"]).ok
    assert stub.batches_sent == [] and stub.state[""] == {"k0": b"v", "k1": b"v", "k2": b"v"}


def test_get_multiple_states_keeps_order_and_checks_keys() -> None:
    stub = MockStub()
    stub.state[""].update({"a": b"1", "c": b"3"})
    stub.state["col"] = {"x": b"private"}
    assert stub.get_multiple_states(["c", "missing", "a"]) == [b"3", b"", b"1"]
    assert stub.get_multiple_states([]) == []
    assert stub.get_multiple_private_data("col", ["x", "y"]) == [b"private", b""]
    with pytest.raises(InvalidKeyError):
        stub.get_multiple_states(["a", ""])
    with pytest.raises(InvalidArgumentError, match="list of str"):
        stub.get_multiple_states("a")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="collection"):
        stub.get_multiple_private_data("", ["x"])


# ---- on the wire, through a fake peer -----------------------------------------------------------
def test_batch_goes_in_write_batch_messages_of_at_most_the_peer_maximum() -> None:
    caps = PeerCapabilities(True, 100, True, 100)
    with connected_peer([KVContract()], capabilities=caps) as peer:
        seen = watch(peer, M.WRITE_BATCH_STATE, M.PUT_STATE)
        result = peer.submit(["put_batch", "p", "250"])
        assert result.ok and result.response.payload == b"250"
        sizes = [len(WriteBatchState.FromString(m.payload).rec) for m in seen]
        assert [m.type for m in seen] == [M.WRITE_BATCH_STATE] * 3 and sizes == [100, 100, 50]
        assert peer.committed("p-249") == b"249" and len([k for k in peer.committed_keys() if k.startswith("p-")]) == 250
        seen.clear()
        got = peer.submit(["get_many", json.dumps(["p-0", "nope", "p-249"])])
        assert got.ok and json.loads(got.response.payload) == ["0", "", "249"]


def test_get_many_reads_in_chunks_of_the_peer_maximum() -> None:
    with connected_peer([KVContract()], capabilities=PeerCapabilities(True, 100, True, 100)) as peer:
        peer.seed({f"k{i}": str(i).encode() for i in range(150)})
        seen = watch(peer, M.GET_STATE_MULTIPLE, M.GET_STATE)
        got = peer.submit(["get_many", json.dumps([f"k{i}" for i in range(150)])])
        assert got.ok and json.loads(got.response.payload) == [str(i) for i in range(150)]
        assert [m.type for m in seen] == [M.GET_STATE_MULTIPLE, M.GET_STATE_MULTIPLE]


def test_older_peer_gets_one_request_per_key() -> None:
    with connected_peer([KVContract()], capabilities=PeerCapabilities()) as peer:
        seen = watch(peer, M.WRITE_BATCH_STATE, M.PUT_STATE, M.GET_STATE_MULTIPLE, M.GET_STATE)
        assert peer.submit(["put_batch", "q", "3"]).ok
        assert peer.submit(["get_many", json.dumps(["q-0", "q-2"])]).ok
        assert [m.type for m in seen] == [M.PUT_STATE] * 3 + [M.GET_STATE] * 2


def test_refused_batch_fails_the_transaction_with_error() -> None:
    with connected_peer([Batched()], capabilities=FABRIC_3_1) as peer:
        peer.seed({"a": b"1", "b": b"2", "c": b"3"})
        result = peer.submit(["paged_then_write"])
        assert result.message.type == M.ERROR
        assert b"failed send batch" in result.message.payload and b"paginated query" in result.message.payload
        assert peer.committed("after-page") is None
        assert peer.submit(["write", "1"]).ok  # the stream keeps serving
