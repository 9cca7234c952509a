"""``qcchain ledger snapshot|list|verify|restore|archive|verify-archive|check|recover|purge``.

On the devnet the commands work on a state directory (``--dir``, default ``$QCCHAIN_DEVNET_DIR`` or
``.devnet``; the ledger lives in ``<dir>/ledger/<channel>.sqlite``); ``check``, ``recover``, ``restore``
and ``purge`` want the devnet stopped. On native Fabric, ``snapshot|list|restore|check|recover`` take
``--network-dir DIR --peer HOST`` and use the peer's own snapshots, ``peer channel joinbysnapshot``,
``peer node rebuild-dbs`` and re-join (:mod:`qcchain_cli.ledger_fabric`); ``verify`` recognises a Fabric
snapshot directory. See docs/OPERATIONS.md.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click

from . import ledger_fabric as fab
from .errors import CliError

__all__ = ["ledger"]


def _dir(value: Path | None) -> Path:
    return Path(value or os.environ.get("QCCHAIN_DEVNET_DIR") or ".devnet")


_dir_option = click.option("--dir", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                           help="Devnet state directory [default: $QCCHAIN_DEVNET_DIR or .devnet].")
_channel_option = click.option("--channel", default="qcchannel", show_default=True)
_snaps_option = click.option("--snapshots", type=click.Path(file_okay=False, path_type=Path), default=None,
                             help="Snapshot directory [default: <dir>/snapshots].")


def _snaps(state_dir: Path, given: Path | None) -> Path:
    return given or state_dir / "snapshots"


def _call(fn, *args, **kw):  # type: ignore[no-untyped-def]
    from qcchain_devnet.errors import LedgerError

    try:
        return fn(*args, **kw)
    except LedgerError as exc:
        raise CliError(" ".join(str(exc).split())) from exc


@click.group()
def ledger() -> None:
    """Ledger snapshots, verification, restore, archive and tamper recovery (devnet; Fabric with --network-dir)."""


@ledger.command()
@_dir_option
@_channel_option
@_snaps_option
@fab.fabric_options
def snapshot(state_dir: Path | None, channel: str, snapshots: Path | None, network_dir: Path | None,
             consortium: Path | None, peer_host: str | None) -> None:
    """Take a consistent snapshot of the channel (blocks, state, history, private data) with an SM3 manifest."""
    from qcchain_devnet.snapshot import create_snapshot

    if network_dir is not None:
        fab.run_snapshot(network_dir, consortium, peer_host, channel)
        return

    d = _dir(state_dir)
    m = _call(create_snapshot, d, channel, _snaps(d, snapshots))
    click.echo(f"snapshot of {channel} at height {m.height}: {m.path} (ledger SM3 {m.file_sm3[:16]}…)")


@ledger.command("list")
@_dir_option
@_channel_option
@_snaps_option
@fab.fabric_options
def list_(state_dir: Path | None, channel: str, snapshots: Path | None, network_dir: Path | None,
          consortium: Path | None, peer_host: str | None) -> None:
    """List the channel's snapshots and whether each verifies."""
    from qcchain_devnet.errors import SnapshotError
    from qcchain_devnet.snapshot import list_snapshots, verify_snapshot

    if network_dir is not None:
        fab.run_list(network_dir, consortium, peer_host, channel)
        return

    d = _dir(state_dir)
    paths = list_snapshots(_snaps(d, snapshots), channel)
    if not paths:
        click.echo(f"(no snapshot of {channel} under {_snaps(d, snapshots)})")
    for path in paths:
        try:
            m = verify_snapshot(path, channel)
            click.echo(f"{m.height}\t{m.created}\tverified\t{path}")
        except SnapshotError as exc:
            click.echo(f"{path.name}\t-\tBROKEN: {exc}\t{path}")


@ledger.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--channel", default=None, help="Refuse a snapshot of another channel.")
def verify(path: Path, channel: str | None) -> None:
    """Verify a snapshot directory against its SM3 manifest and hash chain (a Fabric snapshot: its metadata)."""
    from qcchain_devnet.snapshot import verify_snapshot

    if fab.is_fabric_snapshot(path):
        fab.run_verify(path, channel)
        return

    m = _call(verify_snapshot, path, channel)
    click.echo(f"verified: snapshot of {m.channel} at height {m.height}")


@ledger.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--to", "target", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A new devnet state directory to restore into.")
@click.option("--channel", default=None, help="Refuse a snapshot of another channel.")
@fab.fabric_options
def restore(path: Path, target: Path | None, channel: str | None, network_dir: Path | None, consortium: Path | None,
            peer_host: str | None) -> None:
    """Verify a snapshot and restore it as the channel's ledger in a new state directory (Fabric: the peer
    joins the channel from it)."""
    from qcchain_devnet.snapshot import restore_snapshot

    if (target is None) == (network_dir is None):
        raise CliError("give --to DIR (devnet) or --network-dir DIR --peer HOST (Fabric)")
    if network_dir is not None:
        fab.run_restore(path, network_dir, consortium, peer_host)
        return

    m = _call(restore_snapshot, path, target, channel)
    click.echo(f"restored {m.channel} at height {m.height} into {target}")


@ledger.command()
@_dir_option
@_channel_option
@click.option("--archive", "archive_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--below", type=int, default=None, help="Archive blocks below this height [default: all].")
@click.option("--min-free", type=float, default=None,
              help="Act only when the disk's free fraction is below this (e.g. 0.1).")
def archive(state_dir: Path | None, channel: str, archive_dir: Path, below: int | None, min_free: float | None) -> None:
    """Export blocks below a height to an archive directory with an SM3 manifest."""
    import sqlite3

    from qcchain_devnet.archive import archive_blocks, disk_free_ratio
    from qcchain_devnet.snapshot import ledger_path

    d = _dir(state_dir)
    if min_free is not None:
        free = disk_free_ratio(d)
        if free >= min_free:
            click.echo(f"disk free {free:.1%} ≥ watermark {min_free:.1%}: nothing to do")
            return
        click.echo(f"disk free {free:.1%} < watermark {min_free:.1%}: archiving")
    if below is None:
        path = ledger_path(d, channel)
        if not path.is_file():
            raise CliError(f"no ledger of channel {channel} at {path}")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        below = conn.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]
        conn.close()
    seg = _call(archive_blocks, d, channel, below, archive_dir)
    click.echo("nothing new to archive" if seg is None else f"archived blocks {seg.start}..{seg.end - 1} to {seg.path}")


@ledger.command("verify-archive")
@click.option("--archive", "archive_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@_channel_option
def verify_archive_(archive_dir: Path, channel: str) -> None:
    """Verify an archive's SM3 manifests and the hash chain across its segments."""
    from qcchain_devnet.archive import verify_archive

    segs = _call(verify_archive, archive_dir, channel)
    click.echo(f"verified: {len(segs)} segment(s), blocks 0..{segs[-1].end - 1}" if segs else "(empty archive)")


@ledger.command()
@_dir_option
@_channel_option
@_snaps_option
@fab.fabric_options
@click.option("--reference", default=None, metavar="HOST", help="Fabric: the healthy peer to compare with.")
def check(state_dir: Path | None, channel: str, snapshots: Path | None, network_dir: Path | None,
          consortium: Path | None, peer_host: str | None, reference: str | None) -> None:
    """Detect tampering: re-check the chain and compare state with a rebuild from the last snapshot (Fabric:
    with another peer's state)."""
    from qcchain_devnet.recover import check_ledger

    if network_dir is not None:
        fab.run_check(network_dir, consortium, peer_host, channel, reference)
        return

    d = _dir(state_dir)
    result = _call(check_ledger, d, channel, _snaps(d, snapshots), d / "tmp")
    if result.ok:
        click.echo(f"{channel}: intact ({result.height} blocks)")
        return
    raise CliError(f"{channel}: ledger altered: " + "; ".join(result.problems))


@ledger.command()
@_dir_option
@_channel_option
@_snaps_option
@click.option("--blocks-from", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Another node's ledger file to take the blocks after the snapshot from.")
@fab.fabric_options
@click.option("--reference", default=None, metavar="HOST", help="Fabric: the healthy peer to compare with.")
@click.option("--from-snapshot", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Fabric: re-join the channel from this snapshot (else from the genesis block when needed).")
@click.option("--rejoin", is_flag=True, help="Fabric: re-join from the genesis block even if the blocks are intact.")
def recover(state_dir: Path | None, channel: str, snapshots: Path | None, blocks_from: Path | None,
            network_dir: Path | None, consortium: Path | None, peer_host: str | None, reference: str | None,
            from_snapshot: Path | None, rejoin: bool) -> None:
    """Rebuild an altered ledger from the last verified snapshot plus blocks; report what was replaced
    (Fabric: rebuild-dbs, and re-join from the genesis block or a snapshot when the block store is damaged)."""
    from qcchain_devnet.recover import recover_ledger

    if network_dir is not None:
        fab.run_recover(network_dir, consortium, peer_host, channel, from_snapshot, reference, rejoin)
        return

    d = _dir(state_dir)
    r = _call(recover_ledger, d, channel, _snaps(d, snapshots), blocks_from)
    click.echo(f"{channel}: rebuilt from snapshot {r.snapshot_height} + {r.height - r.snapshot_height} blocks "
               f"→ height {r.height}")
    click.echo(f"replaced: {', '.join(r.replaced_tables) or 'nothing'}")
    if r.changed_state_keys:
        click.echo(f"state keys restored: {', '.join(r.changed_state_keys)}")
    if r.blocks_lost:
        click.echo(f"blocks not recovered (no verified source): {r.blocks_lost}")
    if r.kept_aside:
        click.echo(f"the altered ledger is kept at {r.kept_aside}")


@ledger.command()
@_dir_option
@click.option("--archive", "archive_dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--force", is_flag=True, help="Remove even unarchived data (needs --reason).")
@click.option("--reason", default=None, help="Why (recorded in the operations log).")
def purge(state_dir: Path | None, archive_dir: Path | None, force: bool, reason: str | None) -> None:
    """Remove a devnet state directory — refused while it holds blocks not archived under --archive."""
    from qcchain_devnet.archive import check_purge

    d = _dir(state_dir)
    if force and not reason:
        raise CliError("--force needs --reason (it is recorded in the operations log)")
    channels = sorted(p.stem for p in (d / "ledger").glob("*.sqlite"))
    _call(check_purge, d, channels, archive_dir, force_reason=reason if force else None)
    shutil.rmtree(d)
    click.echo(f"removed {d}")
