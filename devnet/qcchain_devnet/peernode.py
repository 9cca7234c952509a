"""The devnet's peer node: ledgers, endorser, block cutting and commit, shared by the gRPC services.

:class:`PeerNode` is what :class:`~qcchain_devnet.gateway.GatewayService` and
:class:`~qcchain_devnet.deliver.DeliverService` serve; :class:`~qcchain_devnet.node.DevNet` builds it and
runs the services on an event loop. Submitted envelopes are cut into blocks (``batch_size`` envelopes or
``batch_timeout`` seconds), validated and committed by :class:`~qcchain_devnet.validator.BlockCommitter`
in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator

from fabric_protos.common import common_pb2

from .ccclient import ChaincodePool
from .endorser import Endorser
from .errors import LedgerError
from .ledger import Ledger
from .model import MSP, NodeConfig, PeerSigner
from .policy import Policy
from .protoutil import UnpackedEnvelope
from .simulator import SimulationResult
from .validator import BlockCommitter, CommitResult

log = logging.getLogger(__name__)

__all__ = ["PeerNode"]

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


class PeerNode:
    """The node's state shared by the Gateway and Deliver services: ledgers, endorser, block cutting and commit.

    One object plays every org's peer and the orderer (see :mod:`qcchain_devnet.node`). It needs a running
    event loop for :meth:`start_cutters`, :meth:`submit`, :meth:`wait_commit` and :meth:`blocks_from`.
    """

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
