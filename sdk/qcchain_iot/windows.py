"""Tamper evidence: readings are sealed per device and time window into an SM3 Merkle tree
(:mod:`qcchain_model.merkle`); the roots are anchored on chain in batches; any stored reading can then be
proven against its anchored root — and a reading altered in the database no longer verifies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from qcchain_model.errors import InvalidProof
from qcchain_model.merkle import InclusionProof, MerkleTree, verify_inclusion
from sqlalchemy import and_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .errors import ProofError, StoreError
from .policy import WarningsPolicy
from .reading import Reading, reading_from_row
from .store import readings, windows

log = logging.getLogger(__name__)

__all__ = ["WindowRoot", "RootAnchor", "seal_windows", "anchor_pending", "prove", "verify_reading"]


@dataclass(frozen=True)
class WindowRoot:
    window_id: int
    org: str
    device_id: str
    window_start_ms: int
    count: int
    root: str

    def to_dict(self) -> dict[str, Any]:
        return {"window_id": self.window_id, "org": self.org, "device": self.device_id,
                "window_start": self.window_start_ms, "count": self.count, "root": self.root}


class RootAnchor(Protocol):
    """Where window roots are anchored (the chain): returns the transaction id; raises on refusal."""

    def anchor(self, roots: Sequence[WindowRoot]) -> str: ...

    def anchored_root(self, window_id: int, device_id: str) -> str | None: ...


def seal_windows(engine: Engine, policy: WarningsPolicy, now_ms: int) -> list[WindowRoot]:
    """Seal every unsealed reading whose window ended more than ``seal_after_s`` ago, one Merkle tree per
    device and window (a late reading gets a supplementary window for the same interval).

    Raises:
        StoreError: the database failed (nothing sealed).
    """
    win_ms = policy.window_s * 1000
    horizon = (now_ms - policy.seal_after_s * 1000) // win_ms * win_ms   # windows starting before it ended
    sealed: list[WindowRoot] = []
    try:
        with engine.begin() as conn:
            rows = conn.execute(select(readings).where(and_(readings.c.window_id.is_(None),
                                                            readings.c.ts_ms < horizon - 0))
                                .order_by(readings.c.device_id, readings.c.seq)).all()
            groups: dict[tuple[str, int], list[Any]] = {}
            for row in rows:
                groups.setdefault((row.device_id, row.ts_ms // win_ms * win_ms), []).append(row)
            for (device_id, start), members in sorted(groups.items()):
                root = MerkleTree([reading_from_row(m).leaf() for m in members]).root.hex()
                wid = conn.execute(windows.insert().values(
                    device_id=device_id, org=members[0].org, window_start_ms=start, count=len(members), root=root,
                    status="sealed", tx_id="", sealed_ms=now_ms)).inserted_primary_key[0]
                conn.execute(readings.update().where(and_(
                    readings.c.device_id == device_id, readings.c.seq.in_([m.seq for m in members])))
                    .values(window_id=wid))
                sealed.append(WindowRoot(int(wid), members[0].org, device_id, start, len(members), root))
    except SQLAlchemyError as exc:
        raise StoreError(f"sealing windows failed: {type(exc).__name__}") from exc
    return sealed


def anchor_pending(engine: Engine, anchor: RootAnchor, max_batch: int = 500) -> int:
    """Anchor sealed, not yet anchored windows in batches of ``max_batch``; how many were anchored.

    Raises:
        StoreError: the database failed. Errors of ``anchor`` propagate (the windows stay sealed).
    """
    done = 0
    while True:
        try:
            with engine.connect() as conn:
                rows = conn.execute(select(windows).where(windows.c.status == "sealed")
                                    .order_by(windows.c.window_id).limit(max_batch)).all()
        except SQLAlchemyError as exc:
            raise StoreError(f"reading sealed windows failed: {type(exc).__name__}") from exc
        if not rows:
            return done
        roots = [WindowRoot(r.window_id, r.org, r.device_id, r.window_start_ms, r.count, r.root) for r in rows]
        tx_id = anchor.anchor(roots)
        try:
            with engine.begin() as conn:
                conn.execute(windows.update().where(windows.c.window_id.in_([r.window_id for r in roots]))
                             .values(status="anchored", tx_id=tx_id))
        except SQLAlchemyError as exc:
            raise StoreError(f"recording anchored windows failed: {type(exc).__name__}") from exc
        done += len(roots)


def prove(engine: Engine, device_id: str, seq: int) -> tuple[Reading, InclusionProof, int]:
    """The stored reading, its inclusion proof in its window's tree and the window id.

    Raises:
        ProofError: no such reading, or it is not sealed yet.
        StoreError: the database failed.
    """
    try:
        with engine.connect() as conn:
            row = conn.execute(select(readings).where(and_(readings.c.device_id == device_id,
                                                           readings.c.seq == seq))).first()
            if row is None:
                raise ProofError(f"no reading {seq} of device {device_id}")
            if row.window_id is None:
                raise ProofError("the reading is not sealed into a window yet")
            members = conn.execute(select(readings).where(readings.c.window_id == row.window_id)
                                   .order_by(readings.c.seq)).all()
    except SQLAlchemyError as exc:
        raise StoreError(f"reading the window failed: {type(exc).__name__}") from exc
    index = next(i for i, m in enumerate(members) if m.seq == seq)
    tree = MerkleTree([reading_from_row(m).leaf() for m in members])
    return reading_from_row(row), tree.proof(index), int(row.window_id)


def verify_reading(engine: Engine, anchor: RootAnchor, device_id: str, seq: int) -> InclusionProof:
    """Prove a stored reading against the root anchored on chain (not the one in the database).

    Raises:
        ProofError: not anchored, or the stored reading (or its window) no longer matches the anchored root.
    """
    reading, proof, window_id = prove(engine, device_id, seq)
    root = anchor.anchored_root(window_id, device_id)
    if root is None:
        raise ProofError(f"window {window_id} is not anchored on chain")
    try:
        verify_inclusion(reading.leaf(), proof, root)
    except InvalidProof as exc:
        raise ProofError(f"reading {seq} of device {device_id} does not match the anchored root: {exc}") from exc
    return proof
