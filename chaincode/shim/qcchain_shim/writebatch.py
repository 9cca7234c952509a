"""Fabric v3.1 write batching and multi-key reads, as fabric-chaincode-go's ``shim/batch.go``.

A Fabric v3.1+ peer announces in its READY message (``peer.ChaincodeAdditionalParams``, from core.yaml
``chaincode.runtimeParams``) whether it accepts ``WRITE_BATCH_STATE`` and ``GET_STATE_MULTIPLE`` and the
largest batch of each. Between ``start_write_batch()`` and ``finish_write_batch()`` (or the end of the
transaction) the stub then keeps its writes here instead of sending one ``PUT_STATE``/``DEL_STATE`` per key
and waiting for each reply; the batch goes to the peer in messages of at most that many records. Reads never
see a transaction's own writes on Fabric, so batching changes no value read, only when a refused write is
reported (at the end instead of at the call).

Differences from the Go shim, on purpose: records are kept in the order their slot was first written (Go
iterates a map, so its order is random), which keeps what the peer receives deterministic; and metadata
slots are per metadata key (Go keeps one metadata record per key, so a second entry would drop the first).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from fabric_protos.peer.chaincode_pb2 import ChaincodeAdditionalParams
from fabric_protos.peer.chaincode_shim_pb2 import StateMetadata, WriteRecord
from google.protobuf.message import DecodeError

__all__ = ["FABRIC_3_1", "MIN_BATCH", "PeerCapabilities", "WriteBatch", "chunks"]

MIN_BATCH = 100
"""A peer that enables a feature with a smaller maximum is taken to allow this many (the Go shim's
``defaultMaxSizeWriteBatch`` / ``defaultMaxSizeGetMultipleKeys``)."""


@dataclass(frozen=True)
class PeerCapabilities:
    """What the connected peer announced in READY (all off for a peer older than v3.1)."""

    use_write_batch: bool = False
    max_write_batch: int = 0
    use_get_multiple: bool = False
    max_get_multiple: int = 0

    @classmethod
    def from_ready_payload(cls, payload: bytes) -> PeerCapabilities:
        """Decode READY's payload as the Go shim does: empty or undecodable means no capabilities, and an
        enabled feature's maximum is raised to :data:`MIN_BATCH`."""
        if not payload:
            return cls()
        try:
            params = ChaincodeAdditionalParams.FromString(payload)
        except DecodeError:
            return cls()
        write_max = max(params.max_size_write_batch, MIN_BATCH) if params.use_write_batch else params.max_size_write_batch
        get_max = (max(params.max_size_get_multiple_keys, MIN_BATCH) if params.use_get_multiple_keys
                   else params.max_size_get_multiple_keys)
        return cls(params.use_write_batch, write_max, params.use_get_multiple_keys, get_max)

    def to_ready_payload(self) -> bytes:
        """The ``ChaincodeAdditionalParams`` bytes a peer with these capabilities sends in READY."""
        return ChaincodeAdditionalParams(
            use_write_batch=self.use_write_batch, max_size_write_batch=self.max_write_batch,
            use_get_multiple_keys=self.use_get_multiple, max_size_get_multiple_keys=self.max_get_multiple,
        ).SerializeToString()


FABRIC_3_1 = PeerCapabilities(True, 1000, True, 1000)
"""A Fabric v3.1 peer with core.yaml's default ``chaincode.runtimeParams``."""


class WriteBatch:
    """The writes of one transaction not yet sent: one record per (collection, key) for data and one per
    (collection, key, metadata key) for metadata, the last write to a slot replacing the earlier ones."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str, str | None], WriteRecord] = {}

    def __len__(self) -> int:
        return len(self._records)

    def put(self, collection: str, key: str, value: bytes) -> None:
        """Write ``value`` to ``key``."""
        self._records[(collection, key, None)] = WriteRecord(
            key=key, value=value, collection=collection, type=WriteRecord.PUT_STATE)

    def delete(self, collection: str, key: str) -> None:
        """Delete ``key``."""
        self._records[(collection, key, None)] = WriteRecord(key=key, collection=collection, type=WriteRecord.DEL_STATE)

    def purge(self, collection: str, key: str) -> None:
        """Purge the private ``key`` of ``collection``."""
        self._records[(collection, key, None)] = WriteRecord(
            key=key, collection=collection, type=WriteRecord.PURGE_PRIVATE_DATA)

    def put_metadata(self, collection: str, key: str, metakey: str, value: bytes) -> None:
        """Set the metadata entry ``metakey`` of ``key``."""
        self._records[(collection, key, metakey)] = WriteRecord(
            key=key, collection=collection, type=WriteRecord.PUT_STATE_METADATA,
            metadata=StateMetadata(metakey=metakey, value=value))

    def records(self) -> list[WriteRecord]:
        """The records to send, in the order their slots were first written."""
        return list(self._records.values())


def chunks(items: Sequence[object], size: int) -> Iterator[list[object]]:
    """``items`` in consecutive lists of at most ``size`` (one list for ``size`` < 1).

    Raises nothing; an empty ``items`` yields nothing.
    """
    if size < 1:
        size = max(1, len(items))
    for start in range(0, len(items), size):
        yield list(items[start:start + size])
