"""The node commands of ``scripts/network.sh``: add-peer (``--snapshot DIR``: join from a snapshot),
remove-peer, add-orderer, remove-orderer, verify-nodes, check-peer and rebuild-peer (tamper detection and
recovery, :mod:`qcchain_network.recovery`), and the genesis node admission after ``deploy`` (test networks)."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from . import nodeops, nodeverify, procs, recovery, testadmins
from .binaries import find_binary
from .consistency import wait_endorsable
from .derive import Layout
from .errors import NetworkError
from .errors import NetworkError, RegistryError
from .netdir import load_layout
from .noderecord import GOVERNANCE_CHANNEL
from .registry import ProposalWritten, Registry
from qcchain_gateway.errors import SdkError

log = logging.getLogger(__name__)

COMMANDS = ("add-peer", "remove-peer", "add-orderer", "remove-orderer", "verify-nodes", "check-peer", "rebuild-peer")


def add_options(p: argparse.ArgumentParser) -> None:
    """The node commands' options."""
    reg = p.add_mutually_exclusive_group()
    reg.add_argument("--propose", type=str, default=None, metavar="FILE",
                     help="add-*: write an admit proposal for the org admins to sign instead of adding")
    reg.add_argument("--admit-with-test-keys", action="store_true",
                     help="add-*: test networks only: admit the node with the test admins' SM2 keys")
    reg.add_argument("--no-registry", action="store_true",
                     help="add-*/remove-*: do not check or record the node on chain (logged as such)")
    p.add_argument("--purge", action="store_true", help="remove-peer: also delete its data directory (refused while "
                   "it holds blocks its org's peer0 does not)")
    p.add_argument("--force", action="store_true", help="remove-peer --purge: delete even so (needs --reason)")
    p.add_argument("--reason", default=None, help="remove-peer --purge --force: why (written to the operations log)")
    p.add_argument("--reference", default=None, metavar="HOST",
                   help="check-peer/rebuild-peer: the healthy peer to compare with (default: a running peer of "
                        "the channel)")
    p.add_argument("--rejoin", action="store_true",
                   help="rebuild-peer: re-join the channel from its genesis block even if the block store is intact")
    p.add_argument("--report", type=Path, default=None, metavar="FILE",
                   help="check-peer/rebuild-peer: also write the JSON report here")


def _registry(args: argparse.Namespace, layout: Layout) -> Registry:
    if args.no_registry:
        return Registry(layout, "none")
    if args.propose:
        return Registry(layout, "propose", Path(args.propose))
    return Registry(layout, "test-keys" if args.admit_with_test_keys else "check")


def run(args: argparse.Namespace) -> int:
    """Run one node command; returns the exit status.

    Raises:
        NetworkError: the operation failed or was refused (one line; the SDK's errors included).
    """
    try:
        return _run(args)
    except ProposalWritten as exc:
        print(f"not added: {exc}")
        return 0
    except SdkError as exc:
        raise NetworkError(f"{args.command}: the chain refused or failed: {' '.join(str(exc).split())}") from exc


def _run(args: argparse.Namespace) -> int:
    layout = load_layout(args.consortium, args.dir, args.log_level)
    if not layout.crypto.is_dir():
        raise NetworkError(f"{args.dir} holds no network (network.sh up --dir {args.dir} first)")
    if args.command in ("remove-peer", "remove-orderer", "check-peer", "rebuild-peer") and not args.node:
        raise NetworkError(f"{args.command} needs the node's host name (see network.sh status)")
    if args.command in ("check-peer", "rebuild-peer"):
        return _recovery(args, layout)
    registry = _registry(args, layout)
    t0 = time.monotonic()
    if args.command == "add-peer":
        if not args.node:
            raise NetworkError("add-peer needs the org name, e.g. add-peer Inspection")
        try:
            peer = nodeops.add_peer(layout, args.node, registry, snapshot=args.snapshot)
        except KeyError as exc:
            raise NetworkError(str(exc.args[0])) from None
        print(f"added {peer.host} ({peer.org}) at {layout.host}:{peer.listen} in {time.monotonic() - t0:.1f}s; "
              f"joined {', '.join(c.name for c in layout.consortium.channels if peer.org in c.members)}"
              + (f" (the snapshot's channel from {args.snapshot})" if args.snapshot else ""))
    elif args.command == "add-orderer":
        node = nodeops.add_orderer(layout, registry)
        print(f"added consenter {node.host} at {layout.host}:{node.listen} to "
              f"{len(layout.consortium.channels)} channel(s) in {time.monotonic() - t0:.1f}s")
    elif args.command == "remove-peer":
        if args.force and not (args.reason or "").strip():
            raise NetworkError("--force needs --reason TEXT (it is written to the operations log)")
        nodeops.remove_peer(layout, args.node, registry, purge=args.purge,
                            force_reason=args.reason.strip() if args.force else None)
        print(f"removed {args.node}" + ("" if args.purge else " (its data directory is kept)"))
    elif args.command == "remove-orderer":
        nodeops.remove_orderer(layout, args.node, registry)
        print(f"removed consenter {args.node} from {len(layout.consortium.channels)} channel(s)")
    else:
        rows = nodeverify.verify(layout, registry)
        print(nodeverify.table(rows))
        bad = [r for r in rows if not r.ok]
        print(f"{len(rows) - len(bad)} of {len(rows)} consenter(s) admitted and active")
        return 1 if bad else 0
    if registry.mode == "none":
        print("note: --no-registry: the node was not checked or recorded on chain (operations.log says so)")
    return 0


def _recovery(args: argparse.Namespace, layout: Layout) -> int:
    """check-peer (exit 1 when altered) and rebuild-peer: print the findings, the replaced parts and the proof."""
    peer_bin = find_binary("peer")
    if args.command == "check-peer":
        report = recovery.check_peer(layout, peer_bin, args.node, args.channel, args.reference)
        store, state = report["block_store"], report["state"]
        print(f"{args.node} {args.channel}: block store {recovery.describe_store(store)}; "
              f"state at block {state['block']} " + ("equal to" if state["equal"] else
                                                      f"DIFFERS ({', '.join(state['differing'])}) from")
              + f" {report['reference']}'s")
        status = 1 if report["altered"] else 0
    else:
        report = recovery.rebuild_peer(layout, peer_bin, args.node, args.channel, args.snapshot, args.reference,
                                       rejoin=args.rejoin)
        before = report["block_store_before"]
        print(f"{args.node} {args.channel}: block store before: {recovery.describe_store(before)}")
        for action in report["actions"]:
            print(f"  - {action}")
        proof = report["proof"]
        print(f"rebuilt in {report['seconds']}s: height {report['after']['height']}, state at block {proof['block']} "
              f"equal to {report['reference']}'s ({len(recovery.snapshot_files(proof['snapshot']))} snapshot files "
              f"compared); report {report['evidence']}/report.json")
        status = 0
    if args.report is not None:
        args.report.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return status


def genesis_after_deploy(layout: Layout) -> None:
    """After ``deploy``: record the initial nodes on chain with one genesis admission signed by the test
    admins.

    Raises:
        NetworkError: the chain refused it or the registry is unavailable.
    """
    try:
        first = next(o for o in layout.consortium.orgs
                     if any(o.name in c.members and c.name == GOVERNANCE_CHANNEL for c in layout.consortium.channels))
        wait_endorsable(layout.profile_file(first), GOVERNANCE_CHANNEL)
        proposal_id, count = testadmins.admit_genesis(layout)
    except StopIteration:
        print(f"note: no {GOVERNANCE_CHANNEL} channel: genesis nodes not recorded on chain")
        return
    except (RegistryError, SdkError) as exc:
        raise NetworkError(f"genesis nodes not recorded on chain: {' '.join(str(exc).split())} "
                           "(deploy --no-genesis skips this step)") from exc
    print(f"node registry: {count} genesis nodes admitted on chain (proposal {proposal_id[:16]}…), signed with "
          f"the test admins' SM2 keys in {testadmins.keys_dir(layout)}")
    procs.ops_log(layout.out, "genesis-admission", "*", kind="registry", result="ok",
                  proposal_id=proposal_id, nodes=count)
