"""Consistent snapshots of a devnet channel ledger with an SM3 manifest: create, verify, list, restore.

A snapshot is a directory ``<root>/<channel>/<height>/`` holding ``ledger.sqlite`` — a point-in-time copy of
the channel's blocks, transaction index, world state, history and private data, taken with SQLite's
online backup (one read transaction, so it is consistent while the devnet keeps committing) — and
``manifest.json``::

    {"format": "qcchain-devnet-snapshot/1", "channel": ..., "height": ..., "last_block_hash": hex,
     "created": ISO-8601, "file_sm3": hex, "content_sm3": {"blocks": hex, "txs": hex, "state": hex, ...}}

``content_sm3`` digests each table's rows in primary-key order (independent of SQLite's file layout), so
two ledgers are equal exactly when their content digests are (:func:`content_digests`). Verification
re-digests the file, the content and re-checks the block hash chain; restore writes a temporary file
and renames it into place only after it verified, so nothing is ever half-restored.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from fabric_protos.common import common_pb2
from google.protobuf.message import DecodeError
from qcchain_core.gm import SM3Hasher

from .errors import SnapshotError
from .protoutil import block_data_hash, block_header_hash

log = logging.getLogger(__name__)

__all__ = ["FORMAT", "Manifest", "TABLES", "check_chain", "content_digests", "create_snapshot", "file_sm3",
           "ledger_path", "list_snapshots", "restore_snapshot", "verify_snapshot"]

FORMAT = "qcchain-devnet-snapshot/1"
DB_NAME, MANIFEST_NAME = "ledger.sqlite", "manifest.json"
TABLES: dict[str, str] = {"blocks": "num", "txs": "txid", "state": "ns, key", "history": "ns, key, block, tx",
                          "pvt_hash": "ns, coll, khash", "pvt": "org, ns, coll, key"}


@dataclass(frozen=True)
class Manifest:
    """A snapshot's manifest (see the module docstring)."""

    path: Path
    channel: str
    height: int
    last_block_hash: str
    created: str
    file_sm3: str
    content_sm3: dict[str, str]

    def to_json(self) -> dict:
        """The manifest as written to ``manifest.json``."""
        return {"format": FORMAT, "channel": self.channel, "height": self.height,
                "last_block_hash": self.last_block_hash, "created": self.created, "file_sm3": self.file_sm3,
                "content_sm3": self.content_sm3}


def ledger_path(state_dir: Path, channel: str) -> Path:
    """Where the devnet keeps ``channel``'s ledger under ``state_dir``."""
    return Path(state_dir) / "ledger" / f"{channel}.sqlite"


def file_sm3(path: Path) -> str:
    """Hex SM3 of a file's bytes."""
    h = SM3Hasher()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.digest().hex()


def _encode(value: object) -> bytes:
    if value is None:
        return b"N"
    if isinstance(value, int):
        return b"I" + str(value).encode() + b";"
    raw = value.encode() if isinstance(value, str) else bytes(value)  # type: ignore[arg-type]
    return b"B" + str(len(raw)).encode() + b":" + raw


def content_digests(conn: sqlite3.Connection) -> dict[str, str]:
    """Per-table hex SM3 over every row in primary-key order (equal content ⇔ equal digests)."""
    out: dict[str, str] = {}
    for table, order in TABLES.items():
        h = SM3Hasher()
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY {order}"):  # noqa: S608 - fixed names
            h.update(b"".join(_encode(v) for v in row) + b"\n")
        out[table] = h.digest().hex()
    return out


def check_chain(conn: sqlite3.Connection, where: str) -> tuple[int, bytes]:
    """Re-check the block hash chain; returns (height, last header hash).

    Raises:
        SnapshotError: a block is missing, does not decode, or breaks the chain (names the block).
    """
    prev, expected = b"", 0
    for num, stored, data in conn.execute("SELECT num, hash, data FROM blocks ORDER BY num"):
        block = common_pb2.Block()
        try:
            block.ParseFromString(data)
        except DecodeError as exc:
            raise SnapshotError(f"{where}: block {num} does not decode") from exc
        if num != expected or block.header.number != num:
            raise SnapshotError(f"{where}: block {expected} missing or misnumbered")
        if block_data_hash(block.data) != block.header.data_hash:
            raise SnapshotError(f"{where}: block {num} data hash mismatch (block altered)")
        if num and block.header.previous_hash != prev:
            raise SnapshotError(f"{where}: block {num} does not chain to block {num - 1}")
        prev = block_header_hash(block.header)
        if prev != stored:
            raise SnapshotError(f"{where}: block {num} header hash mismatch")
        expected += 1
    return expected, prev


def _open_ro(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.execute("SELECT 1 FROM blocks LIMIT 1")
        return conn
    except sqlite3.Error as exc:
        raise SnapshotError(f"{path}: not a devnet ledger database ({exc})") from exc


def create_snapshot(state_dir: Path, channel: str, root: Path) -> Manifest:
    """Snapshot ``channel``'s ledger of the devnet in ``state_dir`` into ``root/<channel>/<height>/``.

    Raises:
        SnapshotError: no such ledger, it fails its chain check, or that snapshot exists already.
    """
    source = ledger_path(state_dir, channel)
    if not source.is_file():
        raise SnapshotError(f"no ledger of channel {channel} at {source}")
    tmp = Path(root) / channel / f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(tmp / DB_NAME)
        with src, dst:
            src.backup(dst)
        src.close()
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        dst.close()
        manifest = _describe(tmp / DB_NAME, channel, tmp)
        final = Path(root) / channel / str(manifest.height)
        if final.exists():
            raise SnapshotError(f"snapshot {final} exists already (channel {channel} at height {manifest.height})")
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("snapshot of channel %s at height %d written to %s", channel, manifest.height, final)
    return Manifest(final, **{k: v for k, v in manifest.to_json().items() if k not in ("format",)})


def _describe(db: Path, channel: str, where: Path) -> Manifest:
    conn = _open_ro(db)
    try:
        height, last = check_chain(conn, f"snapshot {where}")
        content = content_digests(conn)
    finally:
        conn.close()
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return Manifest(where, channel, height, last.hex(), created, file_sm3(db), content)


def verify_snapshot(path: Path, channel: str | None = None) -> Manifest:
    """Verify the snapshot directory ``path``: manifest format, channel (when given), file SM3, content SM3,
    height and hash chain.

    Raises:
        SnapshotError: one line naming what does not match.
    """
    path = Path(path)
    try:
        raw = json.loads((path / MANIFEST_NAME).read_text())
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"{path}: no readable {MANIFEST_NAME} ({type(exc).__name__})") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise SnapshotError(f"{path}: not a devnet ledger snapshot (format {raw.get('format') if isinstance(raw, dict) else None!r})")
    try:
        manifest = Manifest(path, raw["channel"], int(raw["height"]), raw["last_block_hash"], raw["created"],
                            raw["file_sm3"], dict(raw["content_sm3"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"{path}: manifest lacks {exc}") from exc
    if channel is not None and manifest.channel != channel:
        raise SnapshotError(f"{path}: snapshot of channel {manifest.channel}, not {channel} (foreign snapshot)")
    db = path / DB_NAME
    if not db.is_file():
        raise SnapshotError(f"{path}: {DB_NAME} is missing")
    if file_sm3(db) != manifest.file_sm3:
        raise SnapshotError(f"{path}: {DB_NAME} does not match the manifest's SM3 (altered or truncated)")
    actual = _describe(db, manifest.channel, path)
    if actual.height != manifest.height or actual.last_block_hash != manifest.last_block_hash:
        raise SnapshotError(f"{path}: holds height {actual.height}, manifest says {manifest.height}")
    bad = sorted(t for t in TABLES if actual.content_sm3.get(t) != manifest.content_sm3.get(t))
    if bad:
        raise SnapshotError(f"{path}: content of {', '.join(bad)} does not match the manifest")
    return manifest


def list_snapshots(root: Path, channel: str) -> list[Path]:
    """Snapshot directories of ``channel`` under ``root``, lowest height first (not verified)."""
    base = Path(root) / channel
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))


def restore_snapshot(path: Path, state_dir: Path, channel: str | None = None, *, replace: bool = False) -> Manifest:
    """Verify the snapshot at ``path`` and install it as the channel's ledger in ``state_dir``.

    Without ``replace`` an existing ledger is refused; with it the old file is kept beside the new one as
    ``<channel>.sqlite.replaced-<n>`` (never deleted). The copy is verified before the rename.

    Raises:
        SnapshotError: the snapshot does not verify, is foreign, or the target exists (nothing written).
    """
    manifest = verify_snapshot(path, channel)
    target = ledger_path(state_dir, manifest.channel)
    if target.exists() and not replace:
        raise SnapshotError(f"{target} exists; restore into a new state directory (or recover, which replaces)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.restore-{os.getpid()}")
    try:
        shutil.copyfile(Path(path) / DB_NAME, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        if file_sm3(tmp) != manifest.file_sm3:
            raise SnapshotError(f"{tmp}: copy does not match the manifest")
        if target.exists():
            keep_aside(target)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("restored channel %s at height %d into %s", manifest.channel, manifest.height, target)
    return manifest


def keep_aside(target: Path) -> Path:
    """Move ``target`` (and its -wal/-shm files) to ``<name>.replaced-<n>``; returns the new path."""
    n = 1
    while target.with_name(f"{target.name}.replaced-{n}").exists():
        n += 1
    aside = target.with_name(f"{target.name}.replaced-{n}")
    for suffix in ("-wal", "-shm"):
        side = target.with_name(target.name + suffix)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + suffix))
    os.replace(target, aside)
    return aside
