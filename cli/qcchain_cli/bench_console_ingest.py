"""The ingestion side of ``qcchain bench console``: the devnet's ingestion server (``qcchain ingest serve
--dir``, the Regulator's, its own process, HTTPS) that the console's Ingestion page reads through the admin
API, and an optional loader that pushes records through it in batches of 500 (one Fabric transaction per
batch: the fast way to put many records on the devnet).
"""

from __future__ import annotations

import json
import secrets
import ssl
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx

from .errors import CliError

BATCH = 500
TABLES = ("01", "02", "03", "04", "05", "06", "07", "08")  # 09 (hidden dangers) is L3: sealed per batch, slower


@dataclass
class IngestServer:
    url: str
    cert: Path
    key_file: Path
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_server(devnet: Path, work: Path) -> IngestServer:
    """Serve ingestion on the devnet (Regulator) and issue an admin API key into ``work``. Raises CliError."""
    from qcchain_ingest.adminapi import AdminKeys
    from qcchain_ingest.db import open_engine, sqlite_url

    ready, log = work / "ingest-ready.json", work / "ingest.log"
    handle = open(log, "wb")  # noqa: SIM115 - the process owns it
    proc = subprocess.Popen([sys.executable, "-m", "qcchain_cli.main", "ingest", "serve", "--dir", str(devnet), "--port", "0",
                             "--ready-file", str(ready)], stdout=handle, stderr=handle)
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise CliError(f"the ingestion server did not start: {log.read_text(errors='replace')[-300:]}")
        time.sleep(0.2)
    info = json.loads(ready.read_text())
    engine = open_engine(sqlite_url(str((devnet / "ingest" / "ingest.db").resolve())))
    key_file = work / "ingest-admin.key"
    key_file.write_text(AdminKeys(engine, time.time).issue("bench-console")["key"])
    key_file.chmod(0o600)
    engine.dispose()
    return IngestServer(info["url"], Path(info["tls_cert"]), key_file, proc)


def load(devnet: Path, server: IngestServer, count: int, threads: int = 4) -> float:
    """Push ``count`` records (batches of 500, tables 01-08, one appid per table) through the server;
    returns records/s committed. Raises CliError: a batch was refused or not acknowledged."""
    from qcchain_bench.ingestdata import batch_no, credit_code, record
    from qcchain_ingest.credentials import CredentialStore
    from qcchain_ingest.db import open_engine, sqlite_url

    engine = open_engine(sqlite_url(str((devnet / "ingest" / "ingest.db").resolve())))
    store = CredentialStore(engine, time.time)
    tag = secrets.token_hex(3)
    units = {code: store.issue(credit_code(int(tag, 16) % 10**6 * 10 + i), f"压测单位{tag}-{code}")
             for i, code in enumerate(TABLES)}
    engine.dispose()
    http = httpx.Client(base_url=server.url + "/jsdspcloud/servlet", verify=ssl.create_default_context(cafile=str(server.cert)),
                        timeout=300)
    tokens = {code: http.get("/token", params=cred).json()["data"]["access_token"] for code, cred in units.items()}
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    jobs = [(n, TABLES[n % len(TABLES)], min(BATCH, count - n * BATCH)) for n in range((count + BATCH - 1) // BATCH)]

    def push(job: tuple[int, str, int]) -> int:
        n, code, size = job
        number = batch_no(day, n // len(TABLES) + 1)
        body = {"access_token": tokens[code], "batchNo": number, "txcode": code, "busType": "I",
                "data": [record(code, f"BI-{tag}-{code}-{n:05d}-{i:03d}", number, "I", day, n * BATCH + i) for i in range(size)]}
        answer: dict[str, Any] = http.post("/syndata", json=body).json()
        if answer.get("rescode") != "1":
            raise CliError(f"batch {number} ({code}) was not acknowledged: {str(answer.get('msg'))[:200]}")
        return size

    started, done = time.monotonic(), 0
    with ThreadPoolExecutor(threads) as pool:
        for size in pool.map(push, jobs):
            done += size
            if done % 10_000 < BATCH:
                click.echo(f"bench console: {done}/{count} records ingested", err=True)
    http.close()
    return count / max(time.monotonic() - started, 1e-9)
