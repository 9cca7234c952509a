"""The chaincode event value, shared by event streams (:mod:`.events`) and checkpointers (:mod:`.checkpoint`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ChaincodeEvent"]


@dataclass(frozen=True)
class ChaincodeEvent:
    """One chaincode event as committed in a block."""

    block_number: int
    transaction_id: str
    chaincode_name: str
    event_name: str
    payload: bytes
