"""Tamper detection and recovery of a native Fabric peer's ledger (T-8.1.2g), with Fabric's own tools.

- :func:`check_peer`: the peer's block store of a channel is scanned (:mod:`qcchain_network.blockstore`:
  numbering, data hashes, hash chain), and its state is compared with a reference peer's: both write a
  snapshot of the same block (``peer snapshot submitrequest``) and the SHA-256 of every snapshot file
  (public state, private data hashes, transaction ids) must be equal — Fabric's snapshots are
  deterministic, so a state row changed on one peer shows as a different ``public_state.data``.
- :func:`rebuild_peer`: one command. The peer is stopped, its block store scanned, its old snapshots of
  the channel moved into the evidence directory, ``peer node rebuild-dbs`` drops its state, history and
  index databases (rebuilt from the block store at start), and when the block store is damaged (or a
  snapshot is given) ``peer node unjoin`` removes the channel's ledger, which is joined again from the
  genesis block (every block re-fetched from the orderers, which sign them) or from the verified snapshot
  (``peer channel joinbysnapshot``). It then waits for the reference peer's height and block hash and
  proves the state equal (:func:`compare_state`). A peer left without the channel (a rebuild stopped
  half-way) is joined again by running the command again. The report (what was found, what was replaced, the
  proof) is printed, written to ``DIR/recovery/<host>-<time>/report.json`` and logged in ``operations.log``.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from . import admin, blockstore, procs, runner, snapshots
from .derive import Layout, PeerNode
from .render.processes import peer_env
from .snapshots import SnapshotError

log = logging.getLogger(__name__)

__all__ = ["RecoveryError", "check_peer", "compare_state", "describe_store", "rebuild_peer", "reference_peer",
           "snapshot_files"]


class RecoveryError(SnapshotError):
    """A peer cannot be checked or rebuilt, or is still different after the rebuild (one line)."""


def reference_peer(layout: Layout, host: str, channel: str, given: str | None = None) -> PeerNode:
    """The peer to compare ``host`` with: ``given``, else the first running peer of another host whose
    org is a member of ``channel``.

    Raises:
        RecoveryError: none is running.
    """
    if given:
        return snapshots.peer_of(layout, given)
    members = next((set(c.members) for c in layout.consortium.channels if c.name == channel), set())
    up = runner.running(layout.out)
    for peer in layout.peers:
        if peer.host != host and peer.host in up and peer.org in members:
            return peer
    raise RecoveryError(f"no running peer of {channel} other than {host} to compare with (start one)")


def channel_info(layout: Layout, peer_bin: Path, peer: PeerNode, channel: str) -> dict[str, Any]:
    """``peer channel getinfo`` of ``peer`` as its org admin: height, current and previous block hash.

    Raises:
        RecoveryError: the output is not the expected JSON (and what ``admin.run_tool`` raises).
    """
    out = admin.run_tool([str(peer_bin), "channel", "getinfo", "-c", channel],
                         env=admin.admin_env(layout, layout.consortium.org(peer.org), peer))
    try:
        return dict(json.loads(out[out.index("{"):]))
    except (ValueError, TypeError):
        raise RecoveryError(f"peer channel getinfo on {peer.host}: unexpected output {out.strip()[:120]!r}") from None


def _wait_same_tip(layout: Layout, peer_bin: Path, peer: PeerNode, ref: PeerNode, channel: str,
                   timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        mine, theirs = channel_info(layout, peer_bin, peer, channel), channel_info(layout, peer_bin, ref, channel)
        if (mine["height"], mine.get("currentBlockHash")) == (theirs["height"], theirs.get("currentBlockHash")):
            return mine
        if time.monotonic() > deadline:
            raise RecoveryError(f"{peer.host} did not reach {ref.host}'s height {theirs['height']} and block hash "
                                f"within {timeout:.0f}s (at {mine['height']})")
        time.sleep(0.5)


def _snapshot_at(layout: Layout, peer_bin: Path, peer: PeerNode, channel: str, block: int,
                 fresh: bool) -> snapshots.Snapshot:
    """A snapshot of ``channel`` at ``block`` on ``peer``: an existing one when not ``fresh`` (the trusted
    reference), else a new one (an existing one — written before a possible alteration — is moved to
    ``DIR/recovery/earlier-snapshots/``)."""
    done = peer.data_dir / "snapshots" / "completed" / channel / str(block)
    if done.is_dir() and fresh:
        aside = layout.out / "recovery" / "earlier-snapshots" / peer.host / channel
        aside.mkdir(parents=True, exist_ok=True)
        shutil.move(str(done), aside / f"{block}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    elif (done / snapshots.METADATA).is_file():
        return snapshots.verify_snapshot(done)
    snapshots.submit_request(layout, peer_bin, peer.host, channel, block)
    return snapshots.wait_completed(layout, peer.host, channel, block)


def snapshot_files(path: str | Path) -> dict[str, str]:
    """The files of a (verified) snapshot directory and their SHA-256, from its signable metadata."""
    meta = json.loads((Path(path) / snapshots.METADATA).read_text(encoding="utf-8"))
    return dict(meta["snapshot_files_raw_hashes"])


def compare_state(layout: Layout, peer_bin: Path, peer: PeerNode, ref: PeerNode, channel: str,
                  timeout: float = 60.0) -> dict[str, Any]:
    """Snapshots of ``peer`` (a new one) and ``ref`` at their common last block; returns ``{block, equal, differing,
    snapshot, reference_snapshot}`` (``differing``: the snapshot files whose SHA-256 differ).

    Raises:
        RecoveryError: the two do not reach the same height within ``timeout``.
        SnapshotError, ToolError: a snapshot could not be written or verified.
    """
    tip = _wait_same_tip(layout, peer_bin, peer, ref, channel, timeout)
    block = int(tip["height"]) - 1
    mine = _snapshot_at(layout, peer_bin, peer, channel, block, fresh=True)
    theirs = _snapshot_at(layout, peer_bin, ref, channel, block, fresh=False)
    a, b = snapshot_files(mine.path), snapshot_files(theirs.path)
    differing = sorted(name for name in set(a) | set(b) if a.get(name) != b.get(name))
    return {"block": block, "equal": not differing, "differing": differing, "snapshot": str(mine.path),
            "reference_snapshot": str(theirs.path)}


def check_peer(layout: Layout, peer_bin: Path, host: str, channel: str, reference: str | None = None,
               timeout: float = 60.0) -> dict[str, Any]:
    """Is ``host``'s ledger of ``channel`` altered? Block store scan plus a state comparison with the
    reference peer (both running). Returns the report; ``altered`` says the verdict.

    Raises:
        RecoveryError, SnapshotError, ToolError: no reference peer, or the comparison could not be made.
    """
    peer = snapshots.peer_of(layout, host)
    ref = reference_peer(layout, host, channel, reference)
    store = blockstore.scan(peer.data_dir, channel)
    report: dict[str, Any] = {"host": host, "channel": channel, "reference": ref.host, "block_store": _store(store)}
    if host not in runner.running(layout.out):
        raise RecoveryError(f"{host} is not running: its state cannot be compared (start-node {host}, or rebuild-peer)")
    report["state"] = compare_state(layout, peer_bin, peer, ref, channel, timeout)
    report["altered"] = not store.intact or not report["state"]["equal"]
    procs.ops_log(layout.out, "check-peer", host, channel=channel, reference=ref.host,
                  result="altered" if report["altered"] else "ok", problem=store.problem,
                  differing=report["state"]["differing"])
    return report


def _store(check: blockstore.StoreCheck) -> dict[str, Any]:
    return {"intact": check.intact, "first_block": check.first_block, "height": check.height,
            "last_block_hash": check.last_block_hash, "first_bad_block": check.first_bad_block,
            "problem": check.problem, "files": [f.__dict__ for f in check.files]}


def describe_store(store: dict[str, Any]) -> str:
    """One phrase for a block-store report: absent, intact (height N) or DAMAGED: the problem."""
    if not store["files"]:
        return "absent (no block files)"
    return f"intact (height {store['height']})" if store["intact"] else f"DAMAGED: {store['problem']}"


def _ledger_dirs(peer: PeerNode) -> list[str]:
    """The databases ``peer node rebuild-dbs`` drops (present ones), for the report."""
    root = peer.data_dir / "production" / "ledgersData"
    names = ("stateLeveldb", "historyLeveldb", "bookkeeper", "configHistory", "chains/index")
    return [n for n in names if (root / n).exists()]


def rebuild_peer(layout: Layout, peer_bin: Path, host: str, channel: str, snapshot: Path | None = None,
                 reference: str | None = None, rejoin: bool = False, timeout: float = 180.0) -> dict[str, Any]:
    """Rebuild ``host``'s ledger of ``channel`` (see the module doc); returns the report.

    ``rejoin`` forces a re-join from the genesis block even when the block store is intact.

    Raises:
        RecoveryError: no reference peer, the snapshot is of another channel, or the state still differs.
        SnapshotError: the snapshot fails verification (nothing touched). ToolError, StartError: a Fabric
        step failed (the operations log names the step).
    """
    peer = snapshots.peer_of(layout, host)
    snap = snapshots.verify_snapshot(snapshot) if snapshot is not None else None
    if snap is not None and snap.channel != channel:
        raise RecoveryError(f"{snapshot}: a snapshot of {snap.channel}, not {channel}")
    ref = reference_peer(layout, host, channel, reference)
    t0 = time.monotonic()
    evidence = layout.out / "recovery" / f"{host}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    report: dict[str, Any] = {"host": host, "channel": channel, "reference": ref.host, "evidence": str(evidence),
                              "actions": []}
    step = "stop"
    try:
        if host in runner.running(layout.out):
            runner.stop_node(layout, host)
        report["actions"].append("stopped the peer")
        before = blockstore.scan(peer.data_dir, channel)
        report["block_store_before"] = _store(before)
        step = "set aside old snapshots"
        old = peer.data_dir / "snapshots" / "completed" / channel
        if old.is_dir() and any(old.iterdir()):
            evidence.mkdir(parents=True, exist_ok=True)
            shutil.move(str(old), evidence / "old-snapshots")
            report["actions"].append(f"moved its snapshots of {channel} to {evidence / 'old-snapshots'}")
        step = "rebuild-dbs"
        dropped = _ledger_dirs(peer)
        admin.run_tool([str(peer_bin), "node", "rebuild-dbs"], env=peer_env(layout, peer))
        report["replaced"] = {"databases": dropped}
        report["actions"].append(f"peer node rebuild-dbs: dropped {', '.join(dropped)} (every channel's state, "
                                 "history and block index are rebuilt from its block store at start)")
        missing = not blockstore.blocks_dir(peer.data_dir, channel).is_dir()
        reason = "its block store is damaged" if not before.intact else "a snapshot was given" if snap \
            else "--rejoin" if rejoin else "it holds no ledger of the channel" if missing else ""
        if reason and not missing:
            step = "unjoin"
            admin.run_tool([str(peer_bin), "node", "unjoin", "-c", channel], env=peer_env(layout, peer))
            report["replaced"]["block_files"] = [f.__dict__ for f in before.files]
            report["actions"].append(f"peer node unjoin -c {channel} ({reason}): its block files removed")
        step = "start"
        runner.start_node(layout, host)
        if reason and snap is not None:
            step = "joinbysnapshot"
            snapshots.join_from_snapshot(layout, peer_bin, peer, snap, timeout)
            report["actions"].append(f"joined {channel} from the snapshot at height {snap.height} ({snap.path}); "
                                     "later blocks pulled from the orderers")
        elif reason:
            step = "join"
            admin.peer_join(layout, peer_bin, peer, channel)
            report["actions"].append(f"joined {channel} from its genesis block ({reason}); every block pulled "
                                     "again from the orderers")
        step = "catch up"
        tip = _wait_same_tip(layout, peer_bin, peer, ref, channel, timeout)
        step = "compare"
        report["after"] = {"height": tip["height"], "current_block_hash": tip.get("currentBlockHash"),
                           "block_store": _store(blockstore.scan(peer.data_dir, channel))}
        report["proof"] = compare_state(layout, peer_bin, peer, ref, channel, timeout)
        if not report["proof"]["equal"]:
            raise RecoveryError(f"{host} still differs from {ref.host} after the rebuild: "
                                f"{', '.join(report['proof']['differing'])}")
    except BaseException as exc:
        procs.ops_log(layout.out, "rebuild-peer", host, channel=channel, reference=ref.host,
                      result=f"failed at {step}: {' '.join(str(exc).split())[:200]}")
        raise
    report["seconds"] = round(time.monotonic() - t0, 1)
    evidence.mkdir(parents=True, exist_ok=True)
    (evidence / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    procs.ops_log(layout.out, "rebuild-peer", host, channel=channel, reference=ref.host, result="ok",
                  first_bad_block=before.first_bad_block, replaced=sorted(report["replaced"]),
                  height=report["after"]["height"], report=str(evidence / "report.json"))
    log.info("%s: ledger of %s rebuilt and equal to %s's at block %d", host, channel, ref.host,
             report["proof"]["block"])
    return report
