"""``qcchain devnet add-org ORG_FILE`` / ``remove-org MSPID``: organisations join and leave the running devnet,
governed on chain (issue 18), as ``qcchain network add-org`` / ``remove-org`` do on Fabric.

Each refuses in one line, writing nothing, unless governance decided the change on chain — an executed
``member_admit`` with the org file's MSP ID, role, name and credit code (``status`` active), or an executed
``member_remove`` (``removed``) — read as the regulator's Admin. Then the event goes into the devnet's
membership overlay (``<dir>/orgs.json``) and the devnet restarts with the options it ran with (same port,
ledgers kept): a joined org gets crypto material, an MSP on its channels (by default those every member is
on, plus a bilateral ``<name>-channel`` with the regulator), a connection profile
(``connection-profiles/connection-<name>.json``) and the collections' membership; a removed org's identities
are refused by the channels' MSP check, its history stays readable. The devnet generates the joining org's
crypto itself (a development network), so there is no handed-over CA to bind as on Fabric.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .errors import CliError

__all__ = ["add_org", "remove_org"]

_DIR = click.option("--dir", "state_dir", type=click.Path(file_okay=False, path_type=Path),
                    default=Path(".devnet"), show_default=True, help="State directory of the running devnet.")


def _member_on_chain(state_dir: Path, msp_id: str) -> dict[str, Any] | None:
    """``governance:get_member(msp_id)`` as the regulator's Admin (None: not a member). Raises CliError."""
    from qcchain_consortium.membership import regulator_of
    from qcchain_devnet.config import ConfigError
    from qcchain_devnet.membership import current_consortium
    from qcchain_gateway.errors import GatewayError
    from qcchain_gateway.profile import connect_profile
    from qcchain_sdk.contracts.verify import is_not_found

    try:
        regulator = regulator_of(current_consortium(state_dir))
    except (ConfigError, ValueError) as exc:
        raise CliError(str(exc)) from None
    profile = state_dir / "connection-profiles" / f"connection-{regulator.name.lower()}.json"
    try:
        with connect_profile(profile, user="Admin") as gateway:
            contract = gateway.get_network("qcchannel").get_contract("qcchain", "governance")
            try:
                return dict(json.loads(contract.evaluate_transaction("get_member", msp_id)))
            except GatewayError as exc:
                if is_not_found(exc):
                    return None
                raise
    except (GatewayError, OSError) as exc:
        raise CliError(f"cannot read the member {msp_id} on chain: {' '.join(str(exc).split())[:200]}") from None


def _restart(state_dir: Path) -> None:
    from qcchain_devnet.errors import DevnetError
    from qcchain_devnet.membership import restart

    try:
        restart(state_dir)
    except (DevnetError, OSError) as exc:
        raise CliError(f"the membership change is recorded in {state_dir}/orgs.json but the devnet did not "
                       f"restart: {exc}") from None


@click.command("add-org")
@click.argument("org_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_DIR
def add_org(org_file: Path, state_dir: Path) -> None:
    """Admit the org of ORG_FILE to the running devnet once governance executed its member_admit."""
    from qcchain_consortium.membership import MembershipError
    from qcchain_devnet.config import ConfigError
    from qcchain_devnet.membership import current_consortium, record_join
    from qcchain_network.membergate import mismatch
    from qcchain_network.orgcommands import read_org_file

    try:
        joining = read_org_file(org_file)
        current_consortium(state_dir)  # a running devnet whose membership reads (before asking the chain)
    except (MembershipError, ConfigError) as exc:
        raise CliError(str(exc)) from None
    org = joining.org
    why = mismatch(_member_on_chain(state_dir, org.msp_id), org, "active")
    if why:
        raise CliError(f"refused: {org.msp_id} is {why} — governance decides it first (a member_admit "
                       "proposal signed by the org admins and executed); nothing changed")
    try:
        after = record_join(state_dir, joining)
    except ConfigError as exc:
        raise CliError(f"refused: {exc}; nothing changed") from None
    _restart(state_dir)
    channels = sorted(ch.name for ch in after.channels if org.name in ch.members)
    click.echo(f"{org.msp_id} joined the devnet in {state_dir} (channels: {', '.join(channels)}); its connection "
               f"profile: {state_dir / 'connection-profiles' / f'connection-{org.name.lower()}.json'}")


@click.command("remove-org")
@click.argument("msp_id")
@_DIR
def remove_org(msp_id: str, state_dir: Path) -> None:
    """Remove the member MSP_ID from the running devnet once governance executed its member_remove."""
    from qcchain_devnet.config import ConfigError
    from qcchain_devnet.membership import current_consortium, record_leave
    from qcchain_network.membergate import mismatch

    try:
        org = next((o for o in current_consortium(state_dir).orgs if o.msp_id == msp_id), None)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    if org is None:
        raise CliError(f"refused: {msp_id} is not a member of the devnet in {state_dir}; nothing changed")
    why = mismatch(_member_on_chain(state_dir, msp_id), org, "removed")
    if why:
        raise CliError(f"refused: {msp_id} is {why} — governance decides it first (a member_remove proposal "
                       "signed by the org admins and executed); nothing changed")
    try:
        record_leave(state_dir, msp_id)
    except ConfigError as exc:
        raise CliError(f"refused: {exc}; nothing changed") from None
    _restart(state_dir)
    click.echo(f"{msp_id} left the devnet in {state_dir}: its identities are refused; its history stays readable")
