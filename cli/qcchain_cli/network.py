"""``qcchain network``: validate the consortium file and generate a real Fabric network from it."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from .errors import CliError

log = logging.getLogger(__name__)


@click.group()
def network() -> None:
    """Consortium file: validate and generate a Fabric network."""


@network.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def validate(file: Path | None) -> None:
    """Validate FILE (default network/consortium.yaml); list every problem at once."""
    from qcchain_consortium.consortium import load_consortium
    from qcchain_network.errors import ConsortiumError

    try:
        consortium = load_consortium(file)
    except ConsortiumError as exc:
        click.echo(str(exc), err=True)
        raise CliError(f"{len(exc.problems)} problem(s) in {file or 'network/consortium.yaml'}") from exc
    orgs = ", ".join(f"{o.name} ({o.msp_id}, {o.role})" for o in consortium.orgs)
    click.echo(f"consortium {consortium.name}: valid")
    click.echo(f"  orgs: {orgs}")
    click.echo(f"  orderer: {consortium.orderer.msp_id}, {consortium.orderer.consensus} x{consortium.orderer.nodes}")
    for ch in consortium.channels:
        ccs = "; ".join(f"{cc.name} [{cc.policy_name}: {cc.endorsement_policy}]" for cc in ch.chaincodes)
        click.echo(f"  channel {ch.name}: {', '.join(ch.members)} -- {ccs}")
    if consortium.source is not None:
        click.echo(f"  policy files (relative paths resolved against {consortium.source.resolve().parent}):")
        for key, (written, path) in sorted(consortium.policy_files.items()):
            click.echo(f"    {key}: {written} -> {path}")


@network.command()
@click.option("--consortium", "consortium_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Consortium file (default network/consortium.yaml).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("var/fabric"),
              show_default=True, help="Directory to generate into.")
@click.option("--ca", is_flag=True, help="Also write fabric-ca.yaml: one Fabric CA per org (addresses, identities to "
              "enrol), the plan that scripts/network.sh up --ca carries out.")
def generate(consortium_file: Path | None, out_dir: Path, ca: bool) -> None:
    """Validate, derive every name/port/path and render the network's files (no binaries needed).

    Writes crypto-config.yaml, configtx/configtx.yaml, env/<host>.env per process, collections/*.json,
    compose/compose.yaml and network.json. Crypto material, genesis blocks and connection profiles are
    made by scripts/network.sh up (they need Fabric's cryptogen/configtxgen).
    """
    from qcchain_consortium.consortium import load_consortium
    from qcchain_network.derive import derive
    from qcchain_network.errors import ConsortiumError
    from qcchain_network.render import render_all

    try:
        consortium = load_consortium(consortium_file)
    except ConsortiumError as exc:
        click.echo(str(exc), err=True)
        raise CliError(f"{len(exc.problems)} problem(s) in {consortium_file or 'network/consortium.yaml'}") from exc
    written = render_all(derive(consortium, out_dir))
    click.echo(f"generated {len(written)} files for {consortium.name} in {out_dir.absolute()}")
    for path in written:
        click.echo(f"  {path}")
from .netops import register; register(network)  # noqa: E402,E702  (issue 18)
