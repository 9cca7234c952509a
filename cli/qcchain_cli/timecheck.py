"""``qcchain time check`` — every node's clock skew from its operations endpoint's HTTP ``Date`` (H-8).

Usage: ``qcchain time check [--threshold S] [--ca-file F] [--strict] [--json] NAME=URL...``; one line per
node, ``WARNING`` when the skew exceeds the threshold (beyond the measurement's uncertainty) or the node
cannot be read. ``--strict`` exits 1 when any line is a warning (for scripts such as ``network.sh status``).
"""

from __future__ import annotations

import json

import click

from qcchain_network.clockcheck import DEFAULT_THRESHOLD, measure_all, parse_endpoint

from .errors import CliError

__all__ = ["time_group"]


@click.group("time")
def time_group() -> None:
    """Trusted time: node clock skew."""


@time_group.command("check")
@click.argument("endpoints", nargs=-1, required=True)
@click.option("--threshold", type=click.FloatRange(min=0.0), default=DEFAULT_THRESHOLD, show_default=True,
              help="Warn when a node's clock is further than this many seconds from this machine's.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Verify HTTPS operations endpoints against this CA (else only the Date header is read, unverified).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True, help="Seconds per node.")
@click.option("--strict", is_flag=True, help="Exit 1 when any node warns.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def check(endpoints: tuple[str, ...], threshold: float, ca_file: str | None, timeout: float, strict: bool,
          as_json: bool) -> None:
    """Report the clock skew of each node's operations endpoint (NAME=URL or URL)."""
    try:
        parsed = [parse_endpoint(e) for e in endpoints]
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    clocks = measure_all(parsed, timeout=timeout, ca_file=ca_file)
    if as_json:
        click.echo(json.dumps([{"name": c.name, "endpoint": c.endpoint, "skew": c.skew, "uncertainty": c.uncertainty,
                                "warning": c.over(threshold), "error": c.error} for c in clocks], indent=2))
    else:
        for c in clocks:
            click.echo(c.line(threshold))
    if strict and any(c.over(threshold) for c in clocks):
        raise SystemExit(1)
