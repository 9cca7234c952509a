"""``qcchain bench agent``: the sync agent's initial-load and change-detection figures (:mod:`qcchain_bench.agent`).

Without ``--server-url`` a devnet and an ingestion server are started in a temporary directory
(``qcchain ingest serve``), a credential is issued, and everything is torn down afterwards. The command is
a click command to be added to the ``bench`` group (``bench.add_command(agent)``); ``python -m
qcchain_cli.bench_agent`` runs it alone.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator
from contextlib import contextmanager

import click

from qcchain_bench.agent import run_agent_bench
from qcchain_bench.ingestdata import credit_code
from qcchain_core.gm import SM2PrivateKey

from .errors import CliError

QC = [sys.executable, "-m", "qcchain_cli.main"]


@contextmanager
def _devnet_server(workdir: Path) -> Iterator[dict[str, Any]]:
    state = workdir / "devnet"
    ready = workdir / "ready.json"
    log = open(workdir / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(QC + ["ingest", "serve", "--dir", str(state), "--port", "0", "--ready-file", str(ready)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise CliError("ingest serve did not start: " + (workdir / "serve.log").read_text()[-500:])
            time.sleep(0.2)
        info = json.loads(ready.read_text())
        cred = json.loads(subprocess.run(QC + ["ingest", "credentials", "issue", "--dir", str(state), "--org-no",
                                               credit_code(4242), "--name", "基准单位", "--json"],
                                         check=True, capture_output=True, text=True).stdout)
        key = SM2PrivateKey.from_pem((state / "ingest" / "sm2-key.pem").read_bytes())
        yield {"url": info["url"], "appid": cred["appid"], "secret": cred["secret"], "ca_file": info["tls_cert"],
               "public_pem": key.public_key().to_pem()}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run(QC + ["devnet", "down", "--dir", str(state)], capture_output=True)


@click.command("agent")
@click.option("--load-rows", type=click.IntRange(0), default=100_000, show_default=True,
              help="Rows of the initial load (0: skip; needs the ingestion server).")
@click.option("--scan-rows", type=click.IntRange(0), default=1_000_000, show_default=True,
              help="Unchanged rows re-scanned for change detection (0: skip).")
@click.option("--no-server", is_flag=True, help="Skip the initial load (no devnet, no ingestion server).")
@click.option("--json", "as_json", is_flag=True)
def agent(load_rows: int, scan_rows: int, no_server: bool, as_json: bool) -> None:
    """Initial load rows/s (to acknowledged on chain) and change-detection scan rows/s."""
    echo = (lambda s: click.echo(s, err=True))
    with tempfile.TemporaryDirectory(prefix="qcchain-bench-agent-") as tmp:
        work = Path(tmp)
        if no_server or not load_rows:
            result = run_agent_bench(work, 0, scan_rows, None, echo)
        else:
            with _devnet_server(work) as server:
                result = run_agent_bench(work, load_rows, scan_rows, server, echo)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    for key, value in result.items():
        click.echo(f"{key:>18}: {value}")


if __name__ == "__main__":
    agent()
