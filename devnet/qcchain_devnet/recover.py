"""Tamper detection and recovery of a devnet channel ledger (as Fabric's ``peer node rebuild-dbs`` + re-join).

Detection (:func:`check_ledger`): the block hash chain is re-checked, then the world state, history,
transaction index and private-data hashes are recomputed — the last verified snapshot plus a replay of the
valid transactions' write sets of every later block (validation codes from the block's
TRANSACTIONS_FILTER, as the committer wrote them) — and compared with what the ledger holds.

Recovery (:func:`recover_ledger`): a new ledger is built the same way, with the blocks after the snapshot
taken from a trusted source (another node's ledger, or this one's blocks while their chain verifies);
private values are kept only where their SHA-256 hashes match the rebuilt hashes. The damaged file is kept
aside (``<channel>.sqlite.replaced-<n>``), never deleted, and the report says which tables and keys were
replaced. Run it with the devnet stopped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2

from .errors import LedgerError, SnapshotError, UnpackError
from .ledger import Ledger, UpdateBatch
from .protoutil import unpack_envelope
from .snapshot import (DB_NAME, Manifest, check_chain, content_digests, keep_aside, ledger_path, list_snapshots,
                       verify_snapshot)

log = logging.getLogger(__name__)

__all__ = ["LedgerCheck", "RecoveryReport", "check_ledger", "latest_verified_snapshot", "recover_ledger",
           "replay_batch"]

_VALID, _DUPLICATE = 0, 2
_FILTER = 2  # BlockMetadataIndex.TRANSACTIONS_FILTER


@dataclass
class LedgerCheck:
    """What :func:`check_ledger` found: ``problems`` is empty when the ledger is intact."""

    channel: str
    height: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was found altered."""
        return not self.problems


@dataclass
class RecoveryReport:
    """What :func:`recover_ledger` did."""

    channel: str
    snapshot: Path
    snapshot_height: int
    height: int
    replaced_tables: list[str]
    changed_state_keys: list[str]
    kept_aside: Path | None
    blocks_lost: int


def latest_verified_snapshot(root: Path, channel: str) -> Manifest:
    """The highest snapshot of ``channel`` under ``root`` that verifies (broken ones are skipped, logged).

    Raises:
        SnapshotError: none verifies.
    """
    problems = []
    for path in reversed(list_snapshots(root, channel)):
        try:
            return verify_snapshot(path, channel)
        except SnapshotError as exc:
            log.warning("skipping snapshot: %s", exc)
            problems.append(str(exc))
    raise SnapshotError(f"no verified snapshot of channel {channel} under {root}"
                        + (f" ({'; '.join(problems)})" if problems else ""))


def _writes(raw: bytes, cls: type) -> object:
    msg = cls()
    msg.ParseFromString(raw)
    return msg


def replay_batch(ledger: Ledger, block: common_pb2.Block) -> UpdateBatch:
    """The updates the committer applied for ``block``: the write sets of its valid transactions (codes from
    the TRANSACTIONS_FILTER metadata), without private values (those are not in blocks)."""
    codes = block.metadata.metadata[_FILTER] if len(block.metadata.metadata) > _FILTER else b""
    batch = UpdateBatch()
    seen: set[str] = set()
    num = block.header.number
    for idx, raw in enumerate(block.data.data):
        code = codes[idx] if idx < len(codes) else _VALID
        try:
            env = unpack_envelope(raw)
        except UnpackError:
            continue
        tx_id = env.channel_header.tx_id
        if tx_id and code != _DUPLICATE and tx_id not in seen and not ledger.tx_exists(tx_id):
            batch.txs.append((tx_id, num, idx, code))
        seen.add(tx_id)
        if code != _VALID or env.cc_action is None:
            continue
        _apply(ledger, batch, env, (num, idx))
    return batch


def _apply(ledger: Ledger, batch: UpdateBatch, env: object, version: tuple[int, int]) -> None:
    rwset = _writes(env.cc_action.results, rwset_pb2.TxReadWriteSet)  # type: ignore[attr-defined]
    ts, tx_id = env.channel_header.timestamp, env.channel_header.tx_id  # type: ignore[attr-defined]
    for ns in rwset.ns_rwset:  # type: ignore[attr-defined]
        kv = _writes(ns.rwset, kv_rwset_pb2.KVRWSet)
        metas = {m.key: {e.name: e.value for e in m.entries} for m in kv.metadata_writes}  # type: ignore[attr-defined]
        for w in kv.writes:  # type: ignore[attr-defined]
            value = None if w.is_delete else w.value
            batch.state[(ns.namespace, w.key)] = (value, version, None if value is None else metas.pop(w.key, None))
            batch.history.append((ns.namespace, w.key, version[0], version[1], tx_id, None, int(w.is_delete),
                                  ts.seconds, ts.nanos))
        for key, meta in metas.items():
            pending = batch.state.get((ns.namespace, key))
            current = pending[0] if pending else (row.value if (row := ledger.writer_get(ns.namespace, key)) else None)
            if current is not None:
                batch.state[(ns.namespace, key)] = (current, version, meta)
        for c in ns.collection_hashed_rwset:
            hashed = _writes(c.hashed_rwset, kv_rwset_pb2.HashedRWSet)
            hmetas = {m.key_hash: {e.name: e.value for e in m.entries} for m in hashed.metadata_writes}  # type: ignore[attr-defined]
            for w in hashed.hashed_writes:  # type: ignore[attr-defined]
                vh = None if w.is_delete else w.value_hash
                batch.pvt_hash[(ns.namespace, c.collection_name, w.key_hash)] = (vh, version, hmetas.pop(w.key_hash, None))
            for kh, meta in hmetas.items():
                k = (ns.namespace, c.collection_name, kh)
                existing = batch.pvt_hash.get(k) or ledger.writer_get_pvt_hash(*k)
                if existing is not None and existing[0] is not None:
                    batch.pvt_hash[k] = (existing[0], version, meta)


def _blocks(conn: sqlite3.Connection, start: int) -> list[common_pb2.Block]:
    return [common_pb2.Block.FromString(data)
            for (data,) in conn.execute("SELECT data FROM blocks WHERE num>=? ORDER BY num", (start,))]


def _good_prefix(conn: sqlite3.Connection, where: str) -> tuple[int, str | None]:
    """(number of leading blocks whose chain verifies, the first problem or None)."""
    try:
        height, _ = check_chain(conn, where)
        return height, None
    except SnapshotError as exc:
        good = 0
        for (num,) in conn.execute("SELECT num FROM blocks ORDER BY num"):
            probe = sqlite3.connect(":memory:")
            try:
                probe.execute("CREATE TABLE blocks (num INTEGER PRIMARY KEY, hash BLOB, data BLOB)")
                probe.executemany("INSERT INTO blocks VALUES (?,?,?)",
                                  conn.execute("SELECT num, hash, data FROM blocks WHERE num<=?", (num,)))
                check_chain(probe, where)
                good = num + 1
            except SnapshotError:
                break
            finally:
                probe.close()
        return good, str(exc)


def _rebuild(snapshot: Manifest, blocks: list[common_pb2.Block], out: Path, channel: str) -> None:
    shutil.copyfile(snapshot.path / DB_NAME, out)
    ledger = Ledger(out, channel)
    try:
        for block in blocks:
            if block.header.number < ledger.height:
                continue
            ledger.commit(block, replay_batch(ledger, block))
    except LedgerError as exc:
        raise SnapshotError(f"channel {channel}: cannot replay onto snapshot {snapshot.path}: {exc}") from exc
    finally:
        ledger.close()


def _copy_private(sources: list[Path], out: Path) -> None:
    """Private values from ``sources`` whose (key, value) SHA-256 match the rebuilt hashes and version."""
    conn = sqlite3.connect(out)
    try:
        for src in sources:
            if not src.is_file():
                continue
            other = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
            rows = other.execute("SELECT org, ns, coll, key, value, vb, vt FROM pvt").fetchall()
            other.close()
            for org, ns, coll, key, value, vb, vt in rows:
                kh, vh = hashlib.sha256(bytes(key)).digest(), hashlib.sha256(bytes(value)).digest()
                if conn.execute("SELECT 1 FROM pvt_hash WHERE ns=? AND coll=? AND khash=? AND vhash=? AND vb=? "
                                "AND vt=?", (ns, coll, kh, vh, vb, vt)).fetchone():
                    conn.execute("INSERT OR IGNORE INTO pvt VALUES (?,?,?,?,?,?,?)",
                                 (org, ns, coll, key, value, vb, vt))
        conn.commit()
    finally:
        conn.close()


def _digests(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return content_digests(conn)
    finally:
        conn.close()


def _state_diff(a: Path, b: Path, limit: int = 50) -> list[str]:
    conn = sqlite3.connect(f"file:{a}?mode=ro", uri=True)
    try:
        conn.execute("ATTACH DATABASE ? AS other", (f"file:{b}?mode=ro",))
        rows = conn.execute(
            "SELECT ns, key FROM state s WHERE NOT EXISTS (SELECT 1 FROM other.state o WHERE o.ns=s.ns AND "
            "o.key=s.key AND o.value=s.value AND o.vb=s.vb AND o.vt=s.vt AND o.meta IS s.meta) UNION "
            "SELECT ns, key FROM other.state o WHERE NOT EXISTS (SELECT 1 FROM state s WHERE s.ns=o.ns AND "
            "s.key=o.key) ORDER BY 1, 2 LIMIT ?", (limit,)).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    return [f"{ns}/{bytes(key).decode(errors='replace')}" for ns, key in rows]


def check_ledger(state_dir: Path, channel: str, snapshots: Path, work_dir: Path) -> LedgerCheck:
    """Re-check ``channel``'s ledger against its chain and against a rebuild from the last verified snapshot.

    Raises:
        SnapshotError: no ledger, or no verified snapshot to rebuild from.
    """
    path = ledger_path(state_dir, channel)
    if not path.is_file():
        raise SnapshotError(f"no ledger of channel {channel} at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        good, problem = _good_prefix(conn, f"channel {channel}")
        height = conn.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]
        snap = latest_verified_snapshot(snapshots, channel)
        blocks = _blocks(conn, snap.height)
    finally:
        conn.close()
    check = LedgerCheck(channel, height, [problem] if problem else [])
    if good < snap.height:
        return check
    work_dir.mkdir(parents=True, exist_ok=True)
    rebuilt = work_dir / f"check-{channel}-{os.getpid()}.sqlite"
    try:
        _rebuild(snap, [b for b in blocks if b.header.number < good], rebuilt, channel)
        _copy_private([path], rebuilt)
        mine, expected = _digests(path), _digests(rebuilt)
        for table in ("state", "history", "txs", "pvt_hash", "pvt"):
            if mine[table] != expected[table]:
                keys = _state_diff(path, rebuilt) if table == "state" else []
                check.problems.append(f"{table} differs from the rebuild of snapshot {snap.height} + blocks"
                                      + (f" (keys: {', '.join(keys)})" if keys else ""))
    finally:
        for p in work_dir.glob(rebuilt.name + "*"):
            p.unlink(missing_ok=True)
    return check


def recover_ledger(state_dir: Path, channel: str, snapshots: Path, blocks_from: Path | None = None) -> RecoveryReport:
    """Rebuild ``channel``'s ledger from the last verified snapshot plus blocks (from ``blocks_from`` — another
    node's ledger file — when given and its chain verifies, else this ledger's verifying prefix).

    Raises:
        SnapshotError: no verified snapshot, the block source does not chain onto it (nothing replaced).
    """
    path = ledger_path(state_dir, channel)
    snap = latest_verified_snapshot(snapshots, channel)
    source = blocks_from if blocks_from is not None else path
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        good, problem = _good_prefix(conn, f"block source {source}")
        blocks = [b for b in _blocks(conn, snap.height) if b.header.number < good]
        total = conn.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]
    except sqlite3.Error as exc:
        raise SnapshotError(f"block source {source}: not a ledger ({exc})") from exc
    finally:
        conn.close()
    if blocks_from is not None and problem:
        raise SnapshotError(f"block source {blocks_from} does not verify: {problem}")
    tmp = path.with_name(f".{path.name}.recover-{os.getpid()}")
    try:
        _rebuild(snap, blocks, tmp, channel)
        _copy_private([p for p in (path, blocks_from) if p is not None], tmp)
        before = _digests(path) if path.is_file() else {}
        after = _digests(tmp)
        replaced = sorted(t for t in after if before.get(t) != after[t])
        changed = _state_diff(path, tmp) if path.is_file() else []
        aside = keep_aside(path) if path.is_file() else None
        os.replace(tmp, path)
    finally:
        for p in path.parent.glob(tmp.name + "*"):
            p.unlink(missing_ok=True)
    height = snap.height + len(blocks)
    log.warning("channel %s: ledger rebuilt from snapshot %d + %d blocks; replaced: %s", channel, snap.height,
                len(blocks), ", ".join(replaced) or "nothing")
    return RecoveryReport(channel, snap.path, snap.height, height, replaced, changed, aside,
                          max(0, total - good) if blocks_from is None else 0)
