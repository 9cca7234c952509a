"""Fake peer for tests: the benchmark's in-process peer (the devnet's peer side of the protocol over an
in-memory ledger) plus a chaincode server run on a background loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage

from qcchain_bench.peerdriver import PeerDriver, TxResult
from qcchain_devnet.ccrequests import TxContext
from qcchain_shim.contract import Contract
from qcchain_shim.server import ChaincodeServer, KeepalivePolicy, TLSConfig

__all__ = ["PeerDriver", "TxResult", "connected_peer", "running_server", "watch"]

CHAINCODE_ID = "qcchain_test:0123456789abcdef"


@contextmanager
def running_server(
    contracts: Sequence[Contract], keepalive: KeepalivePolicy = KeepalivePolicy(), tls: TLSConfig | None = None
) -> Iterator[tuple[ChaincodeServer, str]]:
    """Start a ChaincodeServer on 127.0.0.1 (free port) in a background event loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="cc-server", daemon=True)
    thread.start()
    server = ChaincodeServer(contracts, CHAINCODE_ID, "127.0.0.1:0", tls, keepalive)
    try:
        port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
        yield server, f"127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(0.2), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextmanager
def connected_peer(contracts: Sequence[Contract], **peer_kw: object) -> Iterator[PeerDriver]:
    """A server plus a PeerDriver that has completed REGISTER/REGISTERED/READY."""
    with running_server(contracts) as (_, address):
        peer = PeerDriver(address, **peer_kw)  # type: ignore[arg-type]
        try:
            peer.connect()
            yield peer
        finally:
            peer.close()


def watch(peer: PeerDriver, *types: int) -> list[ChaincodeMessage]:
    """Record every request of ``types`` the peer receives (then answered as usual); returns the list."""
    seen: list[ChaincodeMessage] = []
    for t in types:
        answer = peer.handlers[t]

        def recording(ctx: TxContext, msg: ChaincodeMessage, answer=answer) -> bytes:  # noqa: ANN001
            seen.append(msg)
            return answer(ctx, msg)

        peer.handlers[t] = recording
    return seen
