"""``qcchain certs``: list the consortium's certificates with their expiry; warn inside a window."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .errors import CliError
from .timefmt import Duration


@click.group()
def certs() -> None:
    """Certificates of the consortium: check expiry."""


@certs.command()
@click.option("--dir", "net_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("var/fabric"),
              show_default=True, help="Network directory (scripts/network.sh --dir: crypto/) or devnet directory (crypto-config/).")
@click.option("--within", "within_s", type=Duration(minimum=0, bare="d"), default="30d", show_default=True,
              help="Warn about certificates expiring within this time: 30d, 12h … (a bare number is days).")
@click.option("--strict", is_flag=True, help="Exit with status 1 when any certificate is inside the window.")
def check(net_dir: Path, within_s: int, strict: bool) -> None:
    """List every certificate with its expiry; WARN for those expiring within --within."""
    from qcchain_network.certs import expiring, scan
    from qcchain_network.errors import CertificateError

    material = next((net_dir / d for d in ("crypto", "crypto-config") if (net_dir / d).is_dir()), None)
    if material is None:
        raise CliError(f"--dir {net_dir}: no crypto material: neither crypto/ (a Fabric network from "
                       "scripts/network.sh) nor crypto-config/ (a devnet) in it")
    try:
        found = scan(material)
    except CertificateError as exc:
        raise CliError(str(exc)) from exc
    now = dt.datetime.now(dt.timezone.utc)
    within = within_s / 86400
    soon = {c.path for c in expiring(found, within, now)}
    for cert in found:
        mark = "WARN" if cert.path in soon else "ok  "
        days = cert.days_left(now)
        rel = cert.path.relative_to(net_dir)
        click.echo(f"{mark} {cert.not_after.date().isoformat()} {days:8.1f}d  {cert.subject}  {rel}")
    click.echo(f"{len(found)} certificate(s); {len(soon)} expire within {within:g} day(s)")
    if soon:
        click.echo(f"warning: {len(soon)} certificate(s) expire within {within:g} day(s)", err=True)
        if strict:
            raise CliError(f"{len(soon)} certificate(s) expire within {within:g} day(s)")
