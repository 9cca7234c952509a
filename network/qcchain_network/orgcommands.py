"""The membership commands of ``scripts/network.sh``: org-init (the joining org, on its own host),
add-org, sign-update, remove-org (the consortium) — argparse front of :mod:`.orgops`."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import yaml

from . import bundles, membergate, orgmaterial, orgops, overlay
from .binaries import find_binary
from .errors import NetworkError
from .netdir import load_layout
from qcchain_consortium.membership import JoiningOrg, MembershipError, parse_org_file
from qcchain_gateway.errors import SdkError

log = logging.getLogger(__name__)

COMMANDS = ("org-init", "org-export", "add-org", "sign-update", "remove-org", "bundles")


def add_options(p: argparse.ArgumentParser) -> None:
    """The membership commands' options (``--propose`` is shared with the node commands)."""
    p.add_argument("--home", type=Path, default=None, help="org-init/org-export/add-org: the joining org's own "
                   "directory (its private material stays there); add-org: its processes run here from it")
    p.add_argument("--material", type=Path, default=None, help="add-org: the public bundle the org handed over "
                   "(org-export's output)")
    p.add_argument("--out", type=Path, default=None, help="org-export: where to write the public bundle")
    p.add_argument("--org", default=None, help="sign-update: the org whose Admin signs")
    p.add_argument("--execute", type=Path, default=None, metavar="DIR",
                   help="add-org/remove-org: submit the config updates signed in DIR")
    p.add_argument("--propose-updates", type=Path, default=None, metavar="DIR",
                   help="add-org/remove-org: write the config updates to DIR for the admins to sign")
    p.add_argument("--root", type=Path, default=Path("/opt/qcchain"), help="bundles: where each org unpacks "
                   "its bundle on its own hosts (ROOT/<org>; default /opt/qcchain)")
    p.add_argument("--sign-with-test-admins", action="store_true", help="add-org/remove-org: test networks "
                   "only: governance proposals and config updates signed by the test admins")


def read_org_file(path: Path) -> JoiningOrg:
    """Parse an org file (YAML or JSON).

    Raises:
        MembershipError: unreadable or invalid.
    """
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MembershipError(f"{path}: unreadable ({exc})") from None
    return parse_org_file(doc, str(path))


def _signing(args: argparse.Namespace) -> orgops.Signing:
    if args.execute:
        return orgops.Signing("execute", args.execute)
    if args.propose_updates:
        return orgops.Signing("propose", args.propose_updates)
    if args.sign_with_test_admins:
        return orgops.Signing("test")
    raise NetworkError(f"{args.command}: say how the config updates are signed: --propose-updates DIR, "
                       "--execute DIR or (test networks) --sign-with-test-admins")


def run(args: argparse.Namespace) -> int:
    """Run one membership command; returns the exit status.

    Raises:
        NetworkError: refused or failed (one line).
    """
    try:
        return _run(args)
    except (membergate.MemberProposalWritten, orgops.UpdatesWritten) as exc:
        print(f"not done yet: {exc}")
        return 0
    except SdkError as exc:
        raise NetworkError(f"{args.command}: the chain refused or failed: {' '.join(str(exc).split())}") from exc


def _run(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    if args.command in ("org-init", "org-export"):
        if args.home is None:
            raise NetworkError(f"{args.command} needs --home DIR (the org's own directory)")
        if args.command == "org-init":
            if not args.node:
                raise NetworkError("org-init needs the org file")
            target = orgmaterial.init_org(read_org_file(Path(args.node)), args.home.absolute(),
                                          find_binary("cryptogen"))
            print(f"made the org's crypto material in {target} (its private keys stay there)")
        else:
            dest = orgmaterial.export_public(args.home.absolute(), (args.out or args.home / "public").absolute())
            print(f"public bundle: {dest} (no private key)")
        return 0
    layout = load_layout(args.consortium, args.dir, args.log_level)
    if not layout.crypto.is_dir():
        raise NetworkError(f"{args.dir} holds no network (network.sh up --dir {args.dir} first)")
    if args.command == "bundles":
        dirs = bundles.write_all(layout, overlay.load(layout.out), args.root)
        print(f"wrote {len(dirs)} deployment bundle(s) under {layout.out / 'bundles'} (no foreign private key)")
        return 0
    gate = "test-keys" if args.sign_with_test_admins else ("propose" if args.propose else "check")
    proposal = Path(args.propose) if args.propose else None
    if args.command == "sign-update":
        if not args.node or not args.org:
            raise NetworkError("sign-update needs the update directory and --org NAME")
        try:
            channels = orgops.sign_updates(layout, Path(args.node), args.org)
        except KeyError as exc:
            raise NetworkError(str(exc.args[0])) from None
        print(f"{args.org} signed the config update(s) of {', '.join(channels)}")
    elif args.command == "add-org":
        if not args.node or args.material is None:
            raise NetworkError("add-org needs the org file and --material DIR (the org's public bundle)")
        joining = read_org_file(Path(args.node))
        new = orgops.add_org(layout, joining, args.material.absolute(),
                             args.home.absolute() if args.home else None, gate, _signing(args), proposal)
        chans = [c.name for c in new.consortium.channels if joining.org.name in c.members]
        print(f"added {joining.org.msp_id} to {', '.join(chans)} in {time.monotonic() - t0:.1f}s")
    else:
        if not args.node:
            raise NetworkError("remove-org needs the org's MSP ID")
        orgops.remove_org(layout, args.node, gate, _signing(args), proposal)
        print(f"removed {args.node} from its channels in {time.monotonic() - t0:.1f}s (history stays readable)")
    return 0
