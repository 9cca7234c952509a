"""``python -m qcchain_network`` — the engine of ``scripts/network.sh``.

Commands: ``up``, ``down``, ``status`` (each running node's clock skew, from its operations endpoint's
``Date``; warns above ``--clock-threshold`` and when a node's data directory runs low on disk), ``clean``,
``logs [--since]``, ``deploy``, ``snapshot`` and ``join-by-snapshot`` (:mod:`qcchain_network.snapshots`). Errors print one line
``network: error: ...`` and exit 1; nothing half-started is left running.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import re
import shutil
import sys
import time
from pathlib import Path

from . import backend, canodes, cclifecycle, nodecommands, orgcommands, runner, snapshots
from .binaries import find_binary
from .derive import DEFAULT_LOG_SPEC
from .errors import NetworkError
from .netdir import load_layout
from qcchain_consortium.sources import NETWORK_DIR

log = logging.getLogger(__name__)
DEFAULT_OUT = NETWORK_DIR.parent / "var" / "fabric"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="network.sh", description="Run the consortium as a Fabric network "
                                "(native processes, or Docker containers with --docker).")
    p.add_argument("command", choices=["up", "down", "status", "clean", "logs", "deploy", "start-node", "stop-node",
                                        "snapshot", "join-by-snapshot",
                                        *nodecommands.COMMANDS, *orgcommands.COMMANDS])
    p.add_argument("node", nargs="?", default=None, help="start-node/stop-node/remove-*: the host name, e.g. "
                   "orderer1.qcchain.example (start-node/stop-node: also a Fabric CA, ca.<domain>); add-peer: "
                   "the org name; org-init/add-org: the org file; remove-org: the MSP ID; sign-update: the "
                   "update directory")
    p.add_argument("--consortium", type=Path, default=None, help="consortium file (default network/consortium.yaml)")
    p.add_argument("--dir", type=Path, default=DEFAULT_OUT, help=f"network directory (default {DEFAULT_OUT})")
    p.add_argument("--log-level", default=DEFAULT_LOG_SPEC, help="FABRIC_LOGGING_SPEC of every node")
    p.add_argument("--docker", action="store_true", help="up: run orderers and peers as Docker containers "
                   "(docker compose, images pinned by version); later commands use the mode recorded in "
                   "DIR/mode.json, --docker on a native network is an error")
    p.add_argument("--ca", action="store_true", help="up: crypto material from one Fabric CA server per org "
                   "(fabric-ca-server/fabric-ca-client in FABRIC_BIN or PATH) instead of cryptogen")
    p.add_argument("--module", default="qcchain_contracts", help="deploy: Python module serving the chaincode")
    p.add_argument("--label", default="qcchain_1.0", help="deploy: package label")
    p.add_argument("--no-genesis", action="store_true", help="deploy: do not record the genesis nodes on chain")
    p.add_argument("--channel", default="qcchannel", help="snapshot/join-by-snapshot: the channel")
    p.add_argument("--height", type=int, default=0, help="snapshot: block number to snapshot (0: last committed)")
    p.add_argument("--pending", action="store_true", help="snapshot: list pending requests and completed snapshots")
    p.add_argument("--cancel", type=int, default=None, metavar="BLOCK", help="snapshot: cancel the request at BLOCK")
    p.add_argument("--wait", action="store_true", help="snapshot: wait until the snapshot is written")
    p.add_argument("--snapshot", type=Path, default=None, help="join-by-snapshot: a completed snapshot directory")
    p.add_argument("--since", default=None, help="logs: print the lines since a time (ISO-8601, UTC if no zone) "
                   "or a duration ago (30s, 15m, 2h, 1d)")
    p.add_argument("--min-free", type=float, default=0.10, help="status: warn when a node's data directory has "
                   "less than this fraction of its disk free (default 0.10)")
    p.add_argument("--clock-threshold", type=float, default=5.0, help="status: warn when a running node's clock "
                   "differs from this host's by more than this many seconds (default 5; the chaincode refuses "
                   "proposals beyond the governance policy's max_clock_skew_seconds)")
    nodecommands.add_options(p)
    orgcommands.add_options(p)
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _up(args: argparse.Namespace) -> None:
    t0 = time.monotonic()
    layout = runner.up(args.consortium, args.dir, args.log_level, ca_mode=args.ca, docker=args.docker)
    print(f"network {layout.consortium.name} up in {time.monotonic() - t0:.1f}s "
          f"({len(layout.orderers)} orderer(s), {len(layout.peers)} peer(s), "
          f"{len(layout.consortium.channels)} channel(s))")
    print(f"logs:                {layout.out / 'logs'}")
    print(f"connection profiles: {layout.out / 'connection-profiles'}")
    print(f"operations log:      {layout.out / 'operations.log'}")


def _deploy(args: argparse.Namespace) -> None:
    layout = load_layout(args.consortium, args.dir, args.log_level)
    peer = find_binary("peer")
    started: set[str] = set()
    for channel in layout.consortium.channels:
        for cc in channel.chaincodes:
            label = args.label if cc.name == "qcchain" else f"{cc.name}_1.0"
            pkg = cclifecycle.package(layout.out / "packages", label,
                                    f"{layout.host}:{layout.chaincode_ports[cc.name]}")
            if pkg.label not in started:
                cclifecycle.start_server(layout, pkg, [sys.executable, "-m", args.module])
                started.add(pkg.label)
            seq = cclifecycle.deploy(layout, peer, channel, cc.name, pkg)
            print(f"{cc.name} on {channel.name}: sequence {seq}, package {pkg.package_id}")
    if not args.no_genesis and "qcchain" in {cc.name for ch in layout.consortium.channels for cc in ch.chaincodes}:
        nodecommands.genesis_after_deploy(layout)


def _node(args: argparse.Namespace) -> None:
    if not args.node:
        raise NetworkError(f"{args.command} needs the node's host name (see network.sh status)")
    layout = load_layout(args.consortium, args.dir, args.log_level)
    try:
        if args.command == "start-node" and canodes.is_ca_host(layout, args.node):
            proc = canodes.start_ca(layout, args.node)
            print(f"started Fabric CA {args.node} (pid {proc.pid})")
        elif args.command == "start-node":
            proc = runner.start_node(layout, args.node)
            print(f"started {args.node} ({f'pid {proc.pid}' if proc.pid else 'container'})")
        else:
            runner.stop_node(layout, args.node)
            print(f"stopped {args.node}")
    except KeyError as exc:
        raise NetworkError(str(exc.args[0])) from None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)(?: ?(UTC|Z|[+-]\d\d:?\d\d))?")


def since_time(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``--since``: an ISO-8601 time (UTC when it names no zone) or a duration ago (``30s``, ``15m``, ``2h``, ``1d``).

    Raises:
        ValueError: neither (one line naming the value).
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if match:
        return now - dt.timedelta(seconds=int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)])
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: not an ISO-8601 time nor a duration like 30s, 15m, 2h, 1d") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def line_time(line: str) -> dt.datetime | None:
    """The time a Fabric (or chaincode server) log line starts with, if any (colour codes ignored)."""
    match = _STAMP.match(_ANSI.sub("", line))
    if match is None:
        return None
    zone = match.group(2)
    when = dt.datetime.fromisoformat(match.group(1).replace(" ", "T"))
    if zone and zone not in ("UTC", "Z"):
        return when.replace(tzinfo=dt.datetime.strptime(zone.replace(":", ""), "%z").tzinfo)
    return when.replace(tzinfo=dt.timezone.utc)


def _logs(out: Path, since: str | None) -> None:
    if since is None:
        for path in runner.logs(out):
            print(path)
        return
    start = since_time(since)
    for path in runner.logs(out):
        keep = False  # continuation lines (no time) follow the line they belong to
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                when = line_time(line)
                keep = keep if when is None else when >= start
                if keep:
                    print(f"{path.stem}: {_ANSI.sub('', line.rstrip())}")


def disk_warnings(out: Path, min_free: float) -> list[str]:
    """One warning per node data directory (``DIR/data/<node>``) whose disk has less than ``min_free`` free."""
    data = out / "data"
    warnings = []
    for node in sorted(p for p in data.iterdir() if p.is_dir()) if data.is_dir() else []:
        usage = shutil.disk_usage(node)
        if usage.free < min_free * usage.total:
            warnings.append(f"WARNING {node.name}: {usage.free / usage.total:.1%} of the disk free "
                            f"({usage.free >> 20} MiB) below the {min_free:.0%} watermark; archive or "
                            f"snapshot and prune (docs/OPERATIONS.md)")
    return warnings


def clock_lines(out: Path, running: set[str], threshold: float) -> list[str]:
    """One line per running node's clock against this host's, read from the ``Date`` of its operations
    endpoint (``qcchain time check``), ``WARNING`` above ``threshold`` seconds or when it cannot be read."""
    from .clockcheck import measure_all, network_endpoints

    endpoints = [(name, url) for name, url in network_endpoints(out) if name in running]
    return [f"clock {reading.line(threshold)}" for reading in measure_all(endpoints, timeout=3.0)]


def _status(out: Path, min_free: float, clock_threshold: float) -> None:
    rows = runner.status(out)
    for name, where, up in rows:
        print(f"{name:45} {where:<14} {'running' if up else 'stopped'}")
    if not rows:
        print(f"no network processes recorded in {out}")
    for line in clock_lines(out, {name for name, _where, up in rows if up}, clock_threshold):
        print(line)
    for warning in disk_warnings(out, min_free):
        print(warning)


def _snapshot(args: argparse.Namespace) -> None:
    if not args.node:
        raise NetworkError(f"{args.command} needs the peer's host name (see network.sh status)")
    layout = load_layout(args.consortium, args.dir, args.log_level)
    peer = find_binary("peer")
    if args.command == "join-by-snapshot":
        if args.snapshot is None:
            raise NetworkError("join-by-snapshot needs --snapshot DIR (a completed snapshot directory)")
        snap = snapshots.join_by_snapshot(layout, peer, args.node, args.snapshot)
        print(f"{args.node} joined {snap.channel} from the snapshot at height {snap.height}; it pulls later blocks "
              "from the orderers")
    elif args.cancel is not None:
        snapshots.cancel_request(layout, peer, args.node, args.channel, args.cancel)
        print(f"cancelled the snapshot request of {args.channel} at block {args.cancel} on {args.node}")
    elif args.pending:
        print(f"pending: {snapshots.list_pending(layout, peer, args.node, args.channel) or 'none'}")
        for snap in snapshots.completed(layout, args.node, args.channel):
            print(f"completed: height {snap.height}  {snap.path}")
    else:
        block = args.height or snapshots.peer_height(layout, peer, args.node, args.channel) - 1
        snapshots.submit_request(layout, peer, args.node, args.channel, block)
        if not args.wait:
            print(f"snapshot of {args.channel} requested on {args.node} at block {block}")
            return
        snap = snapshots.wait_completed(layout, args.node, args.channel, block)
        print(f"snapshot of {args.channel} at height {snap.height}: {snap.path}")


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    out = args.dir.absolute()
    args.dir = out
    try:
        if args.docker and args.command != "up":
            backend.resolve_mode(out, True)  # --docker on a native network: ModeMismatch
        if args.command == "up":
            _up(args)
        elif args.command == "down":
            names = runner.down(out)
            print(f"stopped {len(names)} process(es)" + (f": {', '.join(names)}" if names else ""))
        elif args.command == "status":
            _status(out, args.min_free, args.clock_threshold)
        elif args.command == "clean":
            runner.clean(out)
            print(f"removed {out}")
        elif args.command == "logs":
            _logs(out, args.since)
        elif args.command in ("snapshot", "join-by-snapshot"):
            _snapshot(args)
        elif args.command in ("start-node", "stop-node"):
            _node(args)
        elif args.command in nodecommands.COMMANDS:
            return nodecommands.run(args)
        elif args.command in orgcommands.COMMANDS:
            return orgcommands.run(args)
        else:
            _deploy(args)
    except (NetworkError, ValueError, OSError) as exc:
        if args.verbose:
            raise
        first = str(exc).splitlines()
        print(f"network: error: {' '.join(line.strip() for line in first)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
