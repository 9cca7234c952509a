"""End to end: the agent's CLI against the real HTTPS ingestion server (``qcchain ingest serve``) on a devnet,
with PostgreSQL and SQLite sources: initial load, I/U/D, reconcile, and the agent killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from agentkit import company, create_source, dept, execute, insert, mapping_doc, staff, write_mapping
from qcchain_core.gm import SM2PrivateKey

ROOT = Path(__file__).resolve().parents[2]
QC = [sys.executable, "-m", "qcchain_cli.main"]
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("ingest") / "devnet"
    ready = state.parent / "ready.json"
    log = open(state.parent / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(QC + ["ingest", "serve", "--dir", str(state), "--port", "0", "--ready-file", str(ready)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("ingest serve did not start: " + (state.parent / "serve.log").read_text()[-2000:])
            time.sleep(0.2)
        info = json.loads(ready.read_text())
        key = SM2PrivateKey.from_pem((state / "ingest" / "sm2-key.pem").read_bytes())
        info["public_pem"] = key.public_key().to_pem()
        info["state"] = state
        yield info
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run(QC + ["devnet", "down", "--dir", str(state)], capture_output=True)


_units = iter(range(1, 10_000))


def unit_mapping(ingest: dict[str, Any], folder: Path, url: str, schema: str | None = None,
                 batch_size: int = 3) -> tuple[Path, dict[str, str]]:
    from qcchain_bench.ingestdata import credit_code
    n = next(_units) + os.getpid() % 1000 * 10
    out = subprocess.run(QC + ["ingest", "credentials", "issue", "--dir", str(ingest["state"]), "--org-no",
                               credit_code(n), "--name", f"单位{n}", "--json"], check=True, capture_output=True, text=True)
    cred = json.loads(out.stdout)
    doc = mapping_doc(url, schema)
    doc["batch_size"] = batch_size
    tag = uuid.uuid4().hex[:6]  # record IDs are unique per ingestion service: one namespace per test unit
    for code, t in doc["txcodes"].items():
        t["id_prefix"] = f"{tag}-{t['id_prefix']}"
    doc["server"].update({"url": ingest["url"], "appid": cred["appid"], "ca_file": ingest["tls_cert"]})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "org.pem").write_bytes(ingest["public_pem"])
    path = write_mapping(folder, doc)
    env = {**os.environ, "AGENT_TEST_SECRET": cred["secret"]}
    return path, env


def agent(path: Path, env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(QC + ["agent", *args, str(path)], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=300)
    if check and out.returncode != 0:
        pytest.fail(f"agent {' '.join(args)} exited {out.returncode}: {out.stderr[-2000:]}")
    return out


@pytest.fixture()
def pg_schema() -> Iterator[tuple[sa.Engine, str]]:
    engine = sa.create_engine(PG)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    schema = f"agent_{uuid.uuid4().hex[:10]}"
    execute(engine, f"CREATE SCHEMA {schema}")
    scoped = sa.create_engine(PG, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield scoped, schema
    finally:
        scoped.dispose()
        execute(engine, f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


def test_postgres_source_full_load_then_changes_then_reconcile(ingest, pg_schema, tmp_path: Path) -> None:
    engine, schema = pg_schema
    create_source(engine)
    path, env = unit_mapping(ingest, tmp_path / "unit", PG, schema)
    assert "ok (3 txcodes" in agent(path, env, "check").stdout
    first = json.loads(agent(path, env, "run", "--once", "--json").stdout)
    assert [s["inserted"] for s in first["scans"]] == [3, 4, 5] and first["send"]["pending"] == 0
    assert json.loads(agent(path, env, "reconcile", "--json").stdout)["clean"]

    insert(engine, "company", [company(9)])
    execute(engine, "UPDATE staff SET dept='安全部' WHERE emp_no=2")
    execute(engine, "DELETE FROM dept WHERE dept_id=3")
    second = json.loads(agent(path, env, "run", "--once", "--all", "--json").stdout)
    by = {s["txcode"]: s for s in second["scans"]}
    assert (by["01"]["inserted"], by["03"]["updated"], by["02"]["deleted"]) == (1, 1, 1)
    assert second["send"]["pending"] == 0 and not second["send"]["quarantined"]
    rec = json.loads(agent(path, env, "reconcile", "--json").stdout)
    assert rec["clean"] and rec["checked"] == 12 and rec["matching"] == 12

    # a change the agent has not sent yet shows up as stale, a new row as missing
    execute(engine, "UPDATE company SET addr='江苏省南京市鼓楼区' WHERE code='C0001'")
    insert(engine, "dept", [dept(30)])
    out = agent(path, env, "reconcile", "--json", check=False)
    assert out.returncode == 3
    diff = json.loads(out.stdout)
    assert [d["id"][-7:] for d in diff["stale"]] == ["U-C0001"] and [d["id"][-4:] for d in diff["missing"]] == ["D-30"]
    status = json.loads(agent(path, env, "status", "--json").stdout)
    assert status["batches"].get("pending", 0) == 0 and status["quarantined_rows"] == 0


def test_sqlite_source_agent_killed_mid_run_then_exactly_once(ingest, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/src.db"
    engine = sa.create_engine(url)
    create_source(engine, companies=2, depts=2, staffs=0)
    insert(engine, "staff", [staff(i) for i in range(1, 121)])
    insert(engine, "staff", [staff(500, idno="not-an-id")])  # quarantined locally, never sent
    path, env = unit_mapping(ingest, tmp_path / "unit", url, batch_size=5)
    state_db = path.parent / "state" / "state.sqlite3"
    proc = subprocess.Popen(QC + ["agent", "run", str(path)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        acked = 0
        while acked < 3:
            assert proc.poll() is None and time.monotonic() < deadline, "agent ended or stalled before being killed"
            time.sleep(0.1)
            if state_db.exists():
                try:
                    with sqlite3.connect(state_db) as db:
                        acked = db.execute("SELECT count(*) FROM batch WHERE state='acked'").fetchone()[0]
                except sqlite3.Error:
                    pass
    finally:
        proc.kill()  # SIGKILL, mid-run
        proc.wait()
    with sqlite3.connect(state_db) as db:
        states = dict(db.execute("SELECT state, count(*) FROM batch GROUP BY state").fetchall())
    assert states.get("pending", 0) > 0, states  # work was left unacknowledged
    execute(engine, "UPDATE staff SET name='改名' WHERE emp_no=7")
    done = json.loads(agent(path, env, "run", "--once", "--all", "--json").stdout)
    assert done["send"]["pending"] == 0 and not done["send"]["quarantined"]
    rec = json.loads(agent(path, env, "reconcile", "--json").stdout)
    assert rec["clean"] and rec["checked"] == 125 and rec["matching"] == 124, rec
    assert [q["id"][-5:] for q in rec["quarantined"]] == ["P-500"]
    status = json.loads(agent(path, env, "status", "--quarantine", "--json").stdout)
    assert [q["source_key"] for q in status["quarantine"]] == ["query:emp_no=500"]
    assert status["batches"].get("quarantined", 0) == 0
