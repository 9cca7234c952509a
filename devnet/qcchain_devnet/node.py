"""The devnet node: one process acting as every org's peer plus the orderer, serving Fabric's Gateway.

``DevNet(state_dir, config)`` opens (or creates, with a genesis config block) one ledger per channel
under ``state_dir/ledger``, and on :meth:`DevNet.start` serves ``gateway.Gateway`` and the peer's
``protos.Deliver`` block events on 127.0.0.1 (TLS when the config gives a server certificate) from an
asyncio event loop in a background thread, over a :class:`~qcchain_devnet.peernode.PeerNode`.

``config`` is a :class:`~qcchain_devnet.model.NodeConfig` (the shell builds one from its ``DevnetConfig``
with :func:`qcchain_devnet.profiles.node_config`).

What it is not (a development runtime): one process, no consensus, no gossip. A proposal is simulated
once, as the local org's peer (the creator's org when it is a member), and the resulting payload is
signed by each planned org's peer identity (all peers share one ledger, so their simulations could not
differ). No ``_lifecycle`` namespace (chaincode definitions come from the config), no block-to-live
purging, no COMMIT_HASH metadata, and private data of a transaction endorsed before a restart is lost
(the transient store is in memory).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import grpc
from fabric_protos.gateway import gateway_pb2_grpc
from fabric_protos.peer import events_pb2_grpc

from .deliver import DeliverService
from .errors import DevnetError
from .gateway import GatewayService
from .genesis import genesis_block
from .ledger import Ledger, UpdateBatch
from .model import NodeConfig
from .peernode import PeerNode

log = logging.getLogger(__name__)

__all__ = ["DevNet", "NodeConfig"]


def _new_loop(use_uvloop: bool) -> asyncio.AbstractEventLoop:
    """A uvloop event loop when ``use_uvloop`` and uvloop is installed, else asyncio's."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class DevNet:
    """The devnet node. ``start()`` serves the Gateway on 127.0.0.1; ``stop()`` shuts it down.

    ``use_uvloop``: run the event loop on uvloop when it is installed (default).

    Raises (constructor):
        LedgerCorrupted: a stored block of some channel fails its hash checks.
        LedgerError: a ledger cannot be opened.
    """

    def __init__(self, state_dir: Path, config: NodeConfig, *, use_uvloop: bool = True) -> None:
        self.state_dir = Path(state_dir)
        self.config = config
        self.use_uvloop = use_uvloop
        self.ledgers: dict[str, Ledger] = {}
        for ch in config.channels:
            ledger = Ledger(self.state_dir / "ledger" / f"{ch.name}.sqlite", ch.name)
            if ledger.height == 0:
                ledger.commit(genesis_block(config, ch), UpdateBatch(txs=[]))
            self.ledgers[ch.name] = ledger
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: grpc.aio.Server | None = None
        self._node: PeerNode | None = None
        self._port = 0

    @property
    def port(self) -> int:
        """The TCP port the Gateway listens on (0 before start)."""
        return self._port

    def height(self, channel: str) -> int:
        """The channel's block height. Raises: KeyError for an unknown channel."""
        return self.ledgers[channel].height

    def start(self, timeout: float = 30.0) -> None:
        """Start serving in a background thread; returns once the port is bound.

        Raises:
            DevnetError: the server cannot bind its port or start in time.
        """
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = _new_loop(self.use_uvloop)
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(ready))
                loop.run_forever()
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                failure.append(exc)
                ready.set()
            # the loop is left unclosed: grpc's completion-queue poller may still post callbacks to it

        self._thread = threading.Thread(target=run, name="devnet-loop", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or failure:
            raise DevnetError(f"devnet did not start: {failure[0] if failure else 'timeout'}")

    async def _serve(self, ready: threading.Event) -> None:
        node = PeerNode(self.config, self.ledgers)
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 100 * 1024 * 1024),
                                          ("grpc.max_send_message_length", 100 * 1024 * 1024),
                                          ("grpc.keepalive_permit_without_calls", 1),
                                          ("grpc.http2.min_ping_interval_without_data_ms", 10000)])
        gateway_pb2_grpc.add_GatewayServicer_to_server(GatewayService(node), server)
        events_pb2_grpc.add_DeliverServicer_to_server(DeliverService(node), server)
        address = f"{self.config.host}:{self.config.port}"
        if self.config.tls_cert and self.config.tls_key:
            creds = grpc.ssl_server_credentials([(self.config.tls_key, self.config.tls_cert)])
            port = server.add_secure_port(address, creds)
        else:
            port = server.add_insecure_port(address)
        if port == 0:
            raise DevnetError(f"cannot listen on {address}")
        await server.start()
        node.port = port
        node.start_cutters()
        self._server, self._node, self._port = server, node, port
        log.info("devnet gateway listening on %s:%d (development runtime: one process, no consensus)",
                 self.config.host, port)
        ready.set()

    def stop(self, grace: float = 1.0) -> None:
        """Stop serving, close chaincode connections and ledgers (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                await self._server.stop(grace)
            if self._node is not None:
                await self._node.stop()
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        thread.join(timeout=grace + 10)
        for ledger in self.ledgers.values():
            ledger.close()
        self._loop = self._thread = None

    def __enter__(self) -> DevNet:  # noqa: PYI034 - DevNet is not meant to be subclassed
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
