"""``qcchain contract create | review | compile``: the offline half of the contract lifecycle — scaffold a
project, review its sources, and byte-compile, review, verify and package it as a Fabric ``ccaas`` package
with the review and verification reports beside it (their SM3 go into deploy/upgrade proposals). Added to
the ``contract`` group by :mod:`.contract`; :func:`errors_as_cli` is the group's error translation.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterator

import click

from . import contract_verify
from .errors import CliError, one_line

__all__ = ["create", "review", "compile_", "errors_as_cli"]


@contextlib.contextmanager
def errors_as_cli() -> Iterator[None]:
    """Turn the SDK's and the network tooling's errors into one-line CLI errors."""
    from qcchain_network.errors import NetworkError
    from qcchain_gateway.errors import SdkError
    from qcchain_sdk.errors import AppError

    try:
        yield
    except (SdkError, AppError, NetworkError) as exc:
        raise CliError(one_line(exc)) from exc


@click.command()
@click.argument("name")
@click.option("--dir", "parent", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Create the project in DIR/NAME.")
@click.option("--address", default="127.0.0.1:9999", show_default=True, help="Chaincode server address (host:port).")
def create(name: str, parent: Path, address: str) -> None:
    """Scaffold contract project NAME (Contract class, __main__ serving it, MockStub tests)."""
    from qcchain_sdk.contractproject.scaffold import create as scaffold

    with errors_as_cli():
        root = scaffold(name, parent, address)
    click.echo(f"created {root}\nnext: qcchain contract compile {root}")


def _print_findings(findings: list[Any]) -> None:
    for finding in findings:
        click.echo(str(finding))
    high = sum(f.severity == "high" for f in findings)
    click.echo(f"review: {len(findings)} finding(s), {high} high")


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def review(directory: Path, as_json: bool) -> None:
    """Security review of a contract's sources; exit 1 on any high-severity finding."""
    from qcchain_sdk.contractproject.review import has_high, review_tree

    with errors_as_cli():
        findings = review_tree(directory)
    if as_json:
        click.echo(json.dumps([f.__dict__ for f in findings], indent=2))
    else:
        _print_findings(findings)
    if has_high(findings):
        raise CliError(f"review failed: {sum(f.severity == 'high' for f in findings)} high-severity finding(s) in {directory}")


@click.command("compile")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Package output directory (default: DIRECTORY/dist).")
@click.option("--version", default=None, help="Override contract.json's version.")
@click.option("--address", default=None, help="Override contract.json's chaincode server address.")
@click.option("--no-verify", is_flag=True,
              help="Skip the formal verification; the deploy/upgrade proposal then records \"not verified\".")
@click.option("--verify-seconds", type=click.FloatRange(0.2, 60), default=1.0, show_default=True,
              help="CrossHair seconds per condition during the verification.")
def compile_(directory: Path, out: Path | None, version: str | None, address: str | None, no_verify: bool,
             verify_seconds: float) -> None:
    """Byte-compile, review, verify and package DIRECTORY as a Fabric ccaas package; write the review and
    verification reports beside it (their SM3 go into the deploy/upgrade proposal); print its id and digests."""
    from qcchain_sdk.contractproject.package import (build_package, compile_project, drop_evidence, load_project,
                                                     write_evidence)
    from qcchain_sdk.contractproject.review import has_high, review_tree

    with errors_as_cli():
        project = load_project(directory, version, address)
        sources = compile_project(directory)
        click.echo(f"compiled {len(sources)} source file(s)")
        findings = review_tree(directory)
        _print_findings(findings)
        if has_high(findings):
            raise CliError("compile refused: the review found high-severity hazards; nothing was packaged")
        report = None
        if not no_verify:
            report = contract_verify.run_verification(directory, contract_verify.default_policies(),
                                                      per_condition=verify_seconds, modules=(project.module,))
            click.echo(f"verification: {contract_verify.summary(report)}")
            if contract_verify.report_failed(report):
                contract_verify.print_report(report)
                raise CliError("compile refused: the verification failed (see above); nothing was packaged")
        pkg = build_package(project, out or directory / "dist", sources)
        high = sum(f.severity == "high" for f in findings)
        review_doc = write_evidence(pkg, "review", True, f"review: {len(findings)} finding(s), {high} high",
                                    [f.__dict__ for f in findings])
        if report is None:
            drop_evidence(pkg, "verification")
        else:
            write_evidence(pkg, "verification", True, f"verification: {contract_verify.summary(report)}", report)
    click.echo(f"package:     {pkg.path}\nlabel:       {pkg.label}\npackage id:  {pkg.package_id}\n"
               f"sha256:      {pkg.sha256}\nsm3:         {pkg.sm3}\nsources sm3: {pkg.sources_sm3}\n"
               f"address:     {pkg.address}\nreview:      {review_doc['summary']}\nverification: "
               + ("NOT VERIFIED (--no-verify): the proposal will say \"not verified\"" if report is None else
                  "passed, report beside the package"))
