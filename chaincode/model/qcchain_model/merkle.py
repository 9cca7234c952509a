"""SM3 Merkle trees over records' canonical bytes, and inclusion proofs — shared by the ingest chaincode
(which stores the root of each batch), the ingestion service (which serves proofs) and verifiers.

Domain-separated hashing (as RFC 6962), so a leaf can never pass for an inner node:

* leaf  = SM3(0x00 || data)
* node  = SM3(0x01 || left || right)

Levels are paired left to right; an odd last node is promoted to the next level unchanged (never
duplicated, so two different leaf lists cannot share a root by repetition). The root of one leaf is its
leaf hash; an empty tree has no root. A proof is the list of sibling hashes bottom-up; the verifier
derives each sibling's side from the leaf's ``index`` and the tree's ``size`` instead of trusting it, so a
proof binds the position too. Pure and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from qcchain_core.gm import sm3

from .errors import InvalidProof

__all__ = ["leaf_hash", "node_hash", "merkle_root", "MerkleTree", "InclusionProof", "verify_inclusion"]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
MAX_PROOF = 64


def leaf_hash(data: bytes) -> bytes:
    """SM3(0x00 || data)."""
    return sm3(LEAF_PREFIX + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    """SM3(0x01 || left || right)."""
    return sm3(NODE_PREFIX + left + right)


def _next_level(level: list[bytes]) -> list[bytes]:
    out = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        out.append(level[-1])
    return out


@dataclass(frozen=True)
class InclusionProof:
    """Proof that the leaf at ``index`` of a tree of ``size`` leaves is under ``root`` (hex strings)."""

    index: int
    size: int
    leaf: str
    siblings: tuple[str, ...]
    root: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "size": self.size, "leaf": self.leaf, "siblings": list(self.siblings),
                "root": self.root}

    @classmethod
    def from_dict(cls, doc: Any) -> "InclusionProof":
        """Raises InvalidProof: not a proof document."""
        try:
            return cls(int(doc["index"]), int(doc["size"]), str(doc["leaf"]), tuple(str(s) for s in doc["siblings"]),
                       str(doc["root"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidProof("a proof needs index, size, leaf, siblings and root") from exc


class MerkleTree:
    """All levels of the tree over ``leaves`` (each the record's canonical bytes).

    Raises:
        ValueError: no leaves.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        level = [leaf_hash(data) for data in leaves]
        self.levels: list[list[bytes]] = [level]
        while len(level) > 1:
            level = _next_level(level)
            self.levels.append(level)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def proof(self, index: int) -> InclusionProof:
        """The inclusion proof of leaf ``index``. Raises IndexError: no such leaf."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} is outside a tree of {self.size}")
        siblings, pos = [], index
        for level in self.levels[:-1]:
            partner = pos ^ 1
            if partner < len(level):
                siblings.append(level[partner].hex())
            pos //= 2
        return InclusionProof(index, self.size, self.levels[0][index].hex(), tuple(siblings), self.root.hex())


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The root over ``leaves``. Raises ValueError: no leaves."""
    level = [leaf_hash(data) for data in leaves]
    if not level:
        raise ValueError("a Merkle tree needs at least one leaf")
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def verify_inclusion(data: bytes, proof: InclusionProof, root: str) -> None:
    """Check that ``data`` is leaf ``proof.index`` of the tree whose root is ``root`` (hex).

    Raises:
        InvalidProof: malformed proof, leaf hash mismatch, wrong number of siblings, or another root.
    """
    if not (0 <= proof.index < proof.size) or len(proof.siblings) > MAX_PROOF:
        raise InvalidProof("the proof's index/size are inconsistent")
    current = leaf_hash(data)
    if current.hex() != proof.leaf:
        raise InvalidProof("the data does not hash to the proof's leaf")
    try:
        siblings = [bytes.fromhex(s) for s in proof.siblings]
    except ValueError as exc:
        raise InvalidProof("a sibling is not hex") from exc
    pos, width, used = proof.index, proof.size, 0
    while width > 1:
        partner = pos ^ 1
        if partner < width:
            if used >= len(siblings):
                raise InvalidProof("the proof has too few siblings")
            sibling = siblings[used]
            used += 1
            current = node_hash(sibling, current) if pos % 2 else node_hash(current, sibling)
        pos, width = pos // 2, (width + 1) // 2
    if used != len(siblings):
        raise InvalidProof("the proof has too many siblings")
    if current.hex() != root or proof.root != root:
        raise InvalidProof("the proof does not lead to the expected root")
