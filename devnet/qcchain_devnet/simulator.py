"""Transaction simulation over a channel's ledger, as Fabric's lockbased tx simulator.

Reads record the committed version (no read-your-writes), writes are buffered, range scans record a
``RangeQueryInfo`` for phantom checks, private data goes to a private rwset whose hashes enter the
public rwset, and after a paginated query every write is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2

from .errors import SimulationError
from .ledger import StateRow, Version
from .model import ChaincodeDef, ChannelDef
from .protoutil import sha256

__all__ = ["VALIDATION_PARAMETER", "LedgerView", "RangeIterator", "SimulationResult", "TxSimulator", "version_proto"]

VALIDATION_PARAMETER = "VALIDATION_PARAMETER"
_SCAN_LIMIT = 100000


def version_proto(v: Version | None) -> kv_rwset_pb2.Version | None:
    """A ``kvrwset.Version`` for a (block, tx) pair, None for an absent key."""
    return None if v is None else kv_rwset_pb2.Version(block_num=v[0], tx_num=v[1])


class LedgerView(Protocol):
    """The committed state a simulation reads (:class:`~qcchain_devnet.ledger.Ledger`, or an in-memory one)."""

    def get_state(self, ns: str, key: str) -> StateRow | None:
        """The committed value of ``key``, or None."""
        ...

    def get_states(self, ns: str, keys: list[str]) -> dict[str, StateRow]:
        """The committed rows of those ``keys`` that exist."""
        ...

    def range_scan(self, ns: str, start: str, end: str, limit: int) -> list[StateRow]:
        """Up to ``limit`` entries with start <= key < end (end "" = unbounded), key order."""
        ...

    def history(self, ns: str, key: str) -> list[tuple[str, bytes | None, bool, int, int]]:
        """(tx id, value, is_delete, ts_seconds, ts_nanos) of every committed change, newest first."""
        ...

    def get_pvt_hash(self, ns: str, coll: str, key_hash: bytes) -> tuple[bytes, Version, dict[str, bytes]] | None:
        """(value hash, version, metadata) of a private key's public hash, or None."""
        ...

    def get_pvt(self, org: str, ns: str, coll: str, key: str) -> tuple[bytes, Version] | None:
        """A private value as kept at ``org``'s peer, or None."""
        ...

    def pvt_range(self, org: str, ns: str, coll: str, start: str, end: str, limit: int) -> list[StateRow]:
        """Private entries kept at ``org``'s peer with start <= key < end."""
        ...


@dataclass
class RangeIterator:
    """An open range-query iterator (results fetched in one scan, handed out page by page)."""

    ns: str
    rows: list[StateRow]
    info: kv_rwset_pb2.RangeQueryInfo | None
    pos: int = 0


@dataclass
class SimulationResult:
    """The public rwset (marshalled ``TxReadWriteSet``) and the private writes per (ns, collection)."""

    results: bytes
    pvt: dict[tuple[str, str], bytes] = field(default_factory=dict)   # (ns, coll) -> KVRWSet bytes
    pvt_writes: dict[tuple[str, str, str], bytes | None] = field(default_factory=dict)


class TxSimulator:
    """Buffers one transaction's reads and writes (one simulator per proposal, shared by c2c calls)."""

    def __init__(self, ledger: LedgerView, channel: ChannelDef, peer_msp: str, creator_msp: str) -> None:
        self.ledger = ledger
        self.channel = channel
        self.peer_msp = peer_msp
        self.creator_msp = creator_msp
        self.reads: dict[tuple[str, str], Version | None] = {}
        self.writes: dict[tuple[str, str], bytes | None] = {}
        self.meta_writes: dict[tuple[str, str], dict[str, bytes]] = {}
        self.ranges: dict[str, list[kv_rwset_pb2.RangeQueryInfo]] = {}
        self.hashed_reads: dict[tuple[str, str, bytes], Version | None] = {}
        self.pvt_writes: dict[tuple[str, str, str], bytes | None] = {}
        self.pvt_meta_writes: dict[tuple[str, str, str], dict[str, bytes]] = {}
        self.namespaces: set[str] = set()
        self.paginated = False
        self.iterators: dict[str, RangeIterator] = {}
        self._next_id = 0

    # ------------------------------------------------------------------ checks

    def _check_write(self, key: str) -> None:
        if self.paginated:
            raise SimulationError("txSimulator does not support write operations after a paginated query")
        if not key:
            raise SimulationError("key must not be an empty string")

    def _collection(self, ns: str, coll: str) -> ChaincodeDef:
        cc = self.channel.chaincode(ns) if any(c.name == ns for c in self.channel.chaincodes) else None
        if cc is None or cc.collection(coll) is None:
            raise SimulationError(f"collection {coll} not found for namespace {ns}")
        return cc

    def _pvt_access(self, ns: str, coll: str, write: bool) -> bool:
        """True if this peer keeps the collection; raises if the creator may not access it."""
        c = self._collection(ns, coll).collection(coll)
        assert c is not None
        member = self.creator_msp in c.members
        if write and c.member_only_write and not member:
            raise SimulationError(f"tx creator does not have write access permission on privatedata in "
                                  f"chaincodeName:{ns} collectionName: {coll}")
        if not write and c.member_only_read and not member:
            raise SimulationError(f"tx creator does not have read access permission on privatedata in "
                                  f"chaincodeName:{ns} collectionName: {coll}")
        return self.peer_msp in c.members

    # ------------------------------------------------------------------ public state

    def get_state(self, ns: str, key: str) -> bytes:
        """The committed value (b"" if absent); records the read version."""
        self.namespaces.add(ns)
        row = self.ledger.get_state(ns, key)
        self.reads.setdefault((ns, key), row.version if row else None)
        return row.value if row else b""

    def get_states(self, ns: str, keys: list[str]) -> list[bytes]:
        """The committed values of ``keys`` in order (b"" if absent), read in one query; records the read
        versions as :meth:`get_state` does."""
        self.namespaces.add(ns)
        rows = self.ledger.get_states(ns, keys)
        values = []
        for key in keys:
            row = rows.get(key)
            self.reads.setdefault((ns, key), row.version if row else None)
            values.append(row.value if row else b"")
        return values

    def get_metadata(self, ns: str, key: str) -> dict[str, bytes]:
        """The committed metadata of a key; records the read version."""
        self.namespaces.add(ns)
        row = self.ledger.get_state(ns, key)
        self.reads.setdefault((ns, key), row.version if row else None)
        return row.metadata if row else {}

    def put_state(self, ns: str, key: str, value: bytes) -> None:
        """Buffer a write. Raises: SimulationError (empty key, after paginated query)."""
        self._check_write(key)
        self.namespaces.add(ns)
        self.writes[(ns, key)] = value

    def del_state(self, ns: str, key: str) -> None:
        """Buffer a delete. Raises: SimulationError."""
        self._check_write(key)
        self.namespaces.add(ns)
        self.writes[(ns, key)] = None

    def put_metadata(self, ns: str, key: str, name: str, value: bytes) -> None:
        """Buffer a metadata write (e.g. VALIDATION_PARAMETER). Raises: SimulationError."""
        self._check_write(key)
        self.namespaces.add(ns)
        base = dict(self.meta_writes.get((ns, key)) or self.get_metadata(ns, key))
        base[name] = value
        self.meta_writes[(ns, key)] = base

    def open_range(self, ns: str, start: str, end: str, page_size: int = 0, bookmark: str = "") -> str:
        """Run a range scan and register an iterator; returns its id. Paginated scans set the no-write flag."""
        self.namespaces.add(ns)
        if page_size > 0:
            self.paginated = True
        begin = bookmark or start
        limit = page_size if page_size > 0 else _SCAN_LIMIT
        rows = self.ledger.range_scan(ns, begin, end, limit + (1 if page_size > 0 else 0))
        more = page_size > 0 and len(rows) > page_size
        rows = rows[:limit]
        info = kv_rwset_pb2.RangeQueryInfo(start_key=begin, end_key=end, itr_exhausted=not more,
                                           raw_reads=kv_rwset_pb2.QueryReads(kv_reads=[
                                               kv_rwset_pb2.KVRead(key=r.key, version=version_proto(r.version))
                                               for r in rows]))
        if page_size > 0 and more:
            info.end_key = rows[-1].key + "\x00" if rows else end
        self.ranges.setdefault(ns, []).append(info)
        return self._register(RangeIterator(ns, rows, info))

    def open_pvt_range(self, ns: str, coll: str, start: str, end: str) -> str:
        """Range scan over a private collection (no phantom protection, as Fabric)."""
        keeps = self._pvt_access(ns, coll, write=False)
        rows = self.ledger.pvt_range(self.peer_msp, ns, coll, start, end, _SCAN_LIMIT) if keeps else []
        for r in rows:
            self.hashed_reads.setdefault((ns, coll, sha256(r.key.encode())), r.version)
        return self._register(RangeIterator(ns, rows, None))

    def _register(self, it: RangeIterator) -> str:
        self._next_id += 1
        ident = f"it{self._next_id}"
        self.iterators[ident] = it
        return ident

    def next_rows(self, ident: str, count: int) -> tuple[list[StateRow], bool]:
        """Up to ``count`` rows of iterator ``ident`` and whether more remain. Raises: SimulationError."""
        it = self.iterators.get(ident)
        if it is None:
            raise SimulationError(f"query iterator not found: {ident}")
        rows = it.rows[it.pos:it.pos + count]
        it.pos += len(rows)
        more = it.pos < len(it.rows)
        if not more:
            self.iterators.pop(ident, None)
        return rows, more

    def close_iterator(self, ident: str) -> None:
        """Forget an iterator (no error if it is already gone)."""
        self.iterators.pop(ident, None)

    # ------------------------------------------------------------------ private data

    def get_private(self, ns: str, coll: str, key: str) -> bytes:
        """A private value as this peer keeps it (b"" if absent); records a hashed read. Raises: SimulationError."""
        keeps = self._pvt_access(ns, coll, write=False)
        kh = sha256(key.encode())
        hashed = self.ledger.get_pvt_hash(ns, coll, kh)
        self.hashed_reads.setdefault((ns, coll, kh), hashed[1] if hashed else None)
        if not keeps or hashed is None:
            return b""
        row = self.ledger.get_pvt(self.peer_msp, ns, coll, key)
        return row[0] if row else b""

    def get_private_hash(self, ns: str, coll: str, key: str) -> bytes:
        """The value hash on the public ledger (b"" if absent); records a hashed read."""
        self._collection(ns, coll)
        kh = sha256(key.encode())
        hashed = self.ledger.get_pvt_hash(ns, coll, kh)
        self.hashed_reads.setdefault((ns, coll, kh), hashed[1] if hashed else None)
        return hashed[0] if hashed else b""

    def get_private_metadata(self, ns: str, coll: str, key: str) -> dict[str, bytes]:
        """Metadata of a private key's hash entry."""
        self._collection(ns, coll)
        hashed = self.ledger.get_pvt_hash(ns, coll, sha256(key.encode()))
        return hashed[2] if hashed else {}

    def put_private(self, ns: str, coll: str, key: str, value: bytes | None) -> None:
        """Buffer a private write (None deletes). Raises: SimulationError."""
        self._check_write(key)
        self._pvt_access(ns, coll, write=True)
        self.namespaces.add(ns)
        self.pvt_writes[(ns, coll, key)] = value

    def put_private_metadata(self, ns: str, coll: str, key: str, name: str, value: bytes) -> None:
        """Buffer a private-key metadata write. Raises: SimulationError."""
        self._check_write(key)
        self._pvt_access(ns, coll, write=True)
        base = dict(self.pvt_meta_writes.get((ns, coll, key)) or self.get_private_metadata(ns, coll, key))
        base[name] = value
        self.pvt_meta_writes[(ns, coll, key)] = base

    # ------------------------------------------------------------------ results

    def result(self) -> SimulationResult:
        """The ``TxReadWriteSet`` (namespaces, keys and collections sorted) and private rwsets."""
        out = rwset_pb2.TxReadWriteSet(data_model=rwset_pb2.TxReadWriteSet.KV)
        pvt: dict[tuple[str, str], bytes] = {}
        for ns in sorted(self.namespaces):
            kv = kv_rwset_pb2.KVRWSet(
                reads=[kv_rwset_pb2.KVRead(key=k, version=version_proto(v))
                       for (n, k), v in sorted(self.reads.items()) if n == ns],
                range_queries_info=self.ranges.get(ns, []),
                writes=[kv_rwset_pb2.KVWrite(key=k, is_delete=v is None, value=v or b"")
                        for (n, k), v in sorted(self.writes.items()) if n == ns],
                metadata_writes=[kv_rwset_pb2.KVMetadataWrite(key=k, entries=[
                    kv_rwset_pb2.KVMetadataEntry(name=e, value=m[e]) for e in sorted(m)])
                    for (n, k), m in sorted(self.meta_writes.items()) if n == ns])
            colls = []
            for coll in sorted({c for (n, c, _k) in [*self.pvt_writes, *self.hashed_reads,
                                                     *self.pvt_meta_writes] if n == ns}):
                hashed, pvt_bytes = self._collection_sets(ns, coll)
                coll_msg = rwset_pb2.CollectionHashedReadWriteSet(collection_name=coll,
                                                                  hashed_rwset=hashed.SerializeToString())
                if pvt_bytes is not None:
                    coll_msg.pvt_rwset_hash = sha256(pvt_bytes)
                    pvt[(ns, coll)] = pvt_bytes
                colls.append(coll_msg)
            out.ns_rwset.append(rwset_pb2.NsReadWriteSet(namespace=ns, rwset=kv.SerializeToString(),
                                                         collection_hashed_rwset=colls))
        return SimulationResult(out.SerializeToString(), pvt, dict(self.pvt_writes))

    def _collection_sets(self, ns: str, coll: str) -> tuple[kv_rwset_pb2.HashedRWSet, bytes | None]:
        writes = sorted((k, v) for (n, c, k), v in self.pvt_writes.items() if n == ns and c == coll)
        metas = sorted((k, m) for (n, c, k), m in self.pvt_meta_writes.items() if n == ns and c == coll)
        hashed = kv_rwset_pb2.HashedRWSet(
            hashed_reads=[kv_rwset_pb2.KVReadHash(key_hash=kh, version=version_proto(v))
                          for (n, c, kh), v in sorted(self.hashed_reads.items()) if n == ns and c == coll],
            hashed_writes=[kv_rwset_pb2.KVWriteHash(key_hash=sha256(k.encode()), is_delete=v is None,
                                                    value_hash=sha256(v) if v is not None else b"")
                           for k, v in writes],
            metadata_writes=[kv_rwset_pb2.KVMetadataWriteHash(key_hash=sha256(k.encode()), entries=[
                kv_rwset_pb2.KVMetadataEntry(name=e, value=m[e]) for e in sorted(m)]) for k, m in metas])
        if not writes and not metas:
            return hashed, None
        pvt = kv_rwset_pb2.KVRWSet(writes=[kv_rwset_pb2.KVWrite(key=k, is_delete=v is None, value=v or b"")
                                           for k, v in writes],
                                   metadata_writes=[kv_rwset_pb2.KVMetadataWrite(key=k, entries=[
                                       kv_rwset_pb2.KVMetadataEntry(name=e, value=m[e]) for e in sorted(m)])
                                       for k, m in metas])
        return hashed, pvt.SerializeToString()
