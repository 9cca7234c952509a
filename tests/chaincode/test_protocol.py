"""The ten FABRIC-NOTES items and the handler state machine, driven through a fake peer over gRPC."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest
from certs import make_cert
from fabric_protos.peer.chaincode_pb2 import ChaincodeSpec
from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage, GetStateByRange
from fakepeer import connected_peer, running_server, watch
from rawstream import RawStream, raw_transaction

from qcchain_bench.example import KVContract
from qcchain_devnet.errors import SimulationError
from qcchain_shim import ChaincodeError, Context, Contract, Response, transaction
from qcchain_shim.testing import serialize_identity

M = ChaincodeMessage


class Probe(Contract):
    name = "probe"

    @transaction
    def boom(self, ctx: Context) -> None:
        ctx.stub.set_event("never", b"x")
        raise KeyError("kaput")

    @transaction
    def paged_then_write(self, ctx: Context) -> None:
        it, _ = ctx.stub.get_state_by_range_with_pagination("", "", 2)
        list(it)
        ctx.stub.put_state("after-page", b"v")

    @transaction
    def read(self, ctx: Context, key: str) -> bytes:
        return ctx.stub.get_state(key)

    @transaction
    def call_other(self, ctx: Context) -> dict:
        r = ctx.stub.invoke_chaincode("other", [b"fn", b"a1"], "ch2")
        return {"status": r.status, "message": r.message, "payload": r.payload.decode()}

    @transaction
    def transient(self, ctx: Context) -> dict:
        t = ctx.stub.get_transient()
        return {k: v.decode() for k, v in sorted(t.items())}

    @transaction
    def whoami(self, ctx: Context) -> dict:
        ts = ctx.stub.get_tx_timestamp()
        return {"msp": ctx.client_identity.msp_id, "secs": ts.seconds, "binding": len(ctx.stub.get_binding())}

    @transaction
    def scan(self, ctx: Context) -> list:
        with ctx.stub.get_state_by_range("", "") as it:
            return [kv.key for kv in it]

    @transaction
    def bad_key(self, ctx: Context, which: str) -> None:
        if which == "empty":
            ctx.stub.put_state("", b"v")
        else:
            list(ctx.stub.get_state_by_range("\x00x", ""))

    @transaction
    def composite(self, ctx: Context) -> list:
        ctx.stub.put_state(ctx.stub.create_composite_key("rec", ["a", "1"]), b"c1")
        with ctx.stub.get_state_by_partial_composite_key("rec", ["a"]) as it:
            return [ctx.stub.split_composite_key(kv.key)[1] for kv in it]

    @transaction
    def history(self, ctx: Context, key: str) -> list:
        return [h.is_delete for h in ctx.stub.get_history_for_key(key)]


CONTRACTS = [KVContract(), Probe()]


def test_1_event_travels_in_completed() -> None:
    with connected_peer(CONTRACTS) as peer:
        result = peer.submit(["put", "k", "v"])
        assert result.message.type == M.COMPLETED and result.event == ("Put", b"k")
        assert peer.committed("k") == b"v"
        failed = peer.submit(["probe:boom"])
        assert failed.event is None and not failed.message.HasField("chaincode_event")


def test_2_exception_answers_error_at_once() -> None:
    with connected_peer(CONTRACTS) as peer:
        start = time.monotonic()
        result = peer.submit(["probe:boom"], timeout=5)
        assert time.monotonic() - start < 2
        assert result.response is not None and result.response.status == 500
        assert "KeyError" in result.response.message


def test_3_error_reply_raises_and_write_is_not_committed() -> None:
    with connected_peer(CONTRACTS) as peer:
        for i in range(3):
            assert peer.submit(["put", f"k{i}", "v"]).ok
        result = peer.submit(["probe:paged_then_write"])
        assert not result.ok and "paginated query" in result.response.message
        assert peer.committed("after-page") is None

        def refuse(ctx: object, msg: ChaincodeMessage) -> bytes:
            raise SimulationError("ledger unavailable")

        peer.handlers[M.GET_STATE] = refuse
        result = peer.submit(["probe:read", "k0"])
        assert result.response.status == 500 and "ledger unavailable" in result.response.message


def test_4_two_hundred_in_flight_on_one_stream() -> None:
    with connected_peer(CONTRACTS) as peer:
        futures = [peer.submit_async(["put", f"key{i}", f"value{i}"]) for i in range(200)]
        results = [f.result(30) for f in futures]
        assert all(r.ok for r in results)
        assert {r.event[1] for r in results} == {f"key{i}".encode() for i in range(200)}
        assert all(peer.committed(f"key{i}") == f"value{i}".encode() for i in range(200))
        reads = [peer.submit_async(["get", f"key{i}"]) for i in range(200)]
        assert [f.result(30).response.payload for f in reads] == [f"value{i}".encode() for i in range(200)]


def test_6_invoke_chaincode_sends_spec_and_unwraps_completed() -> None:
    with connected_peer(CONTRACTS) as peer:
        peer.chaincodes["other/ch2"] = lambda args: Response(201, "fine", b"got " + args[1])
        result = peer.submit(["probe:call_other"])
        assert json.loads(result.response.payload) == {"status": 201, "message": "fine", "payload": "got a1"}
        assert peer.invocations == [("other/ch2", [b"fn", b"a1"])]
        peer.chaincodes.clear()
        missing = peer.submit(["probe:call_other"])
        assert json.loads(missing.response.payload)["status"] == 500


def test_6_invoke_payload_is_a_chaincode_spec() -> None:
    with running_server(CONTRACTS) as (_, address), RawStream(address) as stream:
        stream.handshake()
        stream.send(raw_transaction("c2c", [b"probe:call_other"]))
        request = stream.recv()
        assert request is not None and request.type == M.INVOKE_CHAINCODE
        spec = ChaincodeSpec.FromString(request.payload)
    assert spec.chaincode_id.name == "other/ch2" and list(spec.input.args) == [b"fn", b"a1"]


def test_7_key_rules_on_the_wire() -> None:
    with connected_peer(CONTRACTS) as peer:
        peer.submit(["put", "plain", "p"])
        assert json.loads(peer.submit(["probe:composite"]).response.payload) == []  # own write not visible yet
        assert json.loads(peer.submit(["probe:composite"]).response.payload) == [["a", "1"]]
        assert json.loads(peer.submit(["probe:scan"]).response.payload) == ["plain"]
        seen = watch(peer, M.GET_STATE_BY_RANGE)
        peer.submit(["probe:scan"])
        assert [GetStateByRange.FromString(m.payload).startKey for m in seen] == ["\x01"]
        empty = peer.submit(["probe:bad_key", "empty"])
        assert empty.response.status == 400 and "empty" in empty.response.message
        null = peer.submit(["probe:bad_key", "null"])
        assert null.response.status == 400 and "null character" in null.response.message


def test_8_transient_creator_timestamp() -> None:
    creator = serialize_identity("Org1MSP", make_cert())
    with connected_peer(CONTRACTS) as peer:
        result = peer.submit(["probe:transient"], transient={"price": b"42", "b": b"x"})
        assert json.loads(result.response.payload) == {"b": "x", "price": "42"}
        who = json.loads(peer.submit(["probe:whoami"], creator=creator).response.payload)
        assert who == {"msp": "Org1MSP", "secs": 1_700_000_000, "binding": 32}


def test_9_get_metadata() -> None:
    with connected_peer(CONTRACTS) as peer:
        meta = json.loads(peer.submit(["org.hyperledger.fabric:GetMetadata"]).response.payload)
        assert set(meta["contracts"]) == {"kv", "probe", "org.hyperledger.fabric"}
        assert meta["contracts"]["kv"]["default"] is True
        system = meta["contracts"]["org.hyperledger.fabric"]  # listed as fabric-contract-api-go lists it
        assert [t["name"] for t in system["transactions"]] == ["GetMetadata"] and "default" not in system


def test_history_and_query_batches() -> None:
    with connected_peer(CONTRACTS) as peer:
        for i in range(5):
            peer.submit(["put", f"k{i}", "v"])
        peer.submit(["delete", "k0"])
        assert json.loads(peer.submit(["keys", "", ""]).response.payload) == ["k1", "k2", "k3", "k4"]
        assert json.loads(peer.submit(["probe:history", "k0"]).response.payload) == [True, False]


def test_10_no_payload_logging_and_no_root_logger_changes(caplog: pytest.LogCaptureFixture) -> None:
    code = (
        "import logging; r=logging.getLogger(); before=(list(r.handlers), r.level);"
        "import qcchain_shim, qcchain_shim.server, qcchain_shim.handler, qcchain_shim.testing, qcchain_bench.chaincode;"
        "assert (list(r.handlers), r.level) == before, 'root logger changed';"
        "assert not logging.getLogger('qcchain_shim').handlers; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "ok", out.stderr
    caplog.set_level(logging.DEBUG)
    with connected_peer(CONTRACTS) as peer:
        peer.submit(["put", "SECRETKEY", "SECRETVALUE"], transient={"t": b"SECRETTRANSIENT"})
        peer.submit(["probe:boom"])
        peer.submit(["put", "SECRETKEY"])
    text = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    assert "SECRET" not in text


def test_state_machine_refuses_transaction_before_ready() -> None:
    with running_server(CONTRACTS) as (_, address):
        with RawStream(address) as stream:
            first = stream.recv()
            assert first is not None and first.type == M.REGISTER
            stream.send(raw_transaction("early", [b"get", b"k"]))
            reply = stream.recv()
            assert reply is not None and reply.type == M.ERROR and b"while in state: created" in reply.payload
            assert stream.recv() is None  # the chaincode ends the stream
        with connected_peer(CONTRACTS) as fresh:  # the server keeps serving new streams
            assert fresh.registered_name == "qcchain_test:0123456789abcdef"
            assert fresh.submit(["put", "a", "b"]).ok


def test_keepalive_echo_and_stray_reply_ignored() -> None:
    with running_server(CONTRACTS) as (_, address), RawStream(address) as stream:
        stream.handshake()
        stream.send(M(type=M.KEEPALIVE))
        echo = stream.recv()
        assert echo is not None and echo.type == M.KEEPALIVE
        stream.send(M(type=M.RESPONSE, txid="nobody", channel_id="mychannel"))
        stream.send(raw_transaction("after", [b"org.hyperledger.fabric:GetMetadata"]))
        done = stream.recv()
        assert done is not None and done.type == M.COMPLETED and done.txid == "after"


def test_init_error_answers_error_message() -> None:
    with connected_peer(CONTRACTS) as peer:
        result = peer.submit(["probe:boom"], init=True)
        assert result.message.type == M.ERROR and b"KeyError" in result.message.payload
        assert peer.submit(["put", "i", "v"], init=True).message.type == M.COMPLETED


def test_chaincode_error_status_is_kept() -> None:
    class C(Contract):
        @transaction
        def deny(self, ctx: Context) -> None:
            raise ChaincodeError("not allowed", status=403)

    with connected_peer([C()]) as peer:
        assert peer.submit(["deny"]).response == Response(403, "not allowed")
