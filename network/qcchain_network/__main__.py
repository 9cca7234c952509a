"""``python -m qcchain_network`` — the engine of ``scripts/network.sh``.

Commands: ``up``, ``down``, ``status``, ``clean``, ``logs``, ``deploy``. Errors print one line
``network: error: ...`` and exit 1; nothing half-started is left running.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from . import backend, canodes, cclifecycle, nodecommands, orgcommands, runner
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


def _logs(out: Path) -> None:
    for path in runner.logs(out):
        print(path)


def _status(out: Path) -> None:
    rows = runner.status(out)
    for name, where, up in rows:
        print(f"{name:45} {where:<14} {'running' if up else 'stopped'}")
    if not rows:
        print(f"no network processes recorded in {out}")


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
            _status(out)
        elif args.command == "clean":
            runner.clean(out)
            print(f"removed {out}")
        elif args.command == "logs":
            _logs(out)
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
