"""The completion-queue server that ``serve()`` runs: the protocol over it, TLS, several streams at once, a
call for another method refused, and stopping while a peer is still connected."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from fakepeer import PeerDriver
from test_server import _tls_material

from qcchain_bench.example import KVContract
from qcchain_shim.contract import Router
from qcchain_shim.cqserver import CQServer
from qcchain_shim.server import TLSConfig, _credentials, server_options


@contextmanager
def cq_server(tls: TLSConfig | None = None) -> Iterator[tuple[CQServer, threading.Thread]]:
    server = CQServer(Router([KVContract()]), "cc:1", "127.0.0.1:0", server_options(), _credentials(tls))
    server.start()
    thread = threading.Thread(target=server.run, kwargs={"grace": 0.5}, daemon=True)
    thread.start()
    try:
        yield server, thread
    finally:
        server.stop()
        thread.join(10)
        assert not thread.is_alive(), "run() did not return after stop()"


def _peer(address: str, **kw: object) -> PeerDriver:
    peer = PeerDriver(address, **kw)
    peer.connect(5.0)
    return peer


def test_transactions_over_the_completion_queue_server() -> None:
    with cq_server() as (server, _):
        peer = _peer(f"127.0.0.1:{server.port}")
        try:
            assert peer.submit(["put", "k", "v1"]).ok
            result = peer.submit(["get", "k"])
            assert result.ok and result.response is not None and result.response.payload == b"v1"
            missing = peer.submit(["get", "absent"])
            assert missing.response is not None and missing.response.status == 404
            assert peer.submit(["put_batch", "p", "250"]).ok
        finally:
            peer.close()


def test_several_streams_at_once() -> None:
    with cq_server() as (server, _):
        peers = [_peer(f"127.0.0.1:{server.port}") for _ in range(3)]
        try:
            futures = [p.submit_async(["put", f"k{i}-{j}", "v"]) for j in range(20) for i, p in enumerate(peers)]
            assert all(f.result(30).ok for f in futures)
        finally:
            for p in peers:
                p.close()


def test_tls(tmp_path: Path) -> None:
    key, cert = _tls_material(tmp_path)
    with cq_server(TLSConfig(key, cert)) as (server, _):
        creds = grpc.ssl_channel_credentials(root_certificates=cert)
        peer = _peer(f"localhost:{server.port}", credentials=creds)
        try:
            assert peer.submit(["put", "k", "v"]).ok
        finally:
            peer.close()


def test_another_method_is_unimplemented() -> None:
    with cq_server() as (server, _), grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = channel.unary_unary("/protos.Chaincode/Other")
        with pytest.raises(grpc.RpcError) as exc:
            call(b"", timeout=5)
        assert exc.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_stop_ends_a_connected_stream_within_the_grace() -> None:
    with cq_server() as (server, thread):
        peer = _peer(f"127.0.0.1:{server.port}")
        assert peer.submit(["put", "k", "v"]).ok
        started = time.monotonic()
        server.stop()
        thread.join(10)
        assert not thread.is_alive() and time.monotonic() - started < 5
        peer.close()


def test_bad_input_answers_error_and_the_peer_ending_its_side_ends_the_stream() -> None:
    from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage as M
    from rawstream import RawStream, raw_transaction

    with cq_server() as (server, _), RawStream(f"127.0.0.1:{server.port}") as stream:
        stream.handshake()
        bad = raw_transaction("bad", [b"ignored"])
        bad.payload = b"\xff\xff\xff garbage"
        stream.send(bad)
        reply = stream.recv()
        assert reply is not None and reply.type == M.ERROR and b"failed to unmarshal input" in reply.payload
        stream.send(raw_transaction("after", [b"org.hyperledger.fabric:GetMetadata"]))
        done = stream.recv()
        assert done is not None and done.type == M.COMPLETED
        stream.send(M(type=M.READY, txid="t9"))  # READY again while ready: refused, the stream goes on
        refused = stream.recv()
        assert refused is not None and refused.type == M.ERROR and b"while in state: ready" in refused.payload
        stream.send(None)  # type: ignore[arg-type]  # the peer half-closes: the server ends the call
        assert stream.recv() is None


def test_a_message_in_the_wrong_state_ends_the_stream() -> None:
    from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage as M
    from rawstream import RawStream, raw_transaction

    with cq_server() as (server, _), RawStream(f"127.0.0.1:{server.port}") as stream:
        first = stream.recv()
        assert first is not None and first.type == M.REGISTER
        stream.send(raw_transaction("early", [b"get", b"k"]))  # before REGISTERED
        refused = stream.recv()
        assert refused is not None and refused.type == M.ERROR and b"while in state: created" in refused.payload
        assert stream.recv() is None



def test_ready_callbacks_poll_with_a_past_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A turn with callbacks ready must not wait in the completion queue: ``poll(time.time())`` rounds up to
    gRPC's next millisecond tick, so a preempted transaction (resumed after LOOP_TURNS turns) lost ~1 ms per
    turn — a 500-record ingest batch's endorsement took 550 ms for 70 ms of CPU."""
    from grpc._cython import cygrpc

    servers: list[CQServer] = []
    polls_with_work_ready: list[tuple[float, float]] = []

    class RecordingQueue(cygrpc.CompletionQueue):  # type: ignore[misc]
        def poll(self, deadline: float | None = None) -> object:
            if servers and servers[0]._ready:
                polls_with_work_ready.append((deadline or 0.0, time.time()))
            return super().poll(deadline)

    monkeypatch.setattr(cygrpc, "CompletionQueue", RecordingQueue)
    server = CQServer(Router([KVContract()]), "cc:1", "127.0.0.1:0", server_options(), None)
    servers.append(server)
    server.start()
    done = threading.Event()
    turns = [30]

    def again() -> None:
        turns[0] -= 1
        if turns[0]:
            server.call_soon(again)
        else:
            done.set()

    thread = threading.Thread(target=server.run, kwargs={"grace": 0.5}, daemon=True)
    thread.start()
    try:
        server.call_soon(again)
        assert done.wait(10), "the chain of ready callbacks did not run"
    finally:
        server.stop()
        thread.join(10)
    assert not thread.is_alive()
    assert len(polls_with_work_ready) >= 29
    assert all(deadline < called - 1.0 for deadline, called in polls_with_work_ready)  # past, not "now"
