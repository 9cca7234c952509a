"""Bad input through the protocol: error responses with clear messages; the server keeps serving."""

from __future__ import annotations

import grpc
import pytest
from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage
from fakepeer import PeerDriver, connected_peer, running_server
from rawstream import RawStream, raw_transaction

from qcchain_shim.contract import MAX_ARGS_BYTES
from qcchain_bench.example import KVContract

M = ChaincodeMessage


def test_malformed_transaction_payload_answers_error_then_serves() -> None:
    with running_server([KVContract()]) as (_, address), RawStream(address) as stream:
        stream.handshake()
        bad = raw_transaction("bad", [b"ignored"])
        bad.payload = b"\xff\xff\xff garbage"
        stream.send(bad)
        reply = stream.recv()
        assert reply is not None and reply.type == M.ERROR and b"failed to unmarshal input" in reply.payload
        stream.send(raw_transaction("after", [b"org.hyperledger.fabric:GetMetadata"]))
        done = stream.recv()
        assert done is not None and done.type == M.COMPLETED


def test_malformed_proposal_answers_error() -> None:
    with running_server([KVContract()]) as (_, address), RawStream(address) as stream:
        stream.handshake()
        msg = raw_transaction("badprop", [b"get", b"a"])
        msg.proposal.proposal_bytes = b"\x0a\xff"
        stream.send(msg)
        reply = stream.recv()
        assert reply is not None and reply.type == M.ERROR and b"proposal" in reply.payload


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nope"], "function 'nope' is not defined in contract 'kv'"),
        (["put", "only-key"], "put expects 2 arguments, got 1"),
        (["put", b"\xc3\x28", "v"], "parameter 'key': invalid UTF-8"),
        (["put", "k", "x" * (MAX_ARGS_BYTES + 1)], "arguments too large"),
        ([b"\xff"], "function name is not valid UTF-8"),
        ([], "no function name"),
        (["missing:put", "k", "v"], "contract 'missing' does not exist"),
    ],
)
def test_bad_arguments(args: list, needle: str) -> None:
    with connected_peer([KVContract()]) as peer:
        result = peer.submit(args)
        assert result.response is not None and result.response.status == 400
        assert needle in result.response.message
        assert peer.committed_keys() == []
        assert peer.submit(["put", "a", "1"]).ok


def test_duplicate_txid_in_flight_refused() -> None:
    with running_server([KVContract()]) as (_, address), RawStream(address) as stream:
        stream.handshake()
        msg = raw_transaction("dup", [b"get", b"k"])
        stream.send(msg)
        request = stream.recv()  # the chaincode asks GET_STATE; left unanswered, the transaction stays in flight
        assert request is not None and request.type == M.GET_STATE
        stream.send(msg)
        refused = stream.recv()
        assert refused is not None and refused.type == M.ERROR and b"already in progress" in refused.payload
        stream.send(M(type=M.RESPONSE, payload=b"v", txid="dup", channel_id="mychannel"))
        done = stream.recv()  # the first one still completes
        assert done is not None and done.type == M.COMPLETED and done.txid == "dup"


def test_garbage_frames_do_not_stop_the_server() -> None:
    with running_server([KVContract()]) as (_, address):
        channel = grpc.insecure_channel(address)
        connect = channel.stream_stream(
            "/protos.Chaincode/Connect", request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        call = connect(iter([b"\xff\xff\xff\xff not a protobuf"]))
        with pytest.raises(grpc.RpcError):
            for _ in call:
                pass
        channel.close()
        peer = PeerDriver(address)
        try:
            peer.connect()
            assert peer.submit(["put", "a", "1"]).ok
        finally:
            peer.close()
