"""Faults between the agent and the REAL ingestion server (``qcchain ingest serve`` on a devnet, HTTPS):
connections cut before the request reaches the server, answers lost / replaced by HTTP 500 / withheld past the
client's timeout AFTER the server committed (a fault proxy, ``faultproxy``), and the server SIGKILLed while a
batch is being anchored, then restarted. After recovery every source change is on chain exactly once (the
chain's own batch headers and counts against the source; reconcile clean) and no acknowledged batch is
ever sent again (the proxy sees every request)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from agentkit import company, create_source, dept, execute, insert, mapping_doc, staff, write_mapping
from faultproxy import FaultProxy
from qcchain_agent.build import open_agent
from qcchain_agent.mapping import load_mapping
from qcchain_agent.reconcile import reconcile
from qcchain_bench.ingestdata import credit_code
from qcchain_core.gm import SM2PrivateKey
from qcchain_gateway.profile import connect_profile
from qcchain_sdk.contracts.ingest import IngestClient as ChainReader

ROOT = Path(__file__).resolve().parents[2]
QC = [sys.executable, "-m", "qcchain_cli.main"]

pytestmark = pytest.mark.slow


class Server:
    """``qcchain ingest serve --dir`` as a process that can be SIGKILLed and started again."""

    def __init__(self, state: Path) -> None:
        self.state, self.n = state, 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = self.cert = ""

    def start(self) -> str:
        self.n += 1
        ready = self.state.parent / f"ready{self.n}.json"
        log = open(self.state.parent / f"serve{self.n}.log", "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(QC + ["ingest", "serve", "--dir", str(self.state), "--port", "0",
                                           "--ready-file", str(ready)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 180
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.state.parent / f"serve{self.n}.log").read_text()[-1500:])
            time.sleep(0.1)
        info = json.loads(ready.read_text())
        self.url, self.cert = info["url"], info["tls_cert"]
        return self.url

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, ChainReader]]:
    state = tmp_path_factory.mktemp("agentfaults") / "devnet"
    server = Server(state)
    gateway = None
    try:
        server.start()
        gateway = connect_profile(state / "connection-profiles" / "connection-regulator.json", user="Admin")
        yield server, ChainReader(gateway.get_network("qcchannel").get_contract("qcchain"))
    finally:
        if gateway is not None:
            gateway.close()
        server.stop()
        subprocess.run(QC + ["devnet", "down", "--dir", str(state)], capture_output=True)


class Plan:
    """Which fault each request meets: the first request of the k-th distinct batchNo gets FAULTS[k % 5];
    every later request of it passes. One token request is cut, one status lookup loses its answer."""

    FAULTS = ("lose", "500", "cut", "hang", "pass")

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.token_cut = self.status_lost = False
        self.on_syndata: Any = None  # optional hook(batch_no) called before forwarding a first request

    def __call__(self, path: str, body: Any) -> str:
        if path.endswith("/token") and not self.token_cut:
            self.token_cut = True
            return "cut"
        if "/batch/" in path and not self.status_lost:
            self.status_lost = True
            return "lose"
        if not path.endswith("/syndata") or not isinstance(body, dict):
            return "pass"
        number = str(body.get("batchNo"))
        if number in self.seen:
            return "pass"
        self.seen.append(number)
        if self.on_syndata is not None:
            self.on_syndata(number)
        return self.FAULTS[len(self.seen) % len(self.FAULTS)]


def _unit(server: Server, folder: Path, url: str, proxy_url: str) -> tuple[Path, dict[str, str], str]:
    org_no = credit_code(7000 + os.getpid() % 1000)
    out = subprocess.run(QC + ["ingest", "credentials", "issue", "--dir", str(server.state), "--org-no", org_no,
                               "--name", "故障单位", "--json"], check=True, capture_output=True, text=True, cwd=ROOT)
    cred = json.loads(out.stdout)
    doc = mapping_doc(url)
    doc["batch_size"] = 4
    tag = uuid.uuid4().hex[:6]
    for t in doc["txcodes"].values():
        t["id_prefix"] = f"{tag}-{t['id_prefix']}"
    doc["server"].update({"url": proxy_url, "appid": cred["appid"], "ca_file": server.cert, "timeout": 3,
                          "retries": 2, "backoff": 0.05, "backoff_max": 0.2})
    folder.mkdir(parents=True, exist_ok=True)
    key = SM2PrivateKey.from_pem((server.state / "ingest" / "sm2-key.pem").read_bytes())
    (folder / "org.pem").write_bytes(key.public_key().to_pem())
    return write_mapping(folder, doc), {"AGENT_TEST_SECRET": cred["secret"]}, org_no


def _drain(agent: Any, rounds: int = 12, on_fail: Any = None) -> list[dict[str, Any]]:
    """Cycle until the outbox is empty (a failed send leaves batches pending for the next cycle)."""
    reports = []
    for _ in range(rounds):
        reports.append(agent.cycle(force=not reports))
        if not agent.store.pending():
            return reports
        if on_fail is not None:
            on_fail()
    raise AssertionError(f"outbox not drained: {agent.store.counts()} {reports[-1]}")


def test_faults_after_commit_and_server_restart_exactly_once(stack: Any, tmp_path: Path) -> None:
    server, chain = stack
    url = f"sqlite:///{tmp_path}/src.db"
    engine = sa.create_engine(url)
    create_source(engine, companies=3, depts=5, staffs=0)
    insert(engine, "staff", [staff(i) for i in range(1, 41)])
    plan = Plan()
    key_file = server.state / "ingest" / "tls-key.pem"
    proxy = FaultProxy(server.cert, str(key_file), server.url, plan, hang_s=4.5)
    path, env, org_no = _unit(server, tmp_path / "unit", url, proxy.url)
    mapping = load_mapping(path)
    agent = open_agent(mapping, env)
    killed: list[str] = []
    try:
        # phase 1: initial load (48 records, 12 batches) through lost / 500 / cut / timed-out answers
        _drain(agent)
        assert {h.mode for h in proxy.hits} >= {"lose", "500", "cut", "hang", "pass"}

        # phase 2: I/U/D in the source; the server is SIGKILLed while the 2nd new batch is being anchored
        insert(engine, "company", [company(i) for i in (7, 8, 9)])
        execute(engine, "UPDATE staff SET dept='安全部' WHERE emp_no <= 6")
        execute(engine, "DELETE FROM dept WHERE dept_id IN (2, 4)")
        first = len(plan.seen)

        def kill_when_committed(number: str) -> None:
            if len(plan.seen) != first + 2 or killed:
                return
            appid = mapping.server.appid

            def watch() -> None:
                deadline = time.monotonic() + 60
                while chain.batch(appid, number) is None and time.monotonic() < deadline:
                    time.sleep(0.01)
                server.kill()  # the chain holds the batch; the server dies before (or while) answering
                killed.append(number)
            threading.Thread(target=watch, daemon=True).start()

        plan.on_syndata = kill_when_committed

        def restart() -> None:
            if killed and server.proc is not None and server.proc.poll() is not None:
                proxy.set_upstream(server.start())
        reports = _drain(agent, on_fail=restart)
        assert killed, "the server was never killed mid-run"
        assert any(r["send"]["error"] for r in reports), "the kill did not interrupt sending"
        assert server.n == 2

        # exactly once: the agent, the chain's batch headers and record counts, reconcile
        acked = agent.store.batches("acked")
        assert agent.store.counts() == {"acked": len(acked)}
        appid = mapping.server.appid
        summary = chain.summary(appid)
        assert summary["batches"] == len(acked)
        assert summary["records"] == sum(len(b.data) for b in acked) == 48 + 3 + 6 + 2
        for batch in acked:  # each batchNo anchored in exactly the transaction its receipt names
            assert chain.batch(appid, batch.batch_no)["tx_id"] == batch.receipt["tx_id"]
        assert chain.count(org_no) == 51  # distinct IDs ever inserted: 48 + 3 companies
        result = reconcile(mapping, agent.store, agent.source, agent.client, agent.key)
        assert result.clean and result.checked == result.matching == 49, result.as_dict()

        # nothing acknowledged is resent: no request for a batchNo after its success reached the agent
        done: set[str] = set()
        for hit in proxy.syndata():
            assert hit.batch_no not in done, f"acknowledged batch {hit.batch_no} was sent again"
            if hit.delivered and hit.rescode == "1":
                done.add(str(hit.batch_no))
        looked_up = {h.batch_no for h in proxy.lookups() if h.delivered and h.rescode == "1"}
        assert done <= {b.batch_no for b in acked} <= done | looked_up  # acked by its answer or a status lookup
        faulted = {h.batch_no for h in proxy.syndata() if h.mode in ("lose", "500", "hang") and h.rescode == "1"}
        assert faulted, "no batch was committed by the server while its answer was lost"
    finally:
        agent.store.close()
        proxy.close()
