"""``bench agent``: the sync agent's two figures.

* ``rows_per_s`` — initial load: a SQLite source of ``load_rows`` rows in three tables (unit 10 %,
  departments 30 %, personnel 60 %) read, mapped, fingerprinted, queued and pushed to a real ingestion
  server until every batch is acknowledged (receipt and Merkle root verified) — i.e. anchored on chain.
* ``scan_rows_per_s`` — change detection over ``scan_rows`` personnel rows already fingerprinted, nothing
  changed: read, map, SM3 and compare (no batch queued). ``queue_rows_per_s`` is the first, full scan of
  the same rows (everything queued into the outbox, no sending).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa
import yaml

from qcchain_agent.build import open_agent
from qcchain_agent.mapping import load_mapping

__all__ = ["make_source", "run_agent_bench", "MAPPING_TXCODES"]

_DDL = [
    "CREATE TABLE company (code TEXT PRIMARY KEY, name TEXT, credit TEXT, boss TEXT, city TEXT, district TEXT,"
    " addr TEXT, contact TEXT, tel TEXT)",
    "CREATE TABLE dept (dept_id INTEGER PRIMARY KEY, dname TEXT, parent TEXT, is_safety TEXT, man TEXT, tel TEXT)",
    "CREATE TABLE staff (emp_no INTEGER PRIMARY KEY, name TEXT, idno TEXT, dept TEXT, chief TEXT, mgr INTEGER,"
    " opr INTEGER, res INTEGER, kind TEXT, cert TEXT, auth_dt TEXT, end_dt DATE, com TEXT)",
]

MAPPING_TXCODES: dict[str, Any] = {
    "01": {"table": "company", "id": "code", "id_prefix": "U-", "fields": {
        "comName": {"column": "name"}, "orgNo": {"column": "credit", "upper": True}, "deputy": {"column": "boss"},
        "cityCode": {"column": "city", "codes": "city"}, "aeraCode": {"column": "district", "default": "未知"},
        "address": {"column": "addr"}, "linkMan": {"column": "contact"}, "linkTel": {"column": "tel"}}},
    "02": {"table": "dept", "id": "dept_id", "id_prefix": "D-", "fields": {
        "deptName": {"column": "dname"}, "dParentName": {"column": "parent"},
        "isSecDept": {"column": "is_safety", "codes": "yesno"}, "dLinkMan": {"column": "man"},
        "dLinkTel": {"column": "tel"}}},
    "03": {"table": "staff", "id": "emp_no", "id_prefix": "P-", "fields": {
        "psnName": {"column": "name"}, "idCardNo": {"column": "idno"}, "deptName": {"column": "dept"},
        "isSecChief": {"column": "chief", "codes": "yesno"}, "isSecManager": {"column": "mgr"},
        "isOpr": {"column": "opr"}, "isRes": {"column": "res"}, "lcnsKind": {"column": "kind"},
        "certNo": {"column": "cert"}, "authDate": {"column": "auth_dt", "date_formats": ["%Y/%m/%d"]},
        "endDate": {"column": "end_dt"}, "authCom": {"column": "com"}}},
}


def make_source(path: Path, rows: int, mix: tuple[float, float, float] = (0.1, 0.3, 0.6), seed: int = 0) -> dict[str, int]:
    """Write a SQLite source of ``rows`` rows split over company/dept/staff by ``mix``; returns the counts."""
    counts = {"company": int(rows * mix[0]), "dept": int(rows * mix[1])}
    counts["staff"] = rows - counts["company"] - counts["dept"]
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for ddl in _DDL:
            conn.execute(sa.text(ddl))
        step = 20_000
        for start in range(0, counts["company"], step):
            conn.execute(sa.text("INSERT INTO company VALUES (:a,:b,:c,'张三','南京','玄武','江苏省南京市玄武区1号','李四',"
                                 "'18200000000')"),
                         [{"a": f"C{seed}-{i}", "b": f"测试{i}有限公司", "c": "91320100MA1XYW1234"}
                          for i in range(start, min(start + step, counts["company"]))])
        for start in range(0, counts["dept"], step):
            conn.execute(sa.text("INSERT INTO dept VALUES (:a,:b,'测试有限公司',:c,'王五','025-8888888')"),
                         [{"a": i, "b": f"管理{i}部", "c": "Y" if i % 2 else "N"}
                          for i in range(start, min(start + step, counts["dept"]))])
        end = dt.date(2028, 7, 7)
        for start in range(0, counts["staff"], step):
            conn.execute(sa.text("INSERT INTO staff VALUES (:a,:b,:c,'管理1部','N',0,1,0,'特种设备安全管理',:d,"
                                 "'2024/07/08',:e,'南京市玄武区市场监督管理局')"),
                         [{"a": i, "b": f"员工{i}", "c": f"320100{i:011d}X", "d": f"CERT{i}", "e": end}
                          for i in range(start, min(start + step, counts["staff"]))])
    engine.dispose()
    return counts


def _mapping(folder: Path, source: Path, server: dict[str, Any] | None, txcodes: dict[str, Any]) -> Path:
    doc: dict[str, Any] = {
        "version": 1, "state_dir": "state", "batch_size": 500,
        "source": {"url": f"sqlite:///{source}", "fetch_size": 5000},
        "server": {"url": (server or {}).get("url", "https://127.0.0.1:1"), "appid": (server or {}).get("appid", "BENCH"),
                   "secret_env": "QCCHAIN_BENCH_AGENT_SECRET", "receipt_key": "org.pem"},
        "code_tables": {"yesno": {"Y": 1, "N": 0}, "city": {"南京": "320100"}},
        "txcodes": txcodes,
    }
    if server is not None:
        doc["server"]["ca_file"] = server["ca_file"]
        (folder / "org.pem").write_bytes(server["public_pem"])
    path = folder / "mapping.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_agent_bench(workdir: Path, load_rows: int, scan_rows: int, server: dict[str, Any] | None,
                    echo: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Measure the agent; ``server`` (``url, appid, secret, ca_file, public_pem``) None skips the load figure.

    Raises:
        AgentError: the agent failed (source, state, server).
    """
    out: dict[str, Any] = {"load_rows": load_rows if server else 0, "scan_rows": scan_rows}
    if server is not None and load_rows:
        folder = workdir / "load"
        folder.mkdir(parents=True)
        echo(f"initial load: writing a {load_rows}-row source")
        out["load_tables"] = make_source(folder / "src.db", load_rows)
        path = _mapping(folder, folder / "src.db", server, MAPPING_TXCODES)
        agent = open_agent(load_mapping(path), {**os.environ, "QCCHAIN_BENCH_AGENT_SECRET": server["secret"]})
        try:
            start = time.perf_counter()
            report = agent.cycle(full=True)
            while report["send"]["pending"]:
                echo(f"  {report['send']['pending']} batches pending ({report['send']['error']}); sending again")
                report = {"send": agent.send()}
            seconds = time.perf_counter() - start
            batches = agent.store.counts()
        finally:
            agent.store.close()
        out.update(load_seconds=round(seconds, 2), rows_per_s=round(load_rows / seconds, 1), load_batches=batches)
    if scan_rows:
        folder = workdir / "scan"
        folder.mkdir(parents=True)
        echo(f"change detection: writing a {scan_rows}-row source")
        make_source(folder / "src.db", scan_rows, mix=(0.0, 0.0, 1.0))
        path = _mapping(folder, folder / "src.db", None, {"03": MAPPING_TXCODES["03"]})
        agent = open_agent(load_mapping(path), os.environ, send=False)
        try:
            start = time.perf_counter()
            first = agent.scan("03")
            queued = time.perf_counter() - start
            echo(f"  first scan queued {first['inserted']} records in {queued:.1f}s; rescanning unchanged")
            start = time.perf_counter()
            second = agent.scan("03")
            scanned = time.perf_counter() - start
        finally:
            agent.store.close()
        assert second["unchanged"] == scan_rows, second
        out.update(queue_seconds=round(queued, 2), queue_rows_per_s=round(scan_rows / queued, 1),
                   scan_seconds=round(scanned, 2), scan_rows_per_s=round(scan_rows / scanned, 1))
    return out
