"""The agent reading a MariaDB/MySQL source (a database of its own per run) into the ingestion double."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentfake import FakeIngest
from agentkit import agent_for, create_source, execute, mapping_doc, write_mapping

BASE = "mysql+pymysql://root@127.0.0.1:3306"


def test_mariadb_source_insert_update_delete(tmp_path: Path) -> None:
    admin = sa.create_engine(f"{BASE}/test")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        pytest.skip("MariaDB is not reachable at 127.0.0.1:3306 as root")
    name = f"agent_{uuid.uuid4().hex[:10]}"
    execute(admin, f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    url = f"{BASE}/{name}?charset=utf8mb4"
    engine = sa.create_engine(url)
    server = FakeIngest()
    try:
        create_source(engine)
        agent = agent_for(write_mapping(tmp_path / "a", mapping_doc(url), server), server)
        try:
            assert agent.cycle()["send"]["acknowledged"] == 7
            execute(engine, "UPDATE staff SET name='新名字' WHERE emp_no=1")
            execute(engine, "DELETE FROM company WHERE code='C0003'")
            report = agent.cycle(force=True)
        finally:
            agent.store.close()
        by = {s["txcode"]: s for s in report["scans"]}
        assert by["03"]["updated"] == 1 and by["01"]["deleted"] == 1
        assert server.current()["P-1"]["psnName"] == "新名字" and "U-C0003" not in server.current()
    finally:
        engine.dispose()
        execute(admin, f"DROP DATABASE {name}")
        admin.dispose()
