"""Ledger snapshots of a native Fabric network's peers (T-8.1.2f–h), through Fabric's own tools.

- :func:`submit_request` / :func:`list_pending` / :func:`cancel_request`: ``peer snapshot submitrequest |
  listpending | cancelrequest`` as the peer's org Admin (mutual TLS to the peer's admin service).
- :func:`completed`: the snapshots a peer has written (``<data>/snapshots/completed/<channel>/<height>``),
  each checked with Fabric's ``_snapshot_signable_metadata.json`` (file list with SHA-256 of each file).
- :func:`join_by_snapshot`: a peer (a new one, or one being rebuilt) leaves the channel (``peer node
  unjoin`` while it is stopped), is started again and joins from the snapshot (``peer channel
  joinbysnapshot``); it then pulls the blocks above the snapshot height from the orderers. Every such
  join is one line in ``operations.log``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from . import admin, procs, runner
from .derive import Layout, PeerNode
from .errors import NetworkError
from .render.processes import peer_env

log = logging.getLogger(__name__)

__all__ = ["Snapshot", "SnapshotError", "cancel_request", "completed", "join_by_snapshot", "join_from_snapshot",
           "list_pending",
           "peer_height", "peer_of", "submit_request", "verify_snapshot", "wait_completed"]

METADATA = "_snapshot_signable_metadata.json"
ADDITIONAL = "_snapshot_additional_metadata.json"  # its snapshot_hash is the SHA-256 of METADATA


class SnapshotError(NetworkError, ValueError):
    """A snapshot request, a snapshot directory or a join by snapshot failed (one line naming what)."""


@dataclass(frozen=True)
class Snapshot:
    """A completed snapshot of one peer: channel, height (blocks), directory, last block hash (hex)."""

    channel: str
    height: int
    path: Path
    last_block_hash: str


def peer_of(layout: Layout, host: str) -> PeerNode:
    """The peer named ``host``.

    Raises:
        SnapshotError: no such peer in the layout.
    """
    for peer in layout.peers:
        if peer.host == host:
            return peer
    raise SnapshotError(f"no peer {host!r} in this network (see network.sh status)")


def _snapshot_cmd(layout: Layout, peer_bin: Path, peer: PeerNode, action: str, channel: str, *extra: str) -> str:
    env = admin.admin_env(layout, layout.consortium.org(peer.org), peer)
    return admin.run_tool([str(peer_bin), "snapshot", action, "-c", channel, *extra,
                           "--peerAddress", f"{layout.host}:{peer.listen}",
                           "--tlsRootCertFile", str(admin.peer_ca(layout, peer))], env=env)


def peer_height(layout: Layout, peer_bin: Path, host: str, channel: str) -> int:
    """The block height of ``channel`` on peer ``host`` (``peer channel getinfo``).

    Raises:
        SnapshotError: no such peer or unreadable output. ToolError: the peer CLI failed.
    """
    peer = peer_of(layout, host)
    out = admin.run_tool([str(peer_bin), "channel", "getinfo", "-c", channel],
                         env=admin.admin_env(layout, layout.consortium.org(peer.org), peer))
    try:
        return int(json.loads(out[out.index("{"):])["height"])
    except (ValueError, KeyError, TypeError):
        raise SnapshotError(f"peer channel getinfo on {host}: unexpected output {out.strip()[:120]!r}") from None


def submit_request(layout: Layout, peer_bin: Path, host: str, channel: str, height: int = 0) -> None:
    """Ask peer ``host`` for a snapshot of ``channel`` at block ``height`` (0: the last committed block).

    Raises:
        SnapshotError: no such peer, negative height. ToolError: the peer refused (e.g. height already passed).
    """
    if height < 0:
        raise SnapshotError(f"snapshot height must be >= 0, not {height}")
    _snapshot_cmd(layout, peer_bin, peer_of(layout, host), "submitrequest", channel, "-b", str(height))
    procs.ops_log(layout.out, "snapshot-request", host, channel=channel, block=height, result="ok")


def list_pending(layout: Layout, peer_bin: Path, host: str, channel: str) -> list[int]:
    """Block numbers of the snapshot requests pending on peer ``host`` for ``channel``.

    Raises:
        SnapshotError: no such peer, or the output is not understood. ToolError: the peer CLI failed.
    """
    out = _snapshot_cmd(layout, peer_bin, peer_of(layout, host), "listpending", channel)
    match = re.search(r"\[([0-9 ,]*)\]", out)
    if match is None:
        raise SnapshotError(f"peer snapshot listpending on {host}: unexpected output {out.strip()[:120]!r}")
    return [int(n) for n in re.findall(r"\d+", match.group(1))]


def cancel_request(layout: Layout, peer_bin: Path, host: str, channel: str, height: int) -> None:
    """Cancel the pending snapshot request of ``channel`` at ``height`` on peer ``host``.

    Raises:
        SnapshotError: no such peer. ToolError: no such pending request.
    """
    _snapshot_cmd(layout, peer_bin, peer_of(layout, host), "cancelrequest", channel, "-b", str(height))
    procs.ops_log(layout.out, "snapshot-cancel", host, channel=channel, block=height, result="ok")


def verify_snapshot(path: Path) -> Snapshot:
    """Check a snapshot directory: the signable metadata against the snapshot hash of the additional metadata,
    and every file it lists against its SHA-256.

    Raises:
        SnapshotError: not a snapshot directory, metadata unreadable, a file missing or altered.
    """
    meta_file = Path(path) / METADATA
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        files = meta["snapshot_files_raw_hashes"]
        channel, last = str(meta["channel_name"]), int(meta["last_block_number"])
        block_hash = str(meta["last_block_hash"])
    except FileNotFoundError:
        raise SnapshotError(f"{path}: not a Fabric snapshot (no {METADATA})") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(f"{meta_file}: unreadable snapshot metadata ({type(exc).__name__})") from None
    try:
        extra = json.loads((Path(path) / ADDITIONAL).read_text(encoding="utf-8"))
        signed = str(extra["snapshot_hash"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(f"{path}: unreadable {ADDITIONAL} ({type(exc).__name__})") from None
    if hashlib.sha256(meta_file.read_bytes()).hexdigest() != signed:
        raise SnapshotError(f"{path}: {METADATA} does not match the snapshot hash in {ADDITIONAL}")
    for name, digest in sorted(files.items()):
        try:
            actual = hashlib.sha256((Path(path) / name).read_bytes()).hexdigest()
        except OSError:
            raise SnapshotError(f"{path}: snapshot file {name} is missing") from None
        if actual != digest:
            raise SnapshotError(f"{path}: snapshot file {name} does not match its SHA-256 in {METADATA}")
    return Snapshot(channel, last + 1, Path(path), block_hash)


def completed(layout: Layout, host: str, channel: str) -> list[Snapshot]:
    """The completed snapshots of ``channel`` on peer ``host``, lowest height first (each verified).

    Raises:
        SnapshotError: no such peer, or a completed snapshot fails :func:`verify_snapshot`.
    """
    root = peer_of(layout, host).data_dir / "snapshots" / "completed" / channel
    dirs = sorted((p for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)) \
        if root.is_dir() else []
    return [verify_snapshot(p) for p in dirs]


def wait_completed(layout: Layout, host: str, channel: str, block: int, timeout: float = 60.0) -> Snapshot:
    """Wait until peer ``host`` has written the snapshot of ``channel`` at ``block`` (last block number).

    Raises:
        SnapshotError: not written within ``timeout`` seconds, or it fails verification.
    """
    path = peer_of(layout, host).data_dir / "snapshots" / "completed" / channel / str(block)
    deadline = time.monotonic() + timeout
    while not (path / METADATA).is_file():
        if time.monotonic() > deadline:
            raise SnapshotError(f"{host}: no snapshot of {channel} at block {block} within {timeout:.0f}s")
        time.sleep(0.25)
    return verify_snapshot(path)


def _joining(layout: Layout, peer_bin: Path, peer: PeerNode) -> bool:
    out = admin.run_tool([str(peer_bin), "channel", "joinbysnapshotstatus"],
                         env=admin.admin_env(layout, layout.consortium.org(peer.org), peer))
    return "No joinbysnapshot operation is in progress" not in out


def join_from_snapshot(layout: Layout, peer_bin: Path, peer: PeerNode, snap: Snapshot, timeout: float = 120.0) -> None:
    """``peer channel joinbysnapshot`` on the running ``peer`` (which must not hold the channel), then wait
    until the join is done.

    Raises:
        SnapshotError: not done within ``timeout``. ToolError: the peer refused.
    """
    admin.run_tool([str(peer_bin), "channel", "joinbysnapshot", "--snapshotpath", str(snap.path.resolve())],
                   env=admin.admin_env(layout, layout.consortium.org(peer.org), peer), timeout=timeout)
    deadline = time.monotonic() + timeout
    while _joining(layout, peer_bin, peer):
        if time.monotonic() > deadline:
            raise SnapshotError(f"{peer.host}: join of {snap.channel} by snapshot not done within {timeout:.0f}s")
        time.sleep(0.5)


def join_by_snapshot(layout: Layout, peer_bin: Path, host: str, snapshot_dir: Path, timeout: float = 120.0) -> Snapshot:
    """Make peer ``host`` hold the snapshot's channel from the snapshot: stop it, ``peer node unjoin`` the
    channel if it had it, start it, ``peer channel joinbysnapshot``, wait until the join is done.

    Raises:
        SnapshotError: the snapshot fails verification, or the join does not finish within ``timeout``.
        ToolError, StartError: a Fabric command failed or the peer did not come back (the operations log says
        which step).
    """
    snap = verify_snapshot(snapshot_dir)
    peer = peer_of(layout, host)
    step = "stop"
    try:
        if host in runner.running(layout.out):
            runner.stop_node(layout, host)
        step = "unjoin"
        if (peer.data_dir / "production" / "ledgersData" / "chains" / "chains" / snap.channel).is_dir():
            admin.run_tool([str(peer_bin), "node", "unjoin", "-c", snap.channel], env=peer_env(layout, peer))
        step = "start"
        runner.start_node(layout, host)
        step = "joinbysnapshot"
        join_from_snapshot(layout, peer_bin, peer, snap, timeout)
    except BaseException as exc:
        procs.ops_log(layout.out, "join-by-snapshot", host, channel=snap.channel, snapshot=str(snap.path),
                      height=snap.height, result=f"failed at {step}: {type(exc).__name__}")
        raise
    procs.ops_log(layout.out, "join-by-snapshot", host, channel=snap.channel, snapshot=str(snap.path),
                  height=snap.height, last_block_hash=snap.last_block_hash, result="ok")
    log.info("%s joined %s from the snapshot at height %d", host, snap.channel, snap.height)
    return snap
