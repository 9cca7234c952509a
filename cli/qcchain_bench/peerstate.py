"""An in-memory ledger for the in-process peer (:mod:`qcchain_bench.peerdriver`).

It is only the store: the devnet's :class:`~qcchain_devnet.simulator.TxSimulator` reads it (through the
:class:`~qcchain_devnet.simulator.LedgerView` methods) and the devnet's chaincode client answers the
chaincode's requests; :meth:`MemoryLedger.apply` then commits a successful transaction's writes, as a
peer would once the transaction is in a block (no endorsement, ordering or validation here).
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Mapping

from qcchain_devnet.ledger import StateRow, Version
from qcchain_devnet.simulator import TxSimulator

__all__ = ["MemoryLedger"]

_Key = tuple[str, str]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class MemoryLedger:
    """World state, history, metadata and private data of one channel, in memory (thread-safe)."""

    def __init__(self, peer_msp: str) -> None:
        self.peer_msp = peer_msp
        self._state: dict[_Key, tuple[bytes, Version]] = {}
        self._meta: dict[_Key, dict[str, bytes]] = {}
        self._sorted: dict[str, list[str]] = {}
        self._history: dict[_Key, list[tuple[str, bytes | None, bool, int, int]]] = {}
        self._pvt: dict[tuple[str, str, str], tuple[bytes, Version]] = {}
        self._pvt_hash: dict[tuple[str, str, bytes], tuple[bytes, Version, dict[str, bytes]]] = {}
        self._blocks = 0
        self._lock = threading.Lock()

    # ---- LedgerView (what the simulator reads) --------------------------------------------------
    def get_state(self, ns: str, key: str) -> StateRow | None:
        """The committed value (metadata kept even for a key without a value), or None."""
        with self._lock:
            row, meta = self._state.get((ns, key)), self._meta.get((ns, key))
        if row is None and meta is None:
            return None
        value, version = row if row is not None else (b"", (0, 0))
        return StateRow(key, value, version, dict(meta or {}))

    def get_states(self, ns: str, keys: list[str]) -> dict[str, StateRow]:
        """The committed rows of those ``keys`` that exist (as :meth:`get_state` each)."""
        rows = {key: self.get_state(ns, key) for key in keys}
        return {key: row for key, row in rows.items() if row is not None}

    def range_scan(self, ns: str, start: str, end: str, limit: int) -> list[StateRow]:
        """Up to ``limit`` entries with start <= key < end (end "" = unbounded), key order."""
        with self._lock:
            keys = self._sorted.get(ns, [])
            lo = bisect.bisect_left(keys, start)
            hi = bisect.bisect_left(keys, end) if end else len(keys)
            return [StateRow(k, *self._state[(ns, k)]) for k in keys[lo:hi][:limit]]

    def history(self, ns: str, key: str) -> list[tuple[str, bytes | None, bool, int, int]]:
        """(tx id, value, is_delete, ts_seconds, ts_nanos) of every committed change, newest first."""
        with self._lock:
            return list(reversed(self._history.get((ns, key), [])))

    def get_pvt_hash(self, ns: str, coll: str, key_hash: bytes) -> tuple[bytes, Version, dict[str, bytes]] | None:
        """(value hash, version, metadata) of a private key, or None."""
        with self._lock:
            return self._pvt_hash.get((ns, coll, key_hash))

    def get_pvt(self, org: str, ns: str, coll: str, key: str) -> tuple[bytes, Version] | None:
        """A private value (this ledger keeps only its own peer's, ``org`` = its MSP), or None."""
        if org != self.peer_msp:
            return None
        with self._lock:
            return self._pvt.get((ns, coll, key))

    def pvt_range(self, org: str, ns: str, coll: str, start: str, end: str, limit: int) -> list[StateRow]:
        """Private entries with start <= key < end (end "" = unbounded), key order."""
        if org != self.peer_msp:
            return []
        with self._lock:
            keys = sorted(k for (n, c, k) in self._pvt if n == ns and c == coll and k >= start and (not end or k < end))
            return [StateRow(k, *self._pvt[(ns, coll, k)]) for k in keys[:limit]]

    # ---- commit ---------------------------------------------------------------------------------
    def apply(self, sim: TxSimulator, tx_id: str, timestamp: tuple[int, int] = (0, 0)) -> None:
        """Commit the writes of a successful transaction (public, metadata, private) as one new block."""
        with self._lock:
            self._blocks += 1
            version = (self._blocks, 0)
            for (ns, key), value in sim.writes.items():
                self._history.setdefault((ns, key), []).append((tx_id, value, value is None, *timestamp))
                self._set(ns, key, value, version)
            for (ns, key), meta in sim.meta_writes.items():
                self._meta[(ns, key)] = dict(meta)
            for (ns, coll, key), value in sim.pvt_writes.items():
                kh = _sha256(key.encode())
                if value is None:
                    self._pvt.pop((ns, coll, key), None)
                    self._pvt_hash.pop((ns, coll, kh), None)
                else:
                    self._pvt[(ns, coll, key)] = (value, version)
                    meta = self._pvt_hash.get((ns, coll, kh), (b"", version, {}))[2]
                    self._pvt_hash[(ns, coll, kh)] = (_sha256(value), version, meta)
            for (ns, coll, key), meta in sim.pvt_meta_writes.items():
                kh = _sha256(key.encode())
                vh, ver, _ = self._pvt_hash.get((ns, coll, kh), (b"", version, {}))
                self._pvt_hash[(ns, coll, kh)] = (vh, ver, dict(meta))

    def _set(self, ns: str, key: str, value: bytes | None, version: Version) -> None:
        keys = self._sorted.setdefault(ns, [])
        present = (ns, key) in self._state
        if value is None:
            self._state.pop((ns, key), None)
            if present:
                keys.pop(bisect.bisect_left(keys, key))
            return
        self._state[(ns, key)] = (value, version)
        if not present:
            bisect.insort(keys, key)

    # ---- for tests and set-up -------------------------------------------------------------------
    def seed(self, ns: str, items: Mapping[str, bytes]) -> None:
        """Put committed values directly (set-up before transactions run)."""
        with self._lock:
            self._blocks += 1
            for key, value in items.items():
                self._set(ns, key, value, (self._blocks, 0))

    def value(self, ns: str, key: str) -> bytes | None:
        """The committed value of ``key``, or None."""
        with self._lock:
            row = self._state.get((ns, key))
        return row[0] if row else None

    def private(self, ns: str, coll: str, key: str) -> bytes | None:
        """The committed private value of ``key`` in ``coll``, or None."""
        with self._lock:
            row = self._pvt.get((ns, coll, key))
        return row[0] if row else None

    def keys(self, ns: str) -> list[str]:
        """The keys with a committed value, in order."""
        with self._lock:
            return list(self._sorted.get(ns, []))
