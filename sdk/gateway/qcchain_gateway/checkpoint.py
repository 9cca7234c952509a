"""Checkpointers: remember how far an event stream was processed, so it resumes without loss or repeats.

Same semantics as the Go/Node clients: after processing a chaincode event, checkpoint it (block number
+ transaction id); a new stream started with that checkpoint begins at that block and skips the events
up to and including that transaction. After processing a whole block, ``checkpoint_block(n)`` resumes
at block ``n + 1``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Protocol

from qcchain_gateway.chaincodeevent import ChaincodeEvent
from qcchain_gateway.errors import CheckpointError

logger = logging.getLogger(__name__)


class Checkpoint(Protocol):
    """Where to resume: a block number and (optionally) the last processed transaction in it."""

    @property
    def block_number(self) -> int: ...

    @property
    def transaction_id(self) -> str: ...


class InMemoryCheckpointer:
    """A checkpointer kept in memory (lost when the process ends)."""

    def __init__(self) -> None:
        self._block_number = 0
        self._transaction_id = ""

    @property
    def block_number(self) -> int:
        """Block to resume from."""
        return self._block_number

    @property
    def transaction_id(self) -> str:
        """Last processed transaction in :attr:`block_number` (``""``: none)."""
        return self._transaction_id

    def checkpoint_block(self, block_number: int) -> None:
        """Record that block ``block_number`` was fully processed."""
        self.checkpoint_transaction(block_number + 1, "")

    def checkpoint_transaction(self, block_number: int, transaction_id: str) -> None:
        """Record that ``transaction_id`` in ``block_number`` was processed."""
        if block_number < 0:
            raise ValueError(f"checkpoint: block number must be >= 0, got {block_number}")
        self._block_number = int(block_number)
        self._transaction_id = transaction_id

    def checkpoint_chaincode_event(self, event: ChaincodeEvent) -> None:
        """Record that ``event`` was processed."""
        self.checkpoint_transaction(event.block_number, event.transaction_id)


class FileCheckpointer(InMemoryCheckpointer):
    """A checkpointer persisted as JSON ``{"blockNumber": n, "transactionId": "..."}`` (mode 0600).

    Every checkpoint is written atomically (temporary file + rename), so a crash never leaves a torn file.

    Raises (constructor):
        CheckpointError: the file exists but is unreadable or not a checkpoint.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        if self.path.exists() and self.path.stat().st_size > 0:
            self._load()
        self._save()

    def _load(self) -> None:
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
            block = state.get("blockNumber", 0)
            tx_id = state.get("transactionId", "")
        except (OSError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"checkpoint file {self.path}: unreadable: {exc}") from exc
        if not isinstance(block, int) or isinstance(block, bool) or block < 0 or not isinstance(tx_id, str):
            raise CheckpointError(
                f"checkpoint file {self.path}: blockNumber must be an int >= 0 and transactionId a string"
            )
        self._block_number, self._transaction_id = block, tx_id

    def checkpoint_transaction(self, block_number: int, transaction_id: str) -> None:
        """Record and persist that ``transaction_id`` in ``block_number`` was processed.

        Raises:
            CheckpointError: the file could not be written.
        """
        super().checkpoint_transaction(block_number, transaction_id)
        self._save()

    def _save(self) -> None:
        data = json.dumps({"blockNumber": self._block_number, "transactionId": self._transaction_id})
        directory = self.path.parent
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(tmp, 0o600)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise CheckpointError(f"checkpoint file {self.path}: cannot write: {exc}") from exc
