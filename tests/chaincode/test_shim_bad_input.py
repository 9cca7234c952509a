"""Bad input through the protocol: error responses with clear messages; the server keeps serving."""

from __future__ import annotations

import grpc
import pytest
from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage
from fakepeer import connected_peer, running_server

from qcchain_shim.contract import MAX_ARGS_BYTES
from qcchain_bench.example import KVContract

M = ChaincodeMessage


def test_malformed_transaction_payload_answers_error_then_serves() -> None:
    with connected_peer([KVContract()]) as peer:
        result = peer.submit(["ignored"], payload=b"\xff\xff\xff garbage")
        assert result.message.type == M.ERROR and b"failed to unmarshal input" in result.message.payload
        assert peer.submit(["put", "a", "1"]).ok


def test_malformed_proposal_answers_error() -> None:
    with connected_peer([KVContract()]) as peer:
        fut = peer.submit_async(["get", "a"], tx_id="badprop")
        assert fut.result(5)  # baseline works
        from qcchain_bench.peerstate import build_transaction

        msg = build_transaction("mychannel", "badprop2", [b"get", b"a"], {}, b"", M.TRANSACTION)
        msg.proposal.proposal_bytes = b"\x0a\xff"
        from qcchain_bench.peerdriver import _Pending, TxSim

        pending = _Pending(TxSim("badprop2"))
        peer._pending["badprop2"] = pending
        peer.send_raw(msg)
        result = pending.future.result(5)
        assert result.message.type == M.ERROR and b"proposal" in result.message.payload


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
        assert peer.state.data == {"": {}}
        assert peer.submit(["put", "a", "1"]).ok


def test_duplicate_txid_in_flight_refused() -> None:
    with connected_peer([KVContract()]) as peer:
        hold: list[ChaincodeMessage] = []

        def park(msg: ChaincodeMessage, sim: object) -> ChaincodeMessage | None:
            if not hold:
                hold.append(msg)
                return M(type=M.RESPONSE, payload=b"", txid=msg.txid, channel_id=msg.channel_id)
            return None

        from qcchain_bench.peerstate import build_transaction

        peer.overrides[M.GET_STATE] = park
        first = peer.submit_async(["put", "k", "v"], tx_id="dup")
        first.result(5)
        # a second TRANSACTION with the same id while none is in flight is fine; while in flight it is refused:
        peer.overrides.clear()
        msg = build_transaction("mychannel", "dup", [b"get", b"k"], {}, b"", M.TRANSACTION)
        peer.send_raw(msg)
        peer.send_raw(msg)
        import time

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(m.type == M.ERROR for m in peer.unexpected):
            time.sleep(0.01)
        errors = [m for m in peer.unexpected if m.type == M.ERROR]
        assert errors and b"already in progress" in errors[0].payload


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
        from fakepeer import PeerDriver

        peer = PeerDriver(address)
        try:
            peer.wait_ready()
            assert peer.submit(["put", "a", "1"]).ok
        finally:
            peer.close()
