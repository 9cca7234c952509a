"""``qcchain bench fabric-chaincode``: this chaincode runtime vs Node's fabric-shim vs Go's shim on one
native Fabric network (:mod:`qcchain_bench.fabriccc`), as one JSON object.

A click command added to the ``bench`` group; ``python -m qcchain_cli.bench_fabriccc`` runs it alone.
Needs Fabric binaries (``FABRIC_BIN`` or ``PATH``); the Node arm needs node + npm (npm registry), the Go arm
a Go toolchain and Fabric's source tree with its vendor directory (``--fabric-src``); a missing one is
skipped with the reason in ``skipped``.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import click

from qcchain_bench.errors import BenchError
from qcchain_bench.fabriccc import ARMS, Tools, run_fabric_chaincode_bench
from qcchain_network.errors import NetworkError

from .errors import CliError


@click.command("fabric-chaincode")
@click.option("--arms", default=",".join(ARMS), show_default=True,
              help="Comma-separated arms to compare (python is required).")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 50))
@click.option("--submits", default=600, show_default=True, type=click.IntRange(10), help="Submits per arm and round.")
@click.option("--evaluates", default=3000, show_default=True, type=click.IntRange(10),
              help="Evaluates per arm and round.")
@click.option("--in-flight", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--base-port", default=29050, show_default=True, type=click.IntRange(1024, 60000),
              help="First port of the bench network.")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the network, the npm install and the Go build go (default: a temporary directory).")
@click.option("--fabric-src", type=click.Path(file_okay=False, path_type=Path), envvar="FABRIC_SRC",
              default=Path("/opt/fabric-src/fabric"), show_default=True,
              help="Fabric source tree whose vendor/ builds the Go arm [env FABRIC_SRC].")
@click.option("--go", "go_bin", envvar="GO", default="go", show_default=True, help="Go toolchain [env GO].")
@click.option("--node", "node_bin", default="node", show_default=True)
@click.option("--npm", "npm_bin", default="npm", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the default output too).")
def fabric_chaincode(arms: str, rounds: int, submits: int, evaluates: int, in_flight: int, base_port: int,
                     work_dir: Path | None, fabric_src: Path, go_bin: str, node_bin: str, npm_bin: str,
                     as_json: bool) -> None:
    """Committed tx/s, evaluates/s, latency and chaincode CPU: python vs node vs go on real Fabric."""
    chosen = [a.strip() for a in arms.split(",") if a.strip()]
    unknown = [a for a in chosen if a not in ARMS]
    if unknown or "python" not in chosen:
        raise CliError(f"--arms: {','.join(unknown) or 'python missing'}; choose from {','.join(ARMS)} "
                       "and include python")
    tools = Tools(npm=npm_bin, node=node_bin, go=go_bin, fabric_src=fabric_src)
    try:
        if work_dir is not None:
            result = run_fabric_chaincode_bench(work_dir, chosen, rounds, submits, evaluates, in_flight,
                                                base_port, tools)
        else:
            with tempfile.TemporaryDirectory(prefix="qcchain-ccbench-") as tmp:
                result = run_fabric_chaincode_bench(Path(tmp), chosen, rounds, submits, evaluates, in_flight,
                                                    base_port, tools)
    except (BenchError, NetworkError) as exc:
        raise CliError(str(exc)) from exc
    click.echo(json.dumps(result, sort_keys=True))


if __name__ == "__main__":  # pragma: no cover - entry point
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fabric_chaincode()  # pylint: disable=no-value-for-parameter
