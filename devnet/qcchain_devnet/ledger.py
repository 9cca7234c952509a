"""A channel's ledger on SQLite: block store, world state with versions, history, private data.

One SQLite database per channel (``<state_dir>/ledger/<channel>.sqlite``, WAL). A block, its
transaction index rows, the state updates of its valid transactions, their history rows and private
data are written in one SQLite transaction, so a crash never leaves a block without its state. At open
the hash chain (``previous_hash`` = hash of the previous header's DER, ``data_hash`` = SHA-256 of the
data) is re-checked; a mismatch raises :class:`LedgerCorrupted` naming the channel and block number.

Keys are stored as BLOBs (UTF-8 bytes), so range scans order them bytewise like LevelDB.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from google.protobuf.message import DecodeError

from .errors import LedgerCorrupted, LedgerError, UnpackError
from .protoutil import block_data_hash, block_header_hash, unpack_envelope

log = logging.getLogger(__name__)

__all__ = ["Ledger", "StateRow", "UpdateBatch", "Version", "decode_metadata", "encode_metadata"]

Version = tuple[int, int]
_IN_CHUNK = 500  # host parameters per IN (...) query, below SQLite's smallest limit (999)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (num INTEGER PRIMARY KEY, hash BLOB NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS blocks_hash ON blocks(hash);
CREATE TABLE IF NOT EXISTS txs (txid TEXT PRIMARY KEY, block INTEGER NOT NULL, idx INTEGER NOT NULL,
                                code INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (ns TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
                                  vb INTEGER NOT NULL, vt INTEGER NOT NULL, meta BLOB,
                                  PRIMARY KEY (ns, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (ns TEXT NOT NULL, key BLOB NOT NULL, block INTEGER NOT NULL,
                                    tx INTEGER NOT NULL, txid TEXT NOT NULL, value BLOB, is_delete INTEGER NOT NULL,
                                    ts_s INTEGER NOT NULL, ts_n INTEGER NOT NULL, PRIMARY KEY (ns, key, block, tx))
                                    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pvt_hash (ns TEXT NOT NULL, coll TEXT NOT NULL, khash BLOB NOT NULL,
                                     vhash BLOB NOT NULL, vb INTEGER NOT NULL, vt INTEGER NOT NULL, meta BLOB,
                                     PRIMARY KEY (ns, coll, khash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pvt (org TEXT NOT NULL, ns TEXT NOT NULL, coll TEXT NOT NULL, key BLOB NOT NULL,
                                value BLOB NOT NULL, vb INTEGER NOT NULL, vt INTEGER NOT NULL,
                                UNIQUE (org, ns, coll, key));
"""
#: ``pvt`` keeps a copy of every private value per member org (as each org's peer does): kilobytes per row, so
#: it is a rowid table with a unique index. As ``WITHOUT ROWID`` (earlier ledgers; migrated at open) the values
#: sat in the key B-tree: 500 sealed records x 5 orgs cost 190 ms CPU per block to insert, as a rowid table 68 ms.
_PVT_MIGRATION = """
CREATE TABLE pvt_rowid (org TEXT NOT NULL, ns TEXT NOT NULL, coll TEXT NOT NULL, key BLOB NOT NULL,
                        value BLOB NOT NULL, vb INTEGER NOT NULL, vt INTEGER NOT NULL, UNIQUE (org, ns, coll, key));
INSERT INTO pvt_rowid SELECT org, ns, coll, key, value, vb, vt FROM pvt;
DROP TABLE pvt;
ALTER TABLE pvt_rowid RENAME TO pvt;
"""


def encode_metadata(entries: dict[str, bytes]) -> bytes | None:
    """State metadata as a marshalled ``KVMetadataWrite`` (entries sorted by name), None when empty."""
    if not entries:
        return None
    return kv_rwset_pb2.KVMetadataWrite(entries=[kv_rwset_pb2.KVMetadataEntry(name=k, value=entries[k])
                                                 for k in sorted(entries)]).SerializeToString()


def decode_metadata(raw: bytes | None) -> dict[str, bytes]:
    """Inverse of :func:`encode_metadata`."""
    if not raw:
        return {}
    msg = kv_rwset_pb2.KVMetadataWrite()
    msg.ParseFromString(raw)
    return {e.name: e.value for e in msg.entries}


@dataclass(frozen=True)
class StateRow:
    """A committed state entry."""

    key: str
    value: bytes
    version: Version
    metadata: dict[str, bytes] = field(default_factory=dict)


@dataclass
class UpdateBatch:
    """Everything one block changes, applied atomically by :meth:`Ledger.commit`.

    ``state``: (ns, key) → (value or None for delete, version, metadata or None to keep);
    ``pvt_hash``: (ns, coll, key_hash) → (value_hash or None, version, metadata or None);
    ``pvt``: (org, ns, coll, key) → (value or None, version);
    ``history``: (ns, key, block, tx, txid, None, is_delete, ts_seconds, ts_nanos) — the value is read from the
    block when asked for (:meth:`Ledger.history`), as Fabric's history database does;
    ``txs``: (txid, block, index, validation code) for first occurrences of tx ids.
    """

    state: dict[tuple[str, str], tuple[bytes | None, Version, dict[str, bytes] | None]] = field(default_factory=dict)
    pvt_hash: dict[tuple[str, str, bytes], tuple[bytes | None, Version, dict[str, bytes] | None]] = field(
        default_factory=dict)
    pvt: dict[tuple[str, str, str, str], tuple[bytes | None, Version]] = field(default_factory=dict)
    history: list[tuple] = field(default_factory=list)
    txs: list[tuple[str, int, int, int]] = field(default_factory=list)


def _tx_writes(block_data: bytes, idx: int) -> dict[tuple[str, str], bytes]:
    """(namespace, key) -> value of the public writes of transaction ``idx`` of a stored block (empty when
    the transaction is not an endorser transaction or does not decode)."""
    block = common_pb2.Block()
    try:
        block.ParseFromString(block_data)
        env = unpack_envelope(block.data.data[idx])
        if env.cc_action is None:
            return {}
        rwset = rwset_pb2.TxReadWriteSet.FromString(env.cc_action.results)
        out = {}
        for ns in rwset.ns_rwset:
            for w in kv_rwset_pb2.KVRWSet.FromString(ns.rwset).writes:
                if not w.is_delete:
                    out[(ns.namespace, w.key)] = w.value
        return out
    except (DecodeError, IndexError, UnpackError):
        return {}


class Ledger:
    """One channel's persistent ledger. Thread-safe: a writer connection (commits) and a reader connection.

    Raises (constructor):
        LedgerError: the database cannot be opened.
        LedgerCorrupted: a stored block breaks the hash chain or its data hash.
    """

    def __init__(self, path: Path, channel: str) -> None:
        self.path = path
        self.channel = channel
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._tx_writes: dict[tuple[int, int], dict[tuple[str, str], bytes]] = {}  # a few recent, for history
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._w = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._w.execute("PRAGMA journal_mode=WAL")
            self._w.execute("PRAGMA synchronous=FULL")  # acknowledged = durable (WAL fsync per commit)
            self._w.executescript(_SCHEMA)
            self._migrate_pvt()
            self._r = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open ledger of channel {channel} at {path}: {exc}") from exc
        try:
            self._height, self._last_hash = self._verify_chain()
        except sqlite3.Error as exc:  # a damaged page surfaces only when the blocks are read
            raise LedgerCorrupted(f"ledger of channel {channel} at {path} is damaged: {exc} "
                                  "(restore a snapshot: qcchain ledger restore)") from exc
        except LedgerCorrupted as exc:  # name the file too
            raise LedgerCorrupted(f"{exc}; ledger file {path}") from exc

    def _migrate_pvt(self) -> None:
        """Move a ledger's ``pvt`` table from the earlier ``WITHOUT ROWID`` layout to a rowid table (same
        columns and rows), in one transaction. Raises sqlite3.Error (the caller reports it)."""
        row = self._w.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='pvt'").fetchone()
        if row is None or "WITHOUT ROWID" not in str(row[0]).upper():
            return
        self._w.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, _PVT_MIGRATION.split(";")):
                self._w.execute(statement)
            self._w.execute("COMMIT")
        except sqlite3.Error:
            self._w.execute("ROLLBACK")
            raise
        log.info("ledger of channel %s: private data table moved to the rowid layout", self.channel)

    def close(self) -> None:
        """Close both database connections."""
        with self._wlock, self._rlock:
            self._r.close()
            self._w.close()

    # ------------------------------------------------------------------ blocks

    def _verify_chain(self) -> tuple[int, bytes]:
        prev_hash = b""
        expected = 0
        for num, stored_hash, data in self._w.execute("SELECT num, hash, data FROM blocks ORDER BY num"):
            where = f"channel {self.channel}: block {num}"
            if num != expected:
                raise LedgerCorrupted(f"{where}: missing block {expected} (store is not contiguous)")
            block = common_pb2.Block()
            try:
                block.ParseFromString(data)
            except DecodeError as exc:
                raise LedgerCorrupted(f"{where}: block bytes do not decode as a Fabric block") from exc
            if block.header.number != num:
                raise LedgerCorrupted(f"{where}: header names block {block.header.number}")
            if block_data_hash(block.data) != block.header.data_hash:
                raise LedgerCorrupted(f"{where}: data hash mismatch (block data was altered)")
            if num > 0 and block.header.previous_hash != prev_hash:
                raise LedgerCorrupted(f"{where}: previous hash does not match block {num - 1}")
            prev_hash = block_header_hash(block.header)
            if prev_hash != stored_hash:
                raise LedgerCorrupted(f"{where}: header hash mismatch")
            expected += 1
        return expected, prev_hash

    @property
    def height(self) -> int:
        """Number of blocks (the next block's number)."""
        return self._height

    @property
    def last_hash(self) -> bytes:
        """Header hash of the last block (b"" before block 0)."""
        return self._last_hash

    def _q(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._rlock:
            return self._r.execute(sql, args).fetchall()

    def block_bytes(self, num: int) -> bytes | None:
        """The marshalled block ``num``, or None."""
        rows = self._q("SELECT data FROM blocks WHERE num=?", (num,))
        return rows[0][0] if rows else None

    def block_number_by_hash(self, header_hash: bytes) -> int | None:
        """Number of the block whose header hash is ``header_hash``, or None."""
        rows = self._q("SELECT num FROM blocks WHERE hash=?", (header_hash,))
        return rows[0][0] if rows else None

    def tx_location(self, tx_id: str) -> tuple[int, int, int] | None:
        """(block, index, validation code) of the first occurrence of ``tx_id``, or None."""
        rows = self._q("SELECT block, idx, code FROM txs WHERE txid=?", (tx_id,))
        return rows[0] if rows else None

    # ------------------------------------------------------------------ state

    def get_state(self, ns: str, key: str) -> StateRow | None:
        """The committed value of ``key`` in namespace ``ns``, or None."""
        rows = self._q("SELECT value, vb, vt, meta FROM state WHERE ns=? AND key=?", (ns, key.encode()))
        if not rows:
            return None
        value, vb, vt, meta = rows[0]
        return StateRow(key, value, (vb, vt), decode_metadata(meta))

    def get_states(self, ns: str, keys: list[str]) -> dict[str, StateRow]:
        """The committed rows of those ``keys`` of namespace ``ns`` that exist (one query per 900 keys)."""
        out: dict[str, StateRow] = {}
        for start in range(0, len(keys), 900):
            chunk = [k.encode() for k in keys[start:start + 900]]
            sql = f"SELECT key, value, vb, vt, meta FROM state WHERE ns=? AND key IN ({','.join('?' * len(chunk))})"
            for key, value, vb, vt, meta in self._q(sql, (ns, *chunk)):
                name = key.decode()
                out[name] = StateRow(name, value, (vb, vt), decode_metadata(meta))
        return out

    def range_scan(self, ns: str, start: str, end: str, limit: int, *, writer: bool = False) -> list[StateRow]:
        """Up to ``limit`` committed entries with start <= key < end (end "" = unbounded), key order."""
        sql = "SELECT key, value, vb, vt FROM state WHERE ns=? AND key>=?"
        args: tuple = (ns, start.encode())
        if end:
            sql += " AND key<?"
            args += (end.encode(),)
        sql += " ORDER BY key LIMIT ?"
        args += (limit,)
        if writer:
            with self._wlock:
                rows = self._w.execute(sql, args).fetchall()
        else:
            rows = self._q(sql, args)
        return [StateRow(k.decode(errors="surrogateescape"), v, (b, t)) for k, v, b, t in rows]

    def history(self, ns: str, key: str) -> list[tuple[str, bytes | None, bool, int, int]]:
        """(tx id, value, is_delete, ts_seconds, ts_nanos) of every committed change of a key, newest first.

        As Fabric's history database, a history row points at the transaction (block, index) and the value is
        read from that transaction's write set in the block store; rows written before this layout carry
        their value themselves (both are served)."""
        rows = self._q("SELECT txid, value, is_delete, ts_s, ts_n, block, tx FROM history WHERE ns=? AND key=? "
                       "ORDER BY block DESC, tx DESC", (ns, key.encode()))
        return [(txid, value if value is not None or is_delete else self._written_value(block, tx, ns, key),
                 is_delete, ts_s, ts_n) for txid, value, is_delete, ts_s, ts_n, block, tx in rows]

    def _written_value(self, num: int, idx: int, ns: str, key: str) -> bytes | None:
        """The value transaction ``idx`` of block ``num`` wrote to ``ns``/``key`` (None if the block does not
        hold that write: a ledger damaged behind its back)."""
        writes = self._tx_writes.get((num, idx))
        if writes is None:
            rows = self._q("SELECT data FROM blocks WHERE num=?", (num,))
            writes = _tx_writes(rows[0][0], idx) if rows else {}
            with self._rlock:
                if len(self._tx_writes) >= 16:
                    self._tx_writes.pop(next(iter(self._tx_writes)))
                self._tx_writes[(num, idx)] = writes
        return writes.get((ns, key))

    def get_pvt_hash(self, ns: str, coll: str, key_hash: bytes) -> tuple[bytes, Version, dict[str, bytes]] | None:
        """(value hash, version, metadata) of a private key's public hash, or None."""
        rows = self._q("SELECT vhash, vb, vt, meta FROM pvt_hash WHERE ns=? AND coll=? AND khash=?",
                       (ns, coll, key_hash))
        return (rows[0][0], (rows[0][1], rows[0][2]), decode_metadata(rows[0][3])) if rows else None

    def get_pvt(self, org: str, ns: str, coll: str, key: str) -> tuple[bytes, Version] | None:
        """A private value as kept at ``org``'s peer, or None."""
        rows = self._q("SELECT value, vb, vt FROM pvt WHERE org=? AND ns=? AND coll=? AND key=?",
                       (org, ns, coll, key.encode()))
        return (rows[0][0], (rows[0][1], rows[0][2])) if rows else None

    def pvt_range(self, org: str, ns: str, coll: str, start: str, end: str, limit: int) -> list[StateRow]:
        """Private entries kept at ``org``'s peer with start <= key < end (end "" = unbounded)."""
        sql = "SELECT key, value, vb, vt FROM pvt WHERE org=? AND ns=? AND coll=? AND key>=?"
        args: tuple = (org, ns, coll, start.encode())
        if end:
            sql += " AND key<?"
            args += (end.encode(),)
        rows = self._q(sql + " ORDER BY key LIMIT ?", args + (limit,))
        return [StateRow(k.decode(errors="surrogateescape"), v, (b, t)) for k, v, b, t in rows]

    def writer_get(self, ns: str, key: str) -> StateRow | None:
        """Like :meth:`get_state` through the writer connection (used by the validator)."""
        with self._wlock:
            row = self._w.execute("SELECT value, vb, vt, meta FROM state WHERE ns=? AND key=?",
                                  (ns, key.encode())).fetchone()
        return StateRow(key, row[0], (row[1], row[2]), decode_metadata(row[3])) if row else None

    def writer_get_pvt_hash(self, ns: str, coll: str, key_hash: bytes) -> tuple[bytes, Version, dict[str, bytes]] | None:
        """Like :meth:`get_pvt_hash` through the writer connection (used by the validator)."""
        with self._wlock:
            row = self._w.execute("SELECT vhash, vb, vt, meta FROM pvt_hash WHERE ns=? AND coll=? AND khash=?",
                                  (ns, coll, key_hash)).fetchone()
        return (row[0], (row[1], row[2]), decode_metadata(row[3])) if row else None

    def tx_exists(self, tx_id: str) -> bool:
        """True if ``tx_id`` is already in a committed block (writer connection)."""
        with self._wlock:
            return self._w.execute("SELECT 1 FROM txs WHERE txid=?", (tx_id,)).fetchone() is not None

    def committed_tx_ids(self, tx_ids: list[str]) -> set[str]:
        """Those of ``tx_ids`` already in a committed block (writer connection; few queries per block)."""
        found: set[str] = set()
        unique = list(dict.fromkeys(tx_ids))
        with self._wlock:
            for i in range(0, len(unique), _IN_CHUNK):
                chunk = unique[i:i + _IN_CHUNK]
                sql = f"SELECT txid FROM txs WHERE txid IN ({','.join('?' * len(chunk))})"
                found.update(row[0] for row in self._w.execute(sql, chunk))
        return found

    # ------------------------------------------------------------------ commit

    def commit(self, block: common_pb2.Block, batch: UpdateBatch) -> None:
        """Append ``block`` and apply ``batch`` in one SQLite transaction.

        Raises:
            LedgerError: the block does not extend the chain, or SQLite fails (nothing is written).
        """
        num = block.header.number
        if num != self._height or (num > 0 and block.header.previous_hash != self._last_hash):
            raise LedgerError(f"channel {self.channel}: block {num} does not extend the chain at height "
                              f"{self._height}")
        header_hash = block_header_hash(block.header)
        with self._wlock:
            try:
                self._w.execute("BEGIN IMMEDIATE")
                self._apply(num, header_hash, block, batch)
                self._w.execute("COMMIT")
            except sqlite3.Error as exc:
                self._w.execute("ROLLBACK")
                raise LedgerError(f"channel {self.channel}: cannot commit block {num}: {exc}") from exc
        self._height = num + 1
        self._last_hash = header_hash

    def _apply(self, num: int, header_hash: bytes, block: common_pb2.Block, batch: UpdateBatch) -> None:
        w = self._w
        w.execute("INSERT INTO blocks (num, hash, data) VALUES (?,?,?)", (num, header_hash, block.SerializeToString()))
        w.executemany("INSERT OR IGNORE INTO txs (txid, block, idx, code) VALUES (?,?,?,?)", batch.txs)
        deletes, upserts, replaces = [], [], []  # distinct keys: the order between the groups is free
        for (ns, key), (value, (vb, vt), meta) in batch.state.items():
            kb = key.encode()
            if value is None:
                deletes.append((ns, kb))
            elif meta is None:
                upserts.append((ns, kb, value, vb, vt))
            else:
                replaces.append((ns, kb, value, vb, vt, encode_metadata(meta)))
        w.executemany("DELETE FROM state WHERE ns=? AND key=?", deletes)
        w.executemany("INSERT INTO state (ns, key, value, vb, vt, meta) VALUES (?,?,?,?,?,NULL) "
                      "ON CONFLICT(ns, key) DO UPDATE SET value=excluded.value, vb=excluded.vb, vt=excluded.vt",
                      upserts)
        w.executemany("INSERT OR REPLACE INTO state (ns, key, value, vb, vt, meta) VALUES (?,?,?,?,?,?)", replaces)
        # distinct keys per table: deletes and upserts may go as two statements, each over many rows
        w.executemany("DELETE FROM pvt_hash WHERE ns=? AND coll=? AND khash=?",
                      [(ns, coll, kh) for (ns, coll, kh), (vh, _v, _m) in batch.pvt_hash.items() if vh is None])
        w.executemany("INSERT INTO pvt_hash (ns, coll, khash, vhash, vb, vt, meta) VALUES (?,?,?,?,?,?,?) "
                      "ON CONFLICT(ns, coll, khash) DO UPDATE SET vhash=excluded.vhash, vb=excluded.vb, "
                      "vt=excluded.vt, meta=COALESCE(excluded.meta, pvt_hash.meta)",
                      [(ns, coll, kh, vh, vb, vt, encode_metadata(meta) if meta else None)
                       for (ns, coll, kh), (vh, (vb, vt), meta) in batch.pvt_hash.items() if vh is not None])
        w.executemany("DELETE FROM pvt WHERE org=? AND ns=? AND coll=? AND key=?",
                      [(org, ns, coll, key.encode()) for (org, ns, coll, key), (value, _v) in batch.pvt.items()
                       if value is None])
        w.executemany("INSERT OR REPLACE INTO pvt (org, ns, coll, key, value, vb, vt) VALUES (?,?,?,?,?,?,?)",
                      [(org, ns, coll, key.encode(), value, vb, vt)
                       for (org, ns, coll, key), (value, (vb, vt)) in batch.pvt.items() if value is not None])
        w.executemany("INSERT OR REPLACE INTO history (ns, key, block, tx, txid, value, is_delete, ts_s, ts_n) "
                      "VALUES (?,?,?,?,?,?,?,?,?)",
                      [(ns, key.encode(), *rest) for ns, key, *rest in batch.history])
