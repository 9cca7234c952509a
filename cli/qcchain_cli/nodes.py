"""``qcchain nodes``: the on-chain node registry (REQUIREMENTS T-7.2.3, T-8.2 b).

``propose-admit`` builds a node record from the node's TLS and signing certificates and writes a
``node_admit`` governance proposal FILE (``propose-genesis`` the channel's initial node set from records
in a JSON file); ``propose-remove`` writes a ``node_remove`` one. Org admins then sign it offline with
``qcchain contract sign FILE --key ...`` and ``qcchain contract execute FILE --profile ...`` submits it, like
every governance proposal. ``list`` and ``show`` read the registry.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

import click

from .contract import _channel, _connected, _profile_options
from .contract_build import errors_as_cli
from .errors import CliError
from .options import common_options
from .timefmt import Duration

log = logging.getLogger(__name__)

MAX_LIFETIME = 7 * 86400


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--channel", default=None, help="Channel (default: qcchannel if the profile has it, else its first)."),
        click.option("--chaincode", default="qcchain", show_default=True, help="Chaincode holding the governance contract."),
        click.option("--reason", default="", help="Why (recorded on chain)."),
        click.option("--expires-in", type=Duration(minimum=60, maximum=MAX_LIFETIME, bare="s"), default="3d", show_default=True,
                     help="Time until the proposal expires (30m / 12h / 3d / 900s; from 60s to 7d)."),
        click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
                     help="Proposal file to write."),
    ]):
        func = option(func)
    return _profile_options()(func)


@click.group()
@common_options("profile")
def nodes() -> None:
    """Node registry: propose-admit, propose-genesis, propose-remove, list, show."""


def _write(proposal: Any, profile: Path, user: str, chaincode: str, out: Path) -> None:
    """Check the node state against the chain (as ``contract execute`` will), then save the file."""
    from qcchain_sdk.proposals.governed import check_state, operation_rule
    from qcchain_sdk.proposals.proposalfile import save

    channel = proposal.target["channel"]
    with errors_as_cli():
        with _connected([profile], user) as (gateway,):
            governance = gateway.get_network(channel).get_contract(chaincode, "governance")
            check_state(proposal, governance)
            operation_rule(json.loads(governance.evaluate_transaction("policy", "governance"))["document"],
                           proposal.operation)
        save(proposal, out)
    click.echo(f"proposal {proposal.proposal_id}\n  {proposal.operation} {proposal.target['contract']} on {channel}")
    click.echo(f"wrote {out}\nnext: pass the file to each signing org's admin; each runs `qcchain contract sign {out} "
               f"--key LABEL` (offline), then `qcchain contract execute {out} --profile <own profile>`")


def _read_pem(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror})") from exc


@nodes.command("propose-admit")
@click.option("--node-id", required=True, help="Host name of the node, e.g. orderer4.orderer.qcchain.example.com.")
@click.option("--org", "org_msp", required=True, help="MSP id of the node's organisation (may be the orderer org).")
@click.option("--kind", type=click.Choice(["orderer", "peer"]), required=True)
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The node's TLS server certificate (PEM).")
@click.option("--sign-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The node's signing (enrolment) certificate (PEM).")
@_common
def propose_admit(node_id: str, org_msp: str, kind: str, tls_cert: Path, sign_cert: Path, profiles: Path,
                  user: str, channel: str | None, chaincode: str, reason: str, expires_in: int, out: Path) -> None:
    """Write a node_admit proposal for one node, built from its certificates."""
    from qcchain_sdk.nodeadmission import admit_proposal, node_record

    with errors_as_cli():
        record = node_record(node_id, org_msp, kind, _read_pem(tls_cert), _read_pem(sign_cert), now=int(time.time()))
        proposal = admit_proposal([record], _channel(profiles, channel), chaincode, reason,
                                  int(time.time()) + expires_in)
    click.echo(f"node {node_id} ({kind}, {org_msp}): tls sha256 {record['tls_cert_sha256']}, "
               f"sign sha256 {record['sign_cert_sha256']}, not after {record['not_after']}")
    _write(proposal, profiles, user, chaincode, out)


@nodes.command("propose-genesis")
@click.option("--records", "records_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="JSON list of node records (qcchain_sdk.nodeadmission.node_record) of the network's initial nodes.")
@_common
def propose_genesis(records_file: Path, profiles: Path, user: str, channel: str | None, chaincode: str, reason: str,
                    expires_in: int, out: Path) -> None:
    """Write the channel's genesis node_admit proposal (its initial nodes, admitted once)."""
    from qcchain_sdk.nodeadmission import admit_proposal

    try:
        records = json.loads(records_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"{records_file}: not a readable JSON list of node records ({exc})") from exc
    if not isinstance(records, list) or len(records) < 2:
        raise CliError(f"{records_file}: a genesis admission lists at least two node records (one: propose-admit)")
    with errors_as_cli():
        proposal = admit_proposal(records, _channel(profiles, channel), chaincode, reason, int(time.time()) + expires_in)
    _write(proposal, profiles, user, chaincode, out)


@nodes.command("propose-remove")
@click.option("--node-id", required=True, help="Node to remove (its certificates are never admitted again).")
@_common
def propose_remove(node_id: str, profiles: Path, user: str, channel: str | None, chaincode: str, reason: str,
                   expires_in: int, out: Path) -> None:
    """Write a node_remove proposal."""
    from qcchain_sdk.nodeadmission import remove_proposal

    with errors_as_cli():
        proposal = remove_proposal(node_id, _channel(profiles, channel), chaincode, reason, int(time.time()) + expires_in)
    _write(proposal, profiles, user, chaincode, out)


def _client(gateway: Any, channel: str, chaincode: str) -> Any:
    from qcchain_sdk.contracts.governance import GovernanceClient

    net = gateway.get_network(channel)
    return GovernanceClient(net.get_contract(chaincode, "governance"), net.get_contract(chaincode, "keys"),
                            gateway.identity.msp_id, gateway.identity.cert_pem)


def _joined_channels(node: dict[str, Any]) -> list[str]:
    state: dict[str, dict[str, Any]] = {}
    for entry in node.get("joins", []):
        state[entry["channel"]] = entry
    return [f"{ch}@{e['block']}" for ch, e in sorted(state.items()) if e["event"] == "joined"]


@nodes.command("list")
@_profile_options()
@click.option("--channel", default=None, help="Channel (default: qcchannel if the profile has it, else its first).")
@click.option("--chaincode", default="qcchain", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
def list_(profiles: Path, user: str, channel: str | None, chaincode: str, as_json: bool) -> None:
    """Table of the admitted nodes: id, org, kind, status, channels joined (@config block)."""
    channel = _channel(profiles, channel)
    with _connected([profiles], user) as (gateway,), errors_as_cli():
        records = _client(gateway, channel, chaincode).nodes()
    if as_json:
        click.echo(json.dumps(records, indent=2, sort_keys=True))
        return
    rows = [(n["node_id"], n["org_msp"], n["kind"], n["status"], ", ".join(_joined_channels(n)) or "-") for n in records]
    header = ("NODE ID", "ORG", "KIND", "STATUS", "JOINS")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
    click.echo(f"{len(rows)} node(s) on {channel}")


@nodes.command()
@click.argument("node_id")
@_profile_options()
@click.option("--channel", default=None, help="Channel (default: qcchannel if the profile has it, else its first).")
@click.option("--chaincode", default="qcchain", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
def show(node_id: str, profiles: Path, user: str, channel: str | None, chaincode: str, as_json: bool) -> None:
    """One node: certificates, status, admitting proposal, history and join attestations."""
    channel = _channel(profiles, channel)
    with _connected([profiles], user) as (gateway,), errors_as_cli():
        node = _client(gateway, channel, chaincode).node(node_id)
    if as_json:
        click.echo(json.dumps(node, indent=2, sort_keys=True))
        return
    click.echo(f"{node['node_id']}: {node['kind']} of {node['org_msp']}, {node['status']}"
               f"{' (genesis)' if node.get('genesis') else ''}, admitted by proposal {node['admitted_by'][:16]}…")
    click.echo(f"  subject {node['subject']}\n  issuer  {node['issuer']}\n  not after {node['not_after']}")
    click.echo(f"  tls sha256  {node['tls_cert_sha256']}\n  sign sha256 {node['sign_cert_sha256']}")
    for entry in node["history"]:
        click.echo(f"  {entry['at']}: {entry['event']} (proposal {entry['proposal_id'][:16]}…)")
    for entry in node["joins"]:
        click.echo(f"  {entry['at']}: {entry['event']} {entry['channel']} at config block {entry['block']} "
                   f"(attested by {entry['submitter_msp']}, tx {entry['tx_id'][:12]})")
