"""A running ingestion server over HTTPS on a fresh devnet (``qcchain ingest serve --dir``), shared per module."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from qcchain_bench.ingestdata import credit_code

ROOT = Path(__file__).resolve().parents[2]
QC = [sys.executable, "-m", "qcchain_cli.main"]


class Server:
    """A running ``qcchain ingest serve``; ``where`` are the CLI options that name its state (``--dir`` and,
    on PostgreSQL, ``--db``)."""

    def __init__(self, state: Path, url: str, cert: str, db_url: str | None = None) -> None:
        self.state, self.url, self.cert = state, url, cert
        self.where = ["--dir", str(state)] + (["--db", db_url] if db_url else [])
        self.http = httpx.Client(base_url=url + "/jsdspcloud/servlet", verify=ssl.create_default_context(cafile=cert), timeout=60)

    def issue(self, n: int, name: str = "测试单位") -> dict[str, str]:
        out = subprocess.run(QC + ["ingest", "credentials", "issue", *self.where, "--org-no", credit_code(n),
                                   "--name", name, "--json"], check=True, capture_output=True, text=True)
        return json.loads(out.stdout)

    def token(self, cred: dict[str, str]) -> str:
        answer = self.http.get("/token", params={"appid": cred["appid"], "secret": cred["secret"]}).json()
        assert answer["rescode"] == "1", answer
        return answer["data"]["access_token"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server on a fresh devnet, its own state in SQLite (the default) or in a fresh PostgreSQL database
    (skipped, naming the service, when no PostgreSQL server is reachable)."""
    from .statedb import state_url

    state = tmp_path_factory.mktemp("ingest") / "devnet"
    for db_url in state_url(request.param, state.parent):
        yield from _serve(state, db_url if request.param == "postgresql" else None)


def _serve(state: Path, db_url: str | None) -> Iterator[Server]:
    ready = state.parent / "ready.json"
    log = open(state.parent / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(QC + ["ingest", "serve", "--dir", str(state), "--port", "0", "--ready-file", str(ready)]
                            + (["--db", db_url] if db_url else []), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 90
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ingest serve did not start: " + (state.parent / "serve.log").read_text()[-2000:])
            time.sleep(0.2)
        info: dict[str, Any] = json.loads(ready.read_text())
        yield Server(state, info["url"], info["tls_cert"], db_url)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run(QC + ["devnet", "down", "--dir", str(state)], capture_output=True)
