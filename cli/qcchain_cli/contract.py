"""``qcchain contract``: governed contract lifecycle (REQUIREMENTS T-9.2.2, T-9.2.4, T-9.2.6).

Offline: ``create`` scaffolds a project, ``review`` runs the security review, ``compile`` byte-compiles,
reviews, verifies and packages it as a Fabric ``ccaas`` package with the review and verification reports
beside it (their SM3 go into deploy/upgrade proposals), ``sign`` shows both summaries and adds an org admin's
SM2 signature to a proposal file. Online (``--profile``): ``deploy | upgrade | freeze | thaw | destroy`` check the unit's
state and write a proposal FILE; ``execute`` checks signatures and threshold against the chain, then
submits (propose, each org's signature from that org, execute) — and for deploy/upgrade with
``--network-dir`` runs Fabric's ``peer lifecycle`` and switches the chaincode server; ``invoke`` calls any
contract function; ``status`` shows a unit's governance state.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from . import contract_verify
from .contract_build import compile_, create, errors_as_cli, review
from .errors import CliError
from .keys import keystore_option, password_file_option
from .options import common_options, load_sm2, opt, resolve_profile
from .timefmt import Duration, show_time

log = logging.getLogger(__name__)

GOVERNANCE_CHANNEL = "qcchannel"  # the consortium-wide channel (docs/INTERFACES.md), default when the profile has it
DEVNET_NOTE = ("governance executed and recorded the approved version and package digest; nothing was installed or "
               "started (no --network-dir). The devnet runs only the chaincode it was started with (qcchain_contracts, "
               "`qcchain devnet up --chaincode-module`): a new contract's package does not run there, and invoking it "
               "answers \"No metadata was found for chaincode\". To run it, deploy on Fabric with "
               "`--network-dir` (scripts/network.sh up) or serve its module as the devnet's chaincode.")


def _target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--channel", default=None, help="Channel (default: qcchannel if the profile has it, else its first)."),
        click.option("--chaincode", default=None, help="Chaincode name (deploy/upgrade: the package label's name)."),
        click.option("--contract", "contract_name", default="", help="One contract of the chaincode (default: all)."),
        click.option("--governance-chaincode", default="qcchain", show_default=True,
                     help="Chaincode holding the governance contract on that channel."),
    ]):
        func = option(func)
    return func


def _profile_options(multiple: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option("--user", default="Admin", show_default=True, help="User of the profile's org.")(func)
        return click.option("--profile", "profiles", multiple=multiple, callback=_profiles_callback(multiple),
                            metavar="FILE|ORG",
                            help="Connection profile JSON of your org, or an org name of the devnet (may also be given "
                                 "before the sub-command)" + (" (repeat: one per signing org present here)." if multiple
                                                              else "."))(func)
    return wrap


def _profiles_callback(multiple: bool) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """Resolve ``--profile`` values (files or devnet org names); fall back to the group's ``--profile``."""
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        given = list(value) if multiple else ([value] if value else [])
        paths = [resolve_profile(v) for v in (given or [opt(ctx, "profile")])]
        return tuple(paths) if multiple else paths[0]
    return callback


@contextlib.contextmanager
def _connected(profiles: list[Path], user: str) -> Iterator[list[Any]]:
    """One Gateway per profile, closed at the end."""
    from qcchain_gateway.profile import connect_profile

    with contextlib.ExitStack() as stack, errors_as_cli():
        yield [stack.enter_context(connect_profile(p, user=user)) for p in profiles]


def _channel(profile: Path, channel: str | None) -> str:
    if channel:
        return channel
    from qcchain_gateway.profile import load_profile

    with errors_as_cli():
        channels = list(load_profile(profile).channels)
    if not channels:
        raise CliError(f"{profile} names no channel; give --channel")
    return GOVERNANCE_CHANNEL if GOVERNANCE_CHANNEL in channels else channels[0]


@click.group()
@common_options("profile")
def contract() -> None:
    """Contract lifecycle: create, compile, review, deploy, sign, execute, invoke, freeze, thaw, upgrade, destroy, status."""


contract.add_command(create)
contract.add_command(review)
contract.add_command(compile_)


def _write_proposal(operation: str, profile: Path, user: str, channel: str | None, chaincode: str,
                    contract_name: str, gov_cc: str, reason: str, expires_in: int, out: Path,
                    version: str = "", package: Any = None, evidence: dict[str, Any] | None = None) -> None:
    from qcchain_sdk.proposals.governed import check_transition, fetch_unit
    from qcchain_sdk.proposals.proposalfile import new_proposal, save

    channel = _channel(profile, channel)
    package_info = {} if package is None else {"label": package.label, "package_id": package.package_id,
                                               "sha256": package.sha256, "sm3": package.sm3,
                                               "file": str(package.path.resolve()), "address": package.address}
    with errors_as_cli():
        proposal = new_proposal(operation, channel, chaincode, contract_name, version,
                                package.sha256 if package else "", reason, int(time.time()) + expires_in, package_info,
                                evidence=evidence)
        with _connected([profile], user) as (gateway,):
            governance = gateway.get_network(channel).get_contract(gov_cc, "governance")
            unit = fetch_unit(governance, proposal.target)
            check_transition(proposal, unit)
        save(proposal, out)
    state = unit["state"] if unit else "not deployed"
    click.echo(f"proposal {proposal.proposal_id}\n  {operation} {channel}/{chaincode}"
               f"{'/' + contract_name if contract_name else ''}{' version ' + version if version else ''} (now {state})")
    if package is not None:
        click.echo(f"  package {package.package_id}")
    _print_evidence(proposal)
    click.echo(f"wrote {out}\nnext: pass the file to each signing org's admin; each runs `qcchain contract sign {out} "
               f"--key LABEL` (offline), then `qcchain contract execute {out} --profile <own profile>` submits its own "
               "signature; the one that meets the threshold executes the proposal")


def _proposal_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--reason", default="", help="Why (recorded on chain)."),
        click.option("--expires-in", type=Duration(minimum=60, maximum=7 * 86400), default="3d", show_default=True,
                     help="Time until the proposal expires: 3d, 12h, 900s … (60s to 7d)."),
        click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
                     help="Proposal file to write."),
    ]):
        func = option(func)
    return func


def _package_command(operation: str) -> click.Command:
    @click.argument("package_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--version", default=None, help="Approved version (default: from the package label NAME_VERSION).")
    @_target_options
    @_profile_options()
    @_proposal_options
    def command(package_file: Path, version: str | None, channel: str | None, chaincode: str | None,
                contract_name: str, governance_chaincode: str, profiles: Path, user: str, reason: str,
                expires_in: int, out: Path) -> None:
        from qcchain_sdk.contractproject.package import read_package

        with errors_as_cli():
            pkg = read_package(package_file)
            evidence = _package_evidence(pkg)
        name, _, label_version = pkg.label.rpartition("_")
        _write_proposal(operation, profiles, user, channel, chaincode or name or pkg.label, contract_name,
                        governance_chaincode, reason, expires_in, out, version or label_version, pkg, evidence)

    command.__doc__ = f"Write a governance proposal to {operation} PACKAGE_FILE (built by `compile`)."
    return click.command(operation)(command)


def _package_evidence(pkg: Any) -> dict[str, Any]:
    """The review and verification reports `compile` wrote beside the package (verification None: not verified)."""
    from qcchain_sdk.contractproject.package import read_evidence

    review_doc = read_evidence(pkg, "review")
    if review_doc is None:
        raise CliError(f"{pkg.path}: no security review report beside the package ({pkg.label}.review.json); "
                       "build it with `qcchain contract compile`")
    return {"review": review_doc, "verification": read_evidence(pkg, "verification")}


def _print_evidence(proposal: Any) -> None:
    """The review and verification summaries the proposal's body names by SM3 (deploy/upgrade)."""
    if "review_sm3" not in proposal.body:
        if proposal.operation in ("deploy", "upgrade"):
            click.echo("  evidence: none (proposal written before review/verification digests were carried)")
        return
    review_doc, verification = proposal.evidence["review"], proposal.evidence["verification"]
    click.echo(f"  {review_doc['summary']} (review sm3 {proposal.body['review_sm3'][:16]}…)")
    if verification is None:
        click.echo("  verification: NOT VERIFIED (compiled with --no-verify)")
    else:
        click.echo(f"  {verification['summary']} (verification sm3 {proposal.body['verification_sm3'][:16]}…)")


def _state_command(operation: str, summary: str) -> click.Command:
    @_target_options
    @_profile_options()
    @_proposal_options
    def command(channel: str | None, chaincode: str | None, contract_name: str, governance_chaincode: str,
                profiles: Path, user: str, reason: str, expires_in: int, out: Path) -> None:
        _write_proposal(operation, profiles, user, channel, chaincode or "qcchain", contract_name,
                        governance_chaincode, reason, expires_in, out)

    command.__doc__ = f"Write a governance proposal to {summary}."
    return click.command(operation)(command)


contract.add_command(_package_command("deploy"))
contract.add_command(_package_command("upgrade"))
contract.add_command(_state_command("freeze", "freeze a contract (writes refused, reads served)"))
contract.add_command(_state_command("thaw", "thaw a frozen contract"))
contract.add_command(_state_command("destroy", "destroy a contract (terminal)"))
contract.add_command(contract_verify.verify)  # symbolic checks, bounded model check, mutation test (T-9.2.5)


def _sm2_key(key: str, keystore_dir: Path, password_file: Path | None) -> Any:
    """An SM2 private key: a keystore label, or a PKCS#8 PEM key file (one password for both)."""
    return load_sm2(key, keystore_dir, password_file)


key_option = click.option("--key", "key", required=True,
                          help="Your org admin's SM2 key: a keystore label, or a PKCS#8 PEM key file.")


@contract.command()
@click.argument("proposal_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@key_option
@keystore_option
@password_file_option
def sign(proposal_file: Path, key: str, keystore_dir: Path, password_file: Path | None) -> None:
    """Sign PROPOSAL_FILE offline with your SM2 key (appends the signature to the file)."""
    from qcchain_sdk.proposals import proposalfile

    with errors_as_cli():
        proposal = proposalfile.load(proposal_file)
        body = proposal.body
        click.echo(f"proposal {proposal.proposal_id[:16]}…: {body['operation']} {body['target']['chaincode']}"
                   f"{'/' + body['target']['contract'] if body['target']['contract'] else ''}"
                   f"{' version ' + body['version'] if body['version'] else ''}")
        _print_evidence(proposal)
        entry = proposalfile.sign(proposal, _sm2_key(key, keystore_dir, password_file), int(time.time()))
        proposalfile.save(proposal, proposal_file, overwrite=True)
    body = proposal.body
    click.echo(f"signed proposal {proposal.proposal_id[:16]}… ({body['operation']} {body['target']['chaincode']}"
               f"{'/' + body['target']['contract'] if body['target']['contract'] else ''}) with key "
               f"{entry['key_id'][:16]}…; {len(proposal.signatures)} signature(s) in {proposal_file}")


@contract.command("register-key")
@key_option
@_profile_options()
@click.option("--channel", default=None, help="Channel (default: qcchain's governance channel).")
@click.option("--valid-for", "valid_for", type=Duration(minimum=86400, maximum=3650 * 86400), default="365d",
              show_default=True, help="Validity from now: 365d, 90d …")
@click.option("--governance-chaincode", default="qcchain", show_default=True)
@keystore_option
@password_file_option
def register_key(key: str, profiles: Path, user: str, channel: str | None, valid_for: int, governance_chaincode: str,
                 keystore_dir: Path, password_file: Path | None) -> None:
    """Register your org admin's SM2 key on chain (usages govern, sign, encrypt) with proof of possession."""
    from qcchain_sdk.contracts.governance import GovernanceClient

    sm2 = _sm2_key(key, keystore_dir, password_file)
    channel = _channel(profiles, channel)
    now = int(time.time())
    with _connected([profiles], user) as (gateway,):
        net = gateway.get_network(channel)
        client = GovernanceClient(net.get_contract(governance_chaincode, "governance"),
                                  net.get_contract(governance_chaincode, "keys"), gateway.identity.msp_id,
                                  gateway.identity.cert_pem, sm2)
        with errors_as_cli():
            record = client.register_key(now - 60, now + valid_for)
    click.echo(f"registered SM2 key {record.get('key_id', client.key_id)} for {gateway.identity.msp_id} "
               f"(govern, sign, encrypt) until {show_time(now + valid_for)}")


def _fabric_prepare(proposal: Any, network_dir: Path | None, consortium: Path | None,
                    serve: Path | None) -> tuple[Any, Any, Any] | None:
    """Check everything the Fabric steps need *before* governance executes: (target, package, project)."""
    from qcchain_sdk.proposals.proposalfile import UNIT_OPERATIONS

    if proposal.operation not in UNIT_OPERATIONS:
        if network_dir is not None or serve is not None:
            raise CliError(f"--network-dir/--serve apply to contract lifecycle proposals, not {proposal.operation}; "
                           "nothing was submitted")
        return None
    if network_dir is None:
        if serve is not None:
            raise CliError("--serve needs --network-dir (the native Fabric network to deploy on)")
        return None
    from qcchain_network import ccdeploy
    from qcchain_network.cclifecycle import Package
    from qcchain_sdk.actions import check_package
    from qcchain_sdk.contractproject.package import load_project, read_package
    from qcchain_sdk.errors import PackageMismatch

    fabric = ccdeploy.open_target(network_dir, consortium)
    fabric.channel(proposal.target["channel"])
    if proposal.operation not in ("deploy", "upgrade"):
        return fabric, None, None
    info = proposal.package
    pkg = read_package(Path(info.get("file", "")))
    try:
        check_package(pkg.sha256, proposal.body["package_digest"], str(info.get("file")))
    except PackageMismatch as exc:
        raise CliError(f"{exc}; nothing was submitted") from exc
    project = None if serve is None else load_project(serve, address=pkg.address)
    return fabric, Package(pkg.path, pkg.label, pkg.package_id, pkg.address), project


@contract.command()
@click.argument("proposal_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_profile_options(multiple=True)
@click.option("--network-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Native Fabric network dir (scripts/network.sh up --dir): run peer lifecycle after a deploy/upgrade.")
@click.option("--consortium", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Consortium file of that network (default: network/consortium.yaml).")
@click.option("--serve", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Contract project to start as the new chaincode server (with --network-dir).")
@click.option("--governance-chaincode", default="qcchain", show_default=True)
def execute(proposal_file: Path, profiles: tuple[Path, ...], user: str, network_dir: Path | None,
            consortium: Path | None, serve: Path | None, governance_chaincode: str) -> None:
    """Submit a signed proposal: executes only if its signatures meet the governance threshold."""
    from qcchain_sdk.proposals import proposalfile
    from qcchain_sdk.proposals.governed import precheck, submit, unit_name
    from qcchain_sdk.proposals.proposalfile import UNIT_OPERATIONS

    with errors_as_cli():
        proposal = proposalfile.load(proposal_file)
        prepared = _fabric_prepare(proposal, network_dir, consortium, serve)
        channel = proposal.target["channel"]
        with _connected(list(profiles), user) as gateways:
            nets = {g.identity.msp_id: g.get_network(channel) for g in gateways}
            govs = {msp: net.get_contract(governance_chaincode, "governance") for msp, net in nets.items()}
            first = next(iter(nets.values()))
            plan = precheck(proposal, govs[next(iter(govs))], first.get_contract(governance_chaincode, "keys"),
                            int(time.time()))
            result = submit(proposal, plan, govs, partial=True)
        if result.get("status") == "open":
            click.echo(f"submitted the signature(s) of {', '.join(m for m in govs if m in plan.signers) or 'nobody new'} "
                       f"on proposal {proposal.proposal_id[:16]}…; on chain now: {', '.join(result['signed'])}; "
                       f"not executed yet ({result['why']})")
            click.echo(f"next: the admin of each of {', '.join(result['waiting_for'])} runs "
                       f"`qcchain contract execute {proposal_file} --profile <its own profile>`; the one that meets "
                       "the threshold executes it")
            return
        outcome = result.get("outcome", {})
        if proposal.operation in UNIT_OPERATIONS:
            what = f"state {outcome.get('state', '?')}, active version {outcome.get('active_version') or '-'}"
        else:
            what = ", ".join(f"{k} {' '.join(v) if isinstance(v, list) else v}" for k, v in sorted(outcome.items()))
        click.echo(f"executed {proposal.operation} {unit_name(proposal.target)}: "
                   f"{plan.why}; signers {', '.join(result.get('counted_signers', []))}; {what}")
        if prepared is not None:
            from qcchain_network.ccdeploy import after_governance

            fabric, package, project = prepared
            for line in after_governance(fabric, proposal.operation, proposal.target, proposal.body["version"],
                                         package, project.root if project else None, project.module if project else ""):
                click.echo(f"fabric: {line}")
        elif proposal.operation in ("deploy", "upgrade"):
            click.echo(f"note: {DEVNET_NOTE}")


@contract.command(context_settings={"ignore_unknown_options": True})
@click.argument("function")
@click.argument("args", nargs=-1)
@_profile_options()
@click.option("--channel", default=None, help="Channel (default: qcchannel if the profile has it, else its first).")
@click.option("--chaincode", default="qcchain", show_default=True)
@click.option("--contract", "contract_name", default="", help="Contract name (default: the chaincode's default).")
@click.option("--evaluate", is_flag=True, help="Evaluate (query) instead of submitting a transaction.")
def invoke(function: str, args: tuple[str, ...], profiles: Path, user: str, channel: str | None, chaincode: str,
           contract_name: str, evaluate: bool) -> None:
    """Call FUNCTION of any contract through the Gateway (submit, or --evaluate); print its result."""
    channel = _channel(profiles, channel)
    with _connected([profiles], user) as (gateway,):
        target = gateway.get_network(channel).get_contract(chaincode, contract_name)
        call = target.evaluate_transaction if evaluate else target.submit_transaction
        with errors_as_cli():
            raw = call(function, *args)
    try:
        click.echo(raw.decode("utf-8"))
    except UnicodeDecodeError:
        click.echo(raw.hex())


@contract.command()
@_target_options
@_profile_options()
@click.option("--json", "as_json", is_flag=True, help="Print the unit record as JSON.")
def status(channel: str | None, chaincode: str | None, contract_name: str, governance_chaincode: str,
           profiles: Path, user: str, as_json: bool) -> None:
    """Show the governance state of (channel, chaincode, contract)."""
    from qcchain_sdk.proposals.governed import fetch_unit, unit_name

    channel = _channel(profiles, channel)
    target = {"channel": channel, "chaincode": chaincode or "qcchain", "contract": contract_name}
    with _connected([profiles], user) as (gateway,):
        with errors_as_cli():
            unit = fetch_unit(gateway.get_network(channel).get_contract(governance_chaincode, "governance"), target)
    name = unit_name(target)
    if unit is None:
        raise CliError(f"{name} is not governed yet (no deploy proposal on chain)")
    if as_json:
        click.echo(json.dumps(unit, indent=2, sort_keys=True))
        return
    click.echo(f"{name}: {unit['state']}, active version {unit['active_version'] or '-'}")
    for version, info in sorted(unit["versions"].items()):
        click.echo(f"  version {version}: package sha256 {info['package_digest']} (proposal {info['proposal_id'][:16]}…)")
    for entry in unit["history"]:
        click.echo(f"  {show_time(entry['at'])}: {entry['operation']} -> {entry['state']} (proposal {entry['proposal_id'][:16]}…)")
