"""Faults on the real stack (HTTPS server process + devnet): the server is killed (SIGKILL) while a batch is
in flight — frozen the instant the chain holds the batch's header, i.e. between the commit and the answer,
and at other moments. After a restart the unit resends: a resent batch is never anchored twice, an
acknowledged one is never lost, and the token issued before the crash still works."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from qcchain_bench.ingestdata import batch_no, credit_code, record
from qcchain_gateway.profile import connect_profile
from qcchain_ingest.credentials import CredentialStore
from qcchain_ingest.db import batches, open_engine
from qcchain_sdk.contracts.ingest import IngestClient

from .conftest import QC, ROOT

DAY = "2024-07-08"
PREFIX = "/jsdspcloud/servlet"


class Proc:
    def __init__(self, state: Path) -> None:
        self.state, self.n = state, 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        self.n += 1
        ready = self.state.parent / f"ready{self.n}.json"
        log = open(self.state.parent / f"serve{self.n}.log", "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(QC + ["ingest", "serve", "--dir", str(self.state), "--port", "0", "--ready-file",
                                           str(ready)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 120
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.state.parent / f"serve{self.n}.log").read_text()[-1500:])
            time.sleep(0.1)
        info = json.loads(ready.read_text())
        self.cert, self.url = info["tls_cert"], str(info["url"])
        return self.url

    def kill(self) -> None:
        assert self.proc is not None
        with_pid = self.proc.pid
        os.kill(with_pid, signal.SIGKILL)
        self.proc.wait(10)


def _row_status(state: Path, appid: str, number: str) -> str | None:
    engine = create_engine(f"sqlite:///{state / 'ingest' / 'ingest.db'}")
    try:
        with engine.connect() as conn:
            row = conn.execute(select(batches.c.status).where(batches.c.appid == appid,
                                                              batches.c.batch_no == number)).first()
    finally:
        engine.dispose()
    return None if row is None else str(row[0])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    state = tmp_path_factory.mktemp("faults") / "devnet"
    proc = Proc(state)
    try:
        url = proc.start()
        yield proc, url
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.proc.send_signal(signal.SIGINT)
            try:
                proc.proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(QC + ["devnet", "down", "--dir", str(state)], capture_output=True)


def test_kill_between_commit_and_answer_then_resend(stack: Any) -> None:
    proc, url = stack
    state: Path = proc.state
    cred = CredentialStore(open_engine(f"sqlite:///{state / 'ingest' / 'ingest.db'}"), time.time).issue(credit_code(31), "故障测试单位")
    http = httpx.Client(base_url=url + PREFIX, verify=ssl.create_default_context(cafile=proc.cert), timeout=60)
    token = http.get("/token", params={"appid": cred["appid"], "secret": cred["secret"]}).json()["data"]["access_token"]
    gateway = connect_profile(state / "connection-profiles" / "connection-regulator.json", user="Admin")
    chain = IngestClient(gateway.get_network("qcchannel").get_contract("qcchain"))
    sent: list[dict[str, Any]] = []
    acked: dict[str, dict[str, Any]] = {}
    window_hits = 0
    try:
        for attempt in range(1, 7):
            number = batch_no(DAY, attempt)
            doc = {"access_token": token, "batchNo": number, "txcode": "02", "busType": "I",
                   "data": [record("02", f"f31-{attempt}-{i}", number, "I", DAY, i) for i in range(40)]}
            sent.append(doc)
            answers: list[Any] = []

            def push() -> None:
                try:
                    answers.append(http.post("/syndata", json=doc).json())
                except httpx.HTTPError as exc:
                    answers.append(exc)

            worker = threading.Thread(target=push)
            worker.start()
            lock = None
            if attempt % 3 == 0:
                time.sleep(0.005)                       # early: most likely before the commit
            else:
                # hold the server's state database once its outbox row is written: the anchoring goes on, but
                # the server cannot mark the batch anchored (nor answer) until the lock is released — the
                # window between commit and answer, held open however fast the pipeline is
                deadline = time.monotonic() + 30
                while _row_status(state, cred["appid"], number) != "anchoring" and time.monotonic() < deadline:
                    time.sleep(0.001)
                lock = sqlite3.connect(state / "ingest" / "ingest.db", timeout=30, isolation_level=None)
                lock.execute("BEGIN IMMEDIATE")
                while chain.batch(cred["appid"], number) is None and time.monotonic() < deadline:
                    time.sleep(0.005)                   # freeze the server once the chain has it
            assert proc.proc is not None
            os.kill(proc.proc.pid, signal.SIGSTOP)
            if lock is not None:
                lock.execute("ROLLBACK")
                lock.close()
            if _row_status(state, cred["appid"], number) == "anchoring" and chain.batch(cred["appid"], number):
                window_hits += 1                        # committed on chain, not yet answered
            proc.kill()
            worker.join(30)
            if answers and isinstance(answers[0], dict) and answers[0].get("rescode") == "1":
                acked[number] = answers[0]["data"]
            url = proc.start()
            http.close()
            http = httpx.Client(base_url=url + PREFIX, verify=ssl.create_default_context(cafile=proc.cert), timeout=60)
        for doc in sent:                                # the unit resends everything (same token: survives restarts)
            answer = http.post("/syndata", json=doc).json()
            assert answer["rescode"] == "1", answer
            header = chain.batch(cred["appid"], doc["batchNo"])
            assert header is not None and answer["data"]["tx_id"] == header["tx_id"]
            if doc["batchNo"] in acked:
                assert acked[doc["batchNo"]]["tx_id"] == header["tx_id"]
        summary = chain.summary(cred["appid"])
        assert summary["batches"] == len(sent) and summary["records"] == 40 * len(sent)   # each anchored once
        assert chain.count(credit_code(31), "02") == 40 * len(sent)
    finally:
        http.close()
        gateway.close()
    assert window_hits >= 1, "the server was never frozen between the commit and its answer"


def test_kill_the_devnet_while_batches_are_in_flight_then_resend(stack: Any) -> None:
    """SIGKILL the devnet (orderer + peers + its chaincode server) while the unit streams batches; the operator
    restarts it on the same port (``qcchain devnet up --dir D --port P --detach``); the server reconnects by
    itself. Every acknowledged batch is on chain after the crash (acknowledged = durable), and the unit's
    resend of everything anchors each batch exactly once."""
    from qcchain_devnet.detached import status

    proc, _ = stack
    url = proc.url  # the server of this moment (an earlier test restarts it on new ports)
    state: Path = proc.state
    cred = CredentialStore(open_engine(f"sqlite:///{state / 'ingest' / 'ingest.db'}"), time.time).issue(credit_code(32), "断链测试单位")
    http = httpx.Client(base_url=url + PREFIX, verify=ssl.create_default_context(cafile=proc.cert), timeout=60)
    token = http.get("/token", params={"appid": cred["appid"], "secret": cred["secret"]}).json()["data"]["access_token"]
    before = status(state)
    port = int(str(before["url"]).rsplit(":", 1)[1])
    docs = [{"access_token": token, "batchNo": batch_no(DAY, 100 + n), "txcode": "02", "busType": "I",
             "data": [record("02", f"f32-{n}-{i}", batch_no(DAY, 100 + n), "I", DAY, i) for i in range(40)]}
            for n in range(8)]
    answers: dict[str, Any] = {}

    def stream() -> None:
        for doc in docs:
            try:
                answers[doc["batchNo"]] = http.post("/syndata", json=doc).json()
            except httpx.HTTPError as exc:
                answers[doc["batchNo"]] = exc

    worker = threading.Thread(target=stream)
    worker.start()
    deadline = time.monotonic() + 60
    while len(answers) < 2 and time.monotonic() < deadline:  # a couple acknowledged, the next ones in flight
        time.sleep(0.01)
    os.kill(int(before["pid"]), signal.SIGKILL)
    worker.join(120)
    assert not worker.is_alive(), "the server did not answer the batches in flight once the devnet died"
    acked = {n: a["data"]["tx_id"] for n, a in answers.items() if isinstance(a, dict) and a.get("rescode") == "1"}
    refused = [a for a in answers.values() if isinstance(a, dict) and a.get("rescode") == "0"]
    assert len(acked) >= 2 and refused, answers                # some acknowledged before, some refused after
    assert all(a.get("msg") and "Traceback" not in a["msg"] for a in refused)
    up = subprocess.run(QC + ["devnet", "up", "--dir", str(state), "--port", str(port), "--detach"],
                        capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert up.returncode == 0, up.stderr[-1500:]
    gateway = connect_profile(state / "connection-profiles" / "connection-regulator.json", user="Admin")
    chain = IngestClient(gateway.get_network("qcchannel").get_contract("qcchain"))
    try:
        for number, tx_id in acked.items():                    # acknowledged before the crash: still there
            header = chain.batch(cred["appid"], number)
            assert header is not None and header["tx_id"] == tx_id
        deadline = time.monotonic() + 60
        for doc in docs:                                        # the unit resends everything
            while True:
                answer = http.post("/syndata", json=doc).json()
                if answer["rescode"] == "1" or time.monotonic() > deadline:
                    break
                time.sleep(0.5)                                 # the server's channel may still be reconnecting
            assert answer["rescode"] == "1", answer
            assert chain.batch(cred["appid"], doc["batchNo"])["tx_id"] == answer["data"]["tx_id"]
            if doc["batchNo"] in acked:
                assert answer["data"]["tx_id"] == acked[doc["batchNo"]]
        summary = chain.summary(cred["appid"])
        assert summary["batches"] == len(docs) and summary["records"] == 40 * len(docs)  # each anchored once
    finally:
        http.close()
        gateway.close()
