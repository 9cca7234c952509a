"""An offline integrity check of a peer's block store for one channel (Fabric's ``blockfile_NNNNNN`` files).

Fabric appends each block as ``uvarint(len) || serialized block``, the serialization being its own
(``common/ledger/blkstorage/block_serialization.go``): header (number varint, data hash, previous hash as
length-prefixed bytes), the envelopes (count, each length-prefixed) and the metadata entries (count, each
length-prefixed). :func:`scan` reads every block and checks that numbers follow each other, that each
``data_hash`` is the SHA-256 of the block's envelopes and each ``previous_hash`` the hash of the previous
header (``qcchain_devnet.protoutil``), and reports the first block that fails, with the file and offset.
The peer does none of this at start: a byte changed inside an envelope goes unnoticed by it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from fabric_protos.common import common_pb2

from qcchain_devnet.protoutil import block_header_hash

__all__ = ["BlockFile", "StoreCheck", "blocks_dir", "scan"]


@dataclass(frozen=True)
class BlockFile:
    """One block file: name, size and SHA-256 (what a rebuild replaces)."""

    name: str
    size: int
    sha256: str


@dataclass
class StoreCheck:
    """The result of :func:`scan`: blocks read, height, last block hash (hex), the first problem if any."""

    channel: str
    first_block: int = 0  # above 0 when the peer joined from a snapshot
    height: int = 0
    last_block_hash: str = ""
    first_bad_block: int | None = None
    problem: str | None = None
    files: list[BlockFile] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """No block failed the checks (an absent store is intact and empty)."""
        return self.problem is None


def blocks_dir(data_dir: Path, channel: str) -> Path:
    """Where a peer whose data directory is ``data_dir`` keeps the block files of ``channel``."""
    return data_dir / "production" / "ledgersData" / "chains" / "chains" / channel


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _raw(buf: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = _varint(buf, pos)
    if pos + size > len(buf):
        raise ValueError("truncated bytes")
    return buf[pos:pos + size], pos + size


def _block(buf: bytes) -> common_pb2.Block:
    """Decode Fabric's serialized block. Raises ValueError when it is malformed."""
    block = common_pb2.Block()
    block.header.number, pos = _varint(buf, 0)
    block.header.data_hash, pos = _raw(buf, pos)
    block.header.previous_hash, pos = _raw(buf, pos)
    count, pos = _varint(buf, pos)
    for _ in range(count):
        item, pos = _raw(buf, pos)
        block.data.data.append(item)
    count, pos = _varint(buf, pos)
    for _ in range(count):
        item, pos = _raw(buf, pos)
        block.metadata.metadata.append(item)
    if pos != len(buf):
        raise ValueError(f"{len(buf) - pos} bytes after the metadata")
    return block


def scan(data_dir: Path, channel: str) -> StoreCheck:
    """Check every block of ``channel`` in a peer's data directory (read only; stop the peer for a
    consistent view). Never raises for damaged data: the problem is in the result."""
    result = StoreCheck(channel)
    root = blocks_dir(data_dir, channel)
    paths = sorted(p for p in root.glob("blockfile_*") if p.is_file()) if root.is_dir() else []
    prev_hash = b""
    for path in paths:
        data = path.read_bytes()
        result.files.append(BlockFile(path.name, len(data), hashlib.sha256(data).hexdigest()))
        if result.problem is not None:
            continue
        pos = 0
        while pos < len(data):
            where = f"{path.name} at offset {pos}"
            try:
                size, start = _varint(data, pos)
                if start + size > len(data):
                    raise ValueError("block runs past the end of the file")
                block = _block(data[start:start + size])
            except ValueError as exc:
                result.first_bad_block, result.problem = result.height, f"block {result.height} ({where}): {exc}"
                break
            number = block.header.number
            if not prev_hash and number > 0:  # the store of a peer that joined by snapshot starts above 0
                result.first_block = result.height = number
            if number != result.height:
                result.first_bad_block = result.height
                result.problem = f"block {result.height} ({where}): numbered {number}"
            elif hashlib.sha256(b"".join(block.data.data)).digest() != block.header.data_hash:
                result.first_bad_block = number
                result.problem = f"block {number} ({where}): data_hash does not match its transactions"
            elif prev_hash and block.header.previous_hash != prev_hash:
                result.first_bad_block = number
                result.problem = f"block {number} ({where}): previous_hash is not the hash of block {number - 1}"
            if result.problem is not None:
                break
            prev_hash = block_header_hash(block.header)
            result.height, result.last_block_hash = number + 1, prev_hash.hex()
            pos = start + size
    return result
