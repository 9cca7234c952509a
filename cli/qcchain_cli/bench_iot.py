"""``qcchain bench iot``: the IoT telemetry figures (:mod:`qcchain_bench.iot`) as one JSON object.

Without ``--broker`` our own Mosquitto (TLS) is started; ``--broker embedded`` uses the embedded
broker; ``--broker mqtts://HOST:PORT`` an external broker (with ``--ca`` and ``--credentials``: its
credential directory, where the bench issues its accounts). A click command added to the ``bench`` group
(``bench.add_command(iot)``); ``python -m qcchain_cli.bench_iot`` runs it alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from qcchain_bench.errors import BenchError
from qcchain_bench.iot import run_iot_bench
from qcchain_iot.consumer import BrokerAddress
from qcchain_iot.errors import IotError, PolicyError
from qcchain_iot.policy import parse_policy

from .errors import CliError

ROOT = Path(__file__).resolve().parents[2]


@click.command()
@click.option("--broker", default="mosquitto", show_default=True,
              help="mosquitto | embedded | mqtts://HOST:PORT (external broker).")
@click.option("--ca", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CA of an external broker.")
@click.option("--credentials", "workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Work directory of an external broker: its credential directory is WORKDIR/cred.")
@click.option("--devices", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--readings", default=2500, show_default=True, type=click.IntRange(1), help="Readings per device.")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=ROOT / "policies" / "warnings.yaml", show_default=True)
@click.option("--chain/--no-chain", default=True, show_default=True,
              help="Relay warnings to a bootstrapped devnet: latency measured to the warning committed on chain.")
@click.option("--relay-workers", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Warning transactions the relay keeps in flight.")
@click.option("--relay-batch", default=32, show_default=True, type=click.IntRange(1, 64),
              help="Warnings per transaction (1: one raise_warning per warning).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the default output too).")
def iot(broker: str, ca: Path | None, workdir: Path | None, devices: int, readings: int, policy_file: Path,
        chain: bool, relay_workers: int, relay_batch: int, as_json: bool) -> None:
    """IoT telemetry throughput, losses and warning latency."""
    try:
        policy = parse_policy(yaml.safe_load(policy_file.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, PolicyError) as exc:
        raise CliError(f"cannot use the warnings policy {policy_file}: {exc}") from exc
    address = None
    if broker not in ("mosquitto", "embedded"):
        scheme, _, rest = broker.partition("://")
        host, _, port = rest.rpartition(":")
        if scheme not in ("mqtt", "mqtts") or not port.isdigit() or workdir is None:
            raise CliError("--broker must be mosquitto, embedded or mqtts://HOST:PORT (with --credentials)")
        address = BrokerAddress(host, int(port), str(ca) if ca else None)
    try:
        result = run_iot_bench(policy, broker, devices, readings, address, workdir, chain, relay_workers, relay_batch)
    except (BenchError, IotError) as exc:
        raise CliError(str(exc)) from exc
    click.echo(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    iot()
