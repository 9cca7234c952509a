"""``qcchain ledger … --network-dir DIR --peer HOST``: the ledger commands on a native Fabric network
(brought up by ``scripts/network.sh up --dir DIR``), through the same functions as ``network.sh``:
snapshot / list (``peer snapshot submitrequest | listpending``, completed snapshots verified), restore
(``peer channel joinbysnapshot``), check (``check-peer``: block store scan + state compared with another
peer's by snapshots) and recover (``rebuild-peer``). ``verify`` recognises a Fabric snapshot directory by
its ``_snapshot_signable_metadata.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .errors import CliError

__all__ = ["fabric_options", "is_fabric_snapshot", "run_check", "run_list", "run_recover", "run_restore",
           "run_snapshot", "run_verify"]


def fabric_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--network-dir``, ``--consortium`` and ``--peer`` (all three only for native Fabric)."""
    func = click.option("--peer", "peer_host", default=None, metavar="HOST",
                        help="With --network-dir: the peer (e.g. peer1.inspection.qcchain.example).")(func)
    func = click.option("--consortium", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="With --network-dir: its consortium file [default: network/consortium.yaml].")(func)
    return click.option("--network-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="A native Fabric network (scripts/network.sh up --dir) instead of the devnet.")(func)


def _target(network_dir: Path, consortium: Path | None, peer: str | None) -> tuple[Any, Path, str]:
    from qcchain_network.binaries import find_binary
    from qcchain_network.netdir import load_layout

    if not peer:
        raise CliError("--network-dir needs --peer HOST (see scripts/network.sh status)")
    layout = _call(load_layout, consortium, network_dir)
    if not layout.crypto.is_dir():
        raise CliError(f"{network_dir} holds no network brought up by `scripts/network.sh up --dir`")
    return layout, _call(find_binary, "peer"), peer


def _call(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    from qcchain_gateway.errors import SdkError
    from qcchain_network.errors import NetworkError

    try:
        return fn(*args, **kw)
    except (NetworkError, SdkError, ValueError, OSError) as exc:
        raise CliError(" ".join(str(exc).split())) from exc


def is_fabric_snapshot(path: Path) -> bool:
    """Whether ``path`` is a Fabric snapshot directory (has Fabric's signable metadata)."""
    from qcchain_network.snapshots import METADATA

    return (Path(path) / METADATA).is_file()


def run_snapshot(network_dir: Path, consortium: Path | None, peer: str | None, channel: str) -> None:
    """Request a snapshot of ``channel`` at the peer's last block and wait until it is written."""
    from qcchain_network import snapshots

    layout, peer_bin, host = _target(network_dir, consortium, peer)
    block = _call(snapshots.peer_height, layout, peer_bin, host, channel) - 1
    _call(snapshots.submit_request, layout, peer_bin, host, channel, block)
    snap = _call(snapshots.wait_completed, layout, host, channel, block)
    click.echo(f"snapshot of {channel} at height {snap.height}: {snap.path} (last block hash {snap.last_block_hash[:16]}…)")


def run_list(network_dir: Path, consortium: Path | None, peer: str | None, channel: str) -> None:
    """Pending requests and completed snapshots (each verified) of the peer."""
    from qcchain_network import snapshots

    layout, peer_bin, host = _target(network_dir, consortium, peer)
    pending = _call(snapshots.list_pending, layout, peer_bin, host, channel)
    click.echo(f"pending: {', '.join(map(str, pending)) or 'none'}")
    for snap in _call(snapshots.completed, layout, host, channel):
        click.echo(f"{snap.height}\tverified\t{snap.path}")


def run_verify(path: Path, channel: str | None) -> None:
    """Verify a Fabric snapshot directory (metadata hash, every file's SHA-256)."""
    from qcchain_network import snapshots

    snap = _call(snapshots.verify_snapshot, path)
    if channel is not None and snap.channel != channel:
        raise CliError(f"{path}: a snapshot of {snap.channel}, not {channel}")
    click.echo(f"verified: Fabric snapshot of {snap.channel} at height {snap.height}")


def run_restore(path: Path, network_dir: Path, consortium: Path | None, peer: str | None) -> None:
    """The peer (re)joins the snapshot's channel from the verified snapshot."""
    from qcchain_network import snapshots

    layout, peer_bin, host = _target(network_dir, consortium, peer)
    snap = _call(snapshots.join_by_snapshot, layout, peer_bin, host, path)
    click.echo(f"{host} joined {snap.channel} from the snapshot at height {snap.height}; it pulls later blocks "
               "from the orderers")


def run_check(network_dir: Path, consortium: Path | None, peer: str | None, channel: str,
              reference: str | None) -> None:
    """Block store scan and state comparison; a CliError (exit 1) when the ledger is altered."""
    from qcchain_network import recovery

    layout, peer_bin, host = _target(network_dir, consortium, peer)
    report = _call(recovery.check_peer, layout, peer_bin, host, channel, reference)
    store, state = report["block_store"], report["state"]
    problems = ([f"block store: {store['problem']}"] if not store["intact"] else []) + \
        ([f"state at block {state['block']} differs from {report['reference']}'s: {', '.join(state['differing'])}"]
         if not state["equal"] else [])
    if problems:
        raise CliError(f"{channel} on {host}: ledger altered: " + "; ".join(problems))
    click.echo(f"{channel} on {host}: intact ({store['height']} blocks; state at block {state['block']} equal to "
               f"{report['reference']}'s)")


def run_recover(network_dir: Path, consortium: Path | None, peer: str | None, channel: str, snapshot: Path | None,
                reference: str | None, rejoin: bool) -> None:
    """Rebuild the peer's ledger of ``channel`` and print what was found, replaced and proved."""
    from qcchain_network import recovery

    layout, peer_bin, host = _target(network_dir, consortium, peer)
    report = _call(recovery.rebuild_peer, layout, peer_bin, host, channel, snapshot, reference, rejoin=rejoin)
    before = report["block_store_before"]
    click.echo(f"{channel} on {host}: block store before: {recovery.describe_store(before)}")
    for action in report["actions"]:
        click.echo(f"  - {action}")
    proof = report["proof"]
    click.echo(f"rebuilt in {report['seconds']}s → height {report['after']['height']}; state at block {proof['block']} "
               f"equal to {report['reference']}'s; report {report['evidence']}/report.json")
