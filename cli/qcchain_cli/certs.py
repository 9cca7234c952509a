"""``qcchain certs``: list the consortium's certificates with their expiry; warn inside a window."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .errors import CliError


@click.group()
def certs() -> None:
    """Certificates of the consortium: check expiry."""


@certs.command()
@click.option("--dir", "net_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("var/fabric"),
              show_default=True, help="Network directory (as given to scripts/network.sh --dir).")
@click.option("--within", "within", type=click.IntRange(min=0), default=30, show_default=True,
              help="Warn about certificates expiring within this many days.")
@click.option("--strict", is_flag=True, help="Exit with status 1 when any certificate is inside the window.")
def check(net_dir: Path, within: int, strict: bool) -> None:
    """List every certificate with its expiry; WARN for those expiring within --within days."""
    from qcchain_network.certs import expiring, scan
    from qcchain_network.errors import CertificateError

    try:
        found = scan(net_dir / "crypto")
    except CertificateError as exc:
        raise CliError(str(exc)) from exc
    now = dt.datetime.now(dt.timezone.utc)
    soon = {c.path for c in expiring(found, within, now)}
    for cert in found:
        mark = "WARN" if cert.path in soon else "ok  "
        days = cert.days_left(now)
        rel = cert.path.relative_to(net_dir)
        click.echo(f"{mark} {cert.not_after:%Y-%m-%d} {days:8.1f}d  {cert.subject}  {rel}")
    click.echo(f"{len(found)} certificate(s); {len(soon)} expire within {within} day(s)")
    if soon:
        click.echo(f"warning: {len(soon)} certificate(s) expire within {within} day(s)", err=True)
        if strict:
            raise CliError(f"{len(soon)} certificate(s) expire within {within} day(s)")
