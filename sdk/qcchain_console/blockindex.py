"""Incremental block index of the console's channel: every block is read once through qscc
(``GetBlockByNumber``), its hash chain re-checked (``previous_hash`` = SHA-256 of the previous header's
DER, ``data_hash`` = SHA-256 of its envelopes) and its transactions' ids placed (block number, validation
code). The verified height is remembered, so a request only reads the blocks committed since the last
one — instead of two qscc calls per shown transaction.

A background thread (:meth:`BlockIndex.start`) keeps it current; requests call :meth:`BlockIndex.catch_up`
with a small time budget and show "-" for transactions not indexed yet.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fabric_protos.common import common_pb2, ledger_pb2
from qcchain_devnet.protoutil import block_data_hash, block_header_hash

log = logging.getLogger(__name__)

__all__ = ["BlockIndex", "IndexState"]

_FILTER = common_pb2.BlockMetadataIndex.TRANSACTIONS_FILTER


@dataclass
class IndexState:
    """What the index knows: verified height, chain height at the last look, hash-chain problems."""

    height: int = 0
    chain_height: int = 0
    problems: list[str] = field(default_factory=list)


class BlockIndex:
    """tx id → (block number, validation code) for one channel, built incrementally. Thread-safe."""

    def __init__(self, qscc: Any, channel: str) -> None:
        self.qscc, self.channel = qscc, channel
        self.state = IndexState()
        self._tx: dict[str, tuple[int, int]] = {}
        self._prev_hash = b""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def locate(self, tx_id: str) -> tuple[int, int] | None:
        """(block, validation code) of an indexed transaction, else None."""
        return self._tx.get(tx_id)

    def _chain_height(self) -> int:
        info = ledger_pb2.BlockchainInfo.FromString(self.qscc.evaluate_transaction("GetChainInfo", self.channel))
        return int(info.height)

    def _take(self, number: int) -> None:
        block = common_pb2.Block.FromString(self.qscc.evaluate_transaction("GetBlockByNumber", self.channel, str(number)))
        problems = []
        if block.header.number != number:
            problems.append(f"block {number}: qscc answered block {block.header.number}")
        if number > 0 and block.header.previous_hash != self._prev_hash:
            problems.append(f"block {number}: previous_hash is not the hash of block {number - 1}'s header")
        if block_data_hash(block.data) != block.header.data_hash:
            problems.append(f"block {number}: data_hash does not match its transactions")
        codes = block.metadata.metadata[_FILTER] if len(block.metadata.metadata) > _FILTER else b""
        for i, raw in enumerate(block.data.data):
            payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(raw).payload)
            tx_id = common_pb2.ChannelHeader.FromString(payload.header.channel_header).tx_id
            if tx_id and tx_id not in self._tx:
                self._tx[tx_id] = (number, codes[i] if i < len(codes) else 255)
        self._prev_hash = block_header_hash(block.header)
        self.state.problems += problems
        self.state.height = number + 1

    def catch_up(self, budget_s: float = 0.3, wait: bool = False) -> IndexState:
        """Read and verify blocks from the verified height on, for at most ``budget_s`` seconds. Returns at
        once if another thread is indexing (unless ``wait``).

        Raises:
            qcchain_gateway.errors.GatewayError: qscc failed (the index keeps what it has).
        """
        if not self._lock.acquire(blocking=wait):
            return self.state
        try:
            deadline = time.monotonic() + budget_s
            self.state.chain_height = self._chain_height()
            while self.state.height < self.state.chain_height and time.monotonic() < deadline:
                self._take(self.state.height)
            return self.state
        finally:
            self._lock.release()

    def start(self, interval_s: float = 2.0) -> None:
        """Keep the index current in a daemon thread (chain errors are logged and retried)."""
        def run() -> None:
            while not self._stop.is_set():
                try:
                    self.catch_up(budget_s=5.0, wait=True)
                except Exception as exc:  # noqa: BLE001 - retried on the next round, logged without payloads
                    if self._stop.is_set():  # the connection was closed under us: shutting down
                        return
                    log.warning("block index: %s", type(exc).__name__)
                behind = self.state.height < self.state.chain_height
                self._stop.wait(0.01 if behind else interval_s)

        self._thread = threading.Thread(target=run, name="console-block-index", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
