"""The devnet node: one process acting as every org's peer plus the orderer, serving Fabric's Gateway.

``DevNet(state_dir, config)`` opens (or creates, with a genesis config block) one ledger per channel
under ``state_dir/ledger``, and on :meth:`DevNet.start` serves ``gateway.Gateway`` and the peer's
``protos.Deliver`` block events on 127.0.0.1 (TLS when the config gives a server certificate) from an asyncio event loop in a background thread. Submitted
envelopes are cut into blocks (``batch_size`` envelopes or ``batch_timeout`` seconds), validated and
committed by :class:`~qcchain_devnet.validator.BlockCommitter` in a worker thread.

``config`` is a :class:`~qcchain_devnet.model.NodeConfig`, or the shell's ``DevnetConfig`` (crypto
material then read from ``crypto_dir``, default ``state_dir/crypto``; see :func:`node_config_from_devnet`).

What it is not (a development runtime): one process, no consensus, no gossip. A proposal is simulated
once, as the local org's peer (the creator's org when it is a member), and the resulting payload is
signed by each planned org's peer identity (all peers share one ledger, so their simulations could not
differ). No ``_lifecycle`` namespace (chaincode definitions come from the config), no block-to-live
purging, no COMMIT_HASH metadata, and private data of a transaction endorsed before a restart is lost
(the transient store is in memory).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2_grpc
from fabric_protos.peer import events_pb2_grpc

from .ccclient import ChaincodePool
from .deliver import DeliverService
from .endorser import Endorser
from .errors import DevnetError, LedgerError
from .gateway import GatewayService
from .genesis import genesis_block
from .ledger import Ledger, UpdateBatch
from .model import (
    MSP,
    NodeConfig,
    PeerSigner,
)
from .policy import Policy
from .protoutil import UnpackedEnvelope
from .simulator import SimulationResult
from .validator import BlockCommitter, CommitResult

log = logging.getLogger(__name__)

__all__ = ["Core", "DevNet", "NodeConfig", "node_config_from_devnet", "quiet_gc"]

_PVT_STORE_MAX = 100000


class _ChannelRuntime:
    def __init__(self, ledger: Ledger, committer: BlockCommitter) -> None:
        self.ledger = ledger
        self.committer = committer
        self.queue: list[tuple[bytes, UnpackedEnvelope | None]] = []  # envelope bytes, decoded at Submit
        self.queued_ids: set[str] = set()
        self.waiters: dict[str, list[asyncio.Future[tuple[int, int]]]] = {}
        self.new_block = asyncio.Condition()
        self.wakeup = asyncio.Event()
        self.inflight: asyncio.Future[CommitResult] | None = None


class Core:
    """The node's state shared by the gateway service: ledgers, endorser, block cutting and commit."""

    def __init__(self, config: NodeConfig, ledgers: dict[str, Ledger]) -> None:
        self.config = config
        self.port = config.port
        self.ledgers = ledgers
        self.msp = MSP(config.orgs + ((config.orderer,) if config.orderer else ()))
        self.pool = ChaincodePool()
        self.endorser = Endorser(config, ledgers, self.msp, self.pool)
        self.policies: dict[str, dict[str, Policy]] = {
            ch.name: {cc.name: ch.policy(cc) for cc in ch.chaincodes} for ch in config.channels}
        orderer = PeerSigner(config.orderer) if config.orderer and config.orderer.peer_key else None
        self.channels = {ch.name: _ChannelRuntime(ledgers[ch.name], BlockCommitter(
            ledgers[ch.name], ch, self.msp, orderer, self.endorser.memo)) for ch in config.channels}
        self.pvt_store: OrderedDict[str, SimulationResult] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []

    def store_private(self, tx_id: str, result: SimulationResult) -> None:
        """Keep a transaction's private writes until its block commits (Fabric's transient store)."""
        self.pvt_store[tx_id] = result
        while len(self.pvt_store) > _PVT_STORE_MAX:
            self.pvt_store.popitem(last=False)

    def start_cutters(self) -> None:
        """Start one block-cutter task per channel (call inside the event loop)."""
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._cutter(name)) for name in self.channels]

    async def stop(self) -> None:
        """Stop the cutters, finish the block being committed and commit what is still queued (as an
        orderer drains its batch), then close chaincode connections."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for name, rt in self.channels.items():
            if rt.inflight is not None:
                await asyncio.gather(rt.inflight, return_exceptions=True)
            while rt.queue:
                batch, rt.queue = rt.queue[:self.config.batch_size], rt.queue[self.config.batch_size:]
                await self._commit(name, rt, batch)
        await self.pool.close()

    async def submit(self, channel: str, envelope: bytes, unpacked: UnpackedEnvelope | None = None) -> None:
        """Queue an (orderer-accepted) envelope for the next block. ``unpacked``, its decoding, spares
        the committer decoding it again and lets a CommitStatus wait for it without asking the ledger."""
        rt = self.channels[channel]
        rt.queue.append((envelope, unpacked))
        if unpacked is not None:
            rt.queued_ids.add(unpacked.channel_header.tx_id)
        rt.wakeup.set()

    async def _cutter(self, channel: str) -> None:
        rt = self.channels[channel]
        while True:
            await rt.wakeup.wait()
            if len(rt.queue) < self.config.batch_size:
                await asyncio.sleep(self.config.batch_timeout)
            batch, rt.queue = rt.queue[:self.config.batch_size], rt.queue[self.config.batch_size:]
            if not rt.queue:
                rt.wakeup.clear()
            if batch:
                await self._commit(channel, rt, batch)

    async def _commit(self, channel: str, rt: _ChannelRuntime, batch: list[tuple[bytes, UnpackedEnvelope | None]]) -> None:
        rt.inflight = asyncio.ensure_future(asyncio.to_thread(
            rt.committer.commit, [raw for raw, _u in batch], self.pvt_store, [u for _r, u in batch]))
        try:
            result = await asyncio.shield(rt.inflight)
        except LedgerError:
            log.exception("channel %s: block commit failed; %d transactions dropped", channel, len(batch))
            return
        finally:
            if rt.inflight is not None and rt.inflight.done():
                rt.inflight = None
        await self._notify(rt, result)

    async def _notify(self, rt: _ChannelRuntime, result: CommitResult) -> None:
        num = result.block.header.number
        log.debug("channel %s: block %d committed (%d transactions, %d valid)", rt.ledger.channel, num,
                  len(result.txs), sum(1 for t in result.txs if t.code == 0))
        waiters, queued = rt.waiters, rt.queued_ids
        for tx in result.txs:
            queued.discard(tx.tx_id)
            if tx.tx_id not in waiters:
                continue
            status = (tx.code, num)
            if tx.code == 9:  # DUPLICATE_TXID: waiters get the first occurrence's status
                loc = rt.ledger.tx_location(tx.tx_id)
                if loc is None:
                    continue
                status = (loc[2], loc[0])
            for fut in waiters.pop(tx.tx_id):
                if not fut.done():
                    fut.set_result(status)
        async with rt.new_block:
            rt.new_block.notify_all()

    async def wait_commit(self, channel: str, tx_id: str) -> tuple[int, int]:
        """(validation code, block number) of ``tx_id``, waiting until it commits (no timeout)."""
        rt = self.channels[channel]
        if tx_id not in rt.queued_ids:  # not waiting in this loop's queue: it may be committed already
            loc = rt.ledger.tx_location(tx_id)
            if loc is not None:
                return loc[2], loc[0]
        # from here on, no await until the future is registered: _notify runs on this same loop
        fut: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
        rt.waiters.setdefault(tx_id, []).append(fut)
        try:
            return await fut
        finally:
            lst = rt.waiters.get(tx_id)
            if lst and fut in lst:
                lst.remove(fut)
                if not lst:
                    rt.waiters.pop(tx_id, None)

    async def blocks_from(self, channel: str, start: int) -> AsyncIterator[tuple[int, common_pb2.Block]]:
        """Committed blocks from ``start`` on, waiting for new ones forever."""
        rt = self.channels[channel]
        num = start
        while True:
            while num < rt.ledger.height:
                raw = rt.ledger.block_bytes(num)
                block = common_pb2.Block()
                block.ParseFromString(raw or b"")
                yield num, block
                num += 1
            async with rt.new_block:
                if num >= rt.ledger.height:
                    await rt.new_block.wait()


def quiet_gc(threshold: int = 50_000) -> None:
    """For a process that runs a devnet: freeze what exists now out of the cyclic garbage collector and
    collect generation 0 every ``threshold`` allocations instead of 700 (the devnet allocates many
    short-lived, acyclic protobuf objects, which reference counting frees at once). Process-wide: call
    it from a program's main, not from library code."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, 20, 20)


def _new_loop() -> asyncio.AbstractEventLoop:
    """A uvloop event loop when uvloop is installed and ``QCCHAIN_DEVNET_UVLOOP`` is not "0", else asyncio's."""
    if os.environ.get("QCCHAIN_DEVNET_UVLOOP", "1") != "0":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class DevNet:
    """The devnet node. ``start()`` serves the Gateway on 127.0.0.1; ``stop()`` shuts it down.

    Raises (constructor):
        LedgerCorrupted: a stored block of some channel fails its hash checks.
        LedgerError: a ledger cannot be opened.
    """

    def __init__(self, state_dir: Path, config: NodeConfig | Any, *, crypto_dir: Path | None = None) -> None:
        self.state_dir = Path(state_dir)
        if not isinstance(config, NodeConfig):
            config = node_config_from_devnet(config, crypto_dir or self.state_dir / "crypto")
        self.config = config
        self.ledgers: dict[str, Ledger] = {}
        for ch in config.channels:
            ledger = Ledger(self.state_dir / "ledger" / f"{ch.name}.sqlite", ch.name)
            if ledger.height == 0:
                ledger.commit(genesis_block(config, ch), UpdateBatch(txs=[]))
            self.ledgers[ch.name] = ledger
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: grpc.aio.Server | None = None
        self._core: Core | None = None
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
            loop = _new_loop()
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
        core = Core(self.config, self.ledgers)
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 100 * 1024 * 1024),
                                          ("grpc.max_send_message_length", 100 * 1024 * 1024),
                                          ("grpc.keepalive_permit_without_calls", 1),
                                          ("grpc.http2.min_ping_interval_without_data_ms", 10000)])
        gateway_pb2_grpc.add_GatewayServicer_to_server(GatewayService(core), server)
        events_pb2_grpc.add_DeliverServicer_to_server(DeliverService(core), server)
        address = f"{self.config.host}:{self.config.port}"
        if self.config.tls_cert and self.config.tls_key:
            creds = grpc.ssl_server_credentials([(self.config.tls_key, self.config.tls_cert)])
            port = server.add_secure_port(address, creds)
        else:
            port = server.add_insecure_port(address)
        if port == 0:
            raise DevnetError(f"cannot listen on {address}")
        await server.start()
        core.port = port
        core.start_cutters()
        self._server, self._core, self._port = server, core, port
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
            if self._core is not None:
                await self._core.stop()
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


def node_config_from_devnet(cfg: Any, crypto_dir: Path, *, batch_size: int = 500,
                            batch_timeout: float = 0.01) -> NodeConfig:
    """A :class:`NodeConfig` from the shell's ``DevnetConfig`` and its cryptogen-layout material
    (generated when missing), through the shell's ``material.ensure_material`` and ``profiles.node_config``.

    Raises:
        MaterialError: the material cannot be generated or read.
        ConfigError: a channel names an unknown org.
    """
    from .material import ensure_material  # the shell's modules; imported lazily
    from .profiles import node_config

    if getattr(cfg, "crypto_dir", None) is None:
        cfg = cfg.with_material(crypto_dir, ensure_material(crypto_dir, cfg))
    return replace(node_config(cfg), batch_size=batch_size, batch_timeout=batch_timeout)
