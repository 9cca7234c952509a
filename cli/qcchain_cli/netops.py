"""``qcchain network add-org | remove-org | add-channel | join-channel``: the consortium growing and
shrinking on a running Fabric network (T-5.1, T-8.2 b), through the same functions as ``scripts/network.sh``.

add-org / remove-org are governed on chain first (``member_admit`` / ``member_remove``, bound to the org's
CA fingerprints; ``--propose FILE`` writes the proposal), add-channel / join-channel too (``channel_create``
/ ``channel_join``); every Fabric config update needs the signatures
the channel's ``Admins`` policy requires: ``--propose-updates DIR`` writes them, each admin signs with
``scripts/network.sh sign-update DIR --org NAME``, ``--execute DIR`` submits them (test networks:
``--sign-with-test-admins``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

import click

from .errors import CliError

log = logging.getLogger(__name__)

__all__ = ["register"]


def _net_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--dir", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
                     help="The running network's directory (scripts/network.sh up --dir)."),
        click.option("--consortium", "consortium_file", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, help="Consortium file (default network/consortium.yaml)."),
    ]):
        func = option(func)
    return func


def _signing_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--propose-updates", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Write the config update(s) to DIR for the admins to sign, then stop."),
        click.option("--execute", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Submit the config update(s) signed in DIR."),
        click.option("--sign-with-test-admins", is_flag=True,
                     help="Test networks only: the test admins sign proposals and config updates."),
    ]):
        func = option(func)
    return func


def _signing(propose_updates: Path | None, execute: Path | None, test: bool) -> Any:
    from qcchain_network.orgops import Signing

    chosen = [x for x in (propose_updates, execute, test or None) if x]
    if len(chosen) != 1:
        raise CliError("say how the config updates are signed: exactly one of --propose-updates DIR, "
                       "--execute DIR or (test networks) --sign-with-test-admins")
    if execute is not None:
        if not execute.is_dir():
            raise CliError(f"--execute {execute}: no such update directory")
        return Signing("execute", execute.absolute())
    if propose_updates is not None:
        return Signing("propose", propose_updates.absolute())
    return Signing("test")


def _layout(consortium_file: Path | None, out_dir: Path) -> Any:
    from qcchain_network.netdir import load_layout

    if not (out_dir / "crypto").is_dir():
        raise CliError(f"{out_dir} holds no network (scripts/network.sh up --dir {out_dir} first)")
    return load_layout(consortium_file, out_dir.absolute())


def _run(step: Callable[[], str]) -> None:
    """Run a network step; print its line, or "not done yet" for a written proposal / update directory."""
    from qcchain_gateway.errors import SdkError
    from qcchain_network.errors import NetworkError
    from qcchain_network.membergate import MemberProposalWritten
    from qcchain_network.orgops import UpdatesWritten

    try:
        click.echo(step())
    except (MemberProposalWritten, UpdatesWritten) as exc:
        click.echo(f"not done yet: {exc}")
    except (NetworkError, SdkError) as exc:
        raise CliError(" ".join(str(exc).split())) from exc


def _add_org(network: click.Group) -> None:
    @network.command("add-org")
    @click.argument("org_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--material", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
                  help="The public bundle the org handed over (scripts/network.sh org-export).")
    @click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="The org runs here from this directory (its own crypto): its peers start and join.")
    @click.option("--propose", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Write the member_admit proposal to FILE when governance has not admitted it yet.")
    @_signing_options
    @_net_options
    def add_org(org_file: Path, material: Path, home: Path | None, propose: Path | None,
                propose_updates: Path | None, execute: Path | None, sign_with_test_admins: bool,
                out_dir: Path, consortium_file: Path | None) -> None:
        """Add the organisation of ORG_FILE to the running network (governed; see scripts/network.sh add-org)."""
        from qcchain_network import orgops
        from qcchain_network.orgcommands import read_org_file

        signing = _signing(propose_updates, execute, sign_with_test_admins)
        gate = "test-keys" if sign_with_test_admins else ("propose" if propose else "check")

        def step() -> str:
            t0 = time.monotonic()
            joining = read_org_file(org_file)
            new = orgops.add_org(_layout(consortium_file, out_dir), joining, material.absolute(),
                                 home.absolute() if home else None, gate, signing, propose)
            chans = [c.name for c in new.consortium.channels if joining.org.name in c.members]
            return f"added {joining.org.msp_id} to {', '.join(chans)} in {time.monotonic() - t0:.1f}s"
        _run(step)


def _remove_org(network: click.Group) -> None:
    @network.command("remove-org")
    @click.argument("msp_id")
    @click.option("--propose", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Write the member_remove proposal to FILE when governance has not removed it yet.")
    @_signing_options
    @_net_options
    def remove_org(msp_id: str, propose: Path | None, propose_updates: Path | None, execute: Path | None,
                   sign_with_test_admins: bool, out_dir: Path, consortium_file: Path | None) -> None:
        """Take the member MSP_ID out of its channels (governed; history stays readable)."""
        from qcchain_network import orgops

        signing = _signing(propose_updates, execute, sign_with_test_admins)
        gate = "test-keys" if sign_with_test_admins else ("propose" if propose else "check")

        def step() -> str:
            orgops.remove_org(_layout(consortium_file, out_dir), msp_id, gate, signing, propose)
            return f"removed {msp_id} from its channels (history stays readable)"
        _run(step)


def _add_channel(network: click.Group) -> None:
    @network.command("add-channel")
    @click.argument("name")
    @click.option("--member", "members", multiple=True, required=True,
                  help="A member org (by name) of the new channel; give it twice or more.")
    @click.option("--propose", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Write the channel_create proposal to FILE when governance has not decided it yet.")
    @click.option("--sign-with-test-admins", is_flag=True,
                  help="Test networks only: the test admins sign and execute the channel_create proposal.")
    @_net_options
    def add_channel(name: str, members: tuple[str, ...], propose: Path | None, sign_with_test_admins: bool,
                    out_dir: Path, consortium_file: Path | None) -> None:
        """Create channel NAME for the --member orgs, with the qcchain chaincode deployed on it (governed:
        an executed channel_create first)."""
        from qcchain_network import chanops

        if len(members) < 2:
            raise CliError("add-channel needs two or more --member orgs")
        gate = "test-keys" if sign_with_test_admins else ("propose" if propose else "check")

        def step() -> str:
            chanops.add_channel(_layout(consortium_file, out_dir), name, list(members), gate, propose)
            return f"channel {name} created for {', '.join(members)}, qcchain deployed"
        _run(step)


def _join_channel(network: click.Group) -> None:
    @network.command("join-channel")
    @click.argument("channel")
    @click.option("--org", "org_name", required=True, help="The member org (by name) whose peers join.")
    @click.option("--propose", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Write the channel_join proposal to FILE when governance has not decided it yet.")
    @_signing_options
    @_net_options
    def join_channel(channel: str, org_name: str, propose: Path | None, propose_updates: Path | None,
                     execute: Path | None, sign_with_test_admins: bool, out_dir: Path,
                     consortium_file: Path | None) -> None:
        """Put the member --org on the existing CHANNEL (governed: an executed channel_join first; its MSP
        added by an Admins-signed update if needed)."""
        from qcchain_network import chanops

        signing = _signing(propose_updates, execute, sign_with_test_admins)
        gate = "test-keys" if sign_with_test_admins else ("propose" if propose else "check")

        def step() -> str:
            chanops.join_channel(_layout(consortium_file, out_dir), org_name, channel, signing, gate, propose)
            return f"{org_name} joined {channel}"
        _run(step)


def register(network: click.Group) -> None:
    """Add the membership and channel commands to the ``qcchain network`` group."""
    for add in (_add_org, _remove_org, _add_channel, _join_channel):
        add(network)
