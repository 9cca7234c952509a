"""Archive a devnet channel's blocks (and snapshots) with an SM3 manifest; verify; refuse unarchived purges.

``archive_blocks`` exports blocks ``[from, below)`` — continuing where the channel's archive stops — to
``<archive>/<channel>/blocks-<from>-<below>/`` (one ``<num>.block`` file each, the marshalled
``common.Block``) plus ``manifest.json`` (format, channel, range, SM3 of every file, header hash of the
last block). ``verify_archive`` re-digests the files and re-checks the hash chain across all segments.
``check_purge`` refuses to let a node's data be removed while it holds blocks not archived elsewhere,
unless forced with a reason, which is then recorded in the operations log (T-8.1.2g–h).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from fabric_protos.common import common_pb2

from .errors import SnapshotError
from .protoutil import block_data_hash, block_header_hash
from .snapshot import file_sm3, ledger_path, verify_snapshot

log = logging.getLogger(__name__)
ops_log = logging.getLogger("qcchain.operations")

__all__ = ["ArchiveSegment", "archive_blocks", "archive_snapshot", "archived_height", "check_purge",
           "disk_free_ratio", "verify_archive"]

FORMAT = "qcchain-devnet-archive/1"


@dataclass(frozen=True)
class ArchiveSegment:
    """One verified archive segment: blocks ``[start, end)`` of ``channel``."""

    path: Path
    channel: str
    start: int
    end: int
    last_block_hash: str


def _segments(root: Path, channel: str) -> list[Path]:
    base = Path(root) / channel
    if not base.is_dir():
        return []
    found = [p for p in base.iterdir() if p.is_dir() and p.name.startswith("blocks-")]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def _verify_segment(path: Path, channel: str, prev_hash: bytes | None) -> tuple[ArchiveSegment, bytes]:
    try:
        raw = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"{path}: no readable manifest.json ({type(exc).__name__})") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.get("channel") != channel:
        raise SnapshotError(f"{path}: not an archive of channel {channel}")
    start, end, files = int(raw["start"]), int(raw["end"]), dict(raw["files"])
    expected = {f"{n:010d}.block" for n in range(start, end)}
    present = {p.name for p in path.glob("*.block")}
    if set(files) != expected or present != expected:
        raise SnapshotError(f"{path}: block files do not match the manifest (expected {start}..{end - 1})")
    prev = prev_hash
    for num in range(start, end):
        name = f"{num:010d}.block"
        if file_sm3(path / name) != files[name]:
            raise SnapshotError(f"{path}: {name} does not match the manifest's SM3")
        block = common_pb2.Block.FromString((path / name).read_bytes())
        if block.header.number != num or block_data_hash(block.data) != block.header.data_hash:
            raise SnapshotError(f"{path}: block {num} is altered")
        if prev is not None and num > 0 and block.header.previous_hash != prev:
            raise SnapshotError(f"{path}: block {num} does not chain to block {num - 1}")
        prev = block_header_hash(block.header)
    if prev is None or prev.hex() != raw["last_block_hash"]:
        raise SnapshotError(f"{path}: last block hash does not match the manifest")
    return ArchiveSegment(path, channel, start, end, raw["last_block_hash"]), prev


def verify_archive(root: Path, channel: str) -> list[ArchiveSegment]:
    """Verify every segment of ``channel`` under ``root`` and that they are contiguous from block 0.

    Raises:
        SnapshotError: a file, digest, manifest or chain link does not match (one line).
    """
    out: list[ArchiveSegment] = []
    prev: bytes | None = None
    for path in _segments(root, channel):
        seg, prev = _verify_segment(path, channel, prev)
        if seg.start != (out[-1].end if out else 0):
            raise SnapshotError(f"{path}: starts at block {seg.start}, expected {out[-1].end if out else 0}")
        out.append(seg)
    return out


def archived_height(root: Path, channel: str) -> int:
    """Blocks ``[0, n)`` of ``channel`` are archived and verify under ``root``; returns n. Raises SnapshotError."""
    segments = verify_archive(root, channel)
    return segments[-1].end if segments else 0


def archive_blocks(state_dir: Path, channel: str, below: int, root: Path) -> ArchiveSegment | None:
    """Export the channel's blocks from the archive's end up to ``below`` (exclusive); None if nothing new.

    Raises:
        SnapshotError: no ledger, ``below`` beyond its height, or the existing archive does not verify.
    """
    start = archived_height(root, channel)
    src = ledger_path(state_dir, channel)
    if not src.is_file():
        raise SnapshotError(f"no ledger of channel {channel} at {src}")
    conn = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    try:
        height = conn.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]
        if below > height:
            raise SnapshotError(f"channel {channel} has {height} blocks; cannot archive below {below}")
        if below <= start:
            return None
        rows = conn.execute("SELECT num, data FROM blocks WHERE num>=? AND num<? ORDER BY num", (start, below)).fetchall()
    finally:
        conn.close()
    final = Path(root) / channel / f"blocks-{start}-{below}"
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        files = {}
        for num, data in rows:
            name = f"{num:010d}.block"
            (tmp / name).write_bytes(data)
            files[name] = file_sm3(tmp / name)
        last = block_header_hash(common_pb2.Block.FromString(rows[-1][1]).header).hex()
        manifest = {"format": FORMAT, "channel": channel, "start": start, "end": below, "files": files,
                    "last_block_hash": last}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    verify_archive(root, channel)
    ops_log.info("archived channel %s blocks %d..%d to %s", channel, start, below - 1, final,
                 extra={"category": "operations"})
    return ArchiveSegment(final, channel, start, below, last)


def archive_snapshot(snapshot: Path, root: Path) -> Path:
    """Copy a verified snapshot into ``<root>/<channel>/snapshots/<height>/`` and verify the copy.

    Raises:
        SnapshotError: the snapshot or its copy does not verify, or the copy exists.
    """
    manifest = verify_snapshot(snapshot)
    final = Path(root) / manifest.channel / "snapshots" / str(manifest.height)
    if final.exists():
        raise SnapshotError(f"{final} exists already")
    final.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(snapshot, final)
    verify_snapshot(final, manifest.channel)
    return final


def disk_free_ratio(path: Path) -> float:
    """Free fraction of the file system holding ``path``."""
    st = os.statvfs(path)
    return st.f_bavail / st.f_blocks if st.f_blocks else 0.0


def check_purge(state_dir: Path, channels: list[str], root: Path | None, *, force_reason: str | None = None) -> None:
    """Allow removing a node's data only when every channel's blocks are archived and verify under ``root``.

    Raises:
        SnapshotError: unarchived blocks remain and no ``force_reason`` was given (nothing is removed).
    """
    missing = []
    for channel in channels:
        path = ledger_path(state_dir, channel)
        if not path.is_file():
            continue
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        height = conn.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]
        conn.close()
        done = archived_height(root, channel) if root is not None else 0
        if done < height:
            missing.append(f"{channel} (blocks {done}..{height - 1})")
    if not missing:
        return
    if not force_reason:
        raise SnapshotError(f"refusing to remove {state_dir}: data not archived: {', '.join(missing)}; archive "
                            "it first (qcchain ledger archive) or force with a reason")
    ops_log.warning("forced removal of %s with unarchived data %s; reason: %s", state_dir, ", ".join(missing),
                    force_reason, extra={"category": "operations"})
