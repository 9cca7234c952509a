"""Shared helpers of the agent tests: a small business database in the unit's own layout, its mapping,
and an agent wired to the in-memory ingestion double (``agentfake``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from agentfake import FakeIngest
from qcchain_agent.build import open_agent
from qcchain_agent.mapping import load_mapping

DDL = [
    "CREATE TABLE company (code VARCHAR(20) PRIMARY KEY, name VARCHAR(100), credit VARCHAR(18), boss VARCHAR(50),"
    " city VARCHAR(20), district VARCHAR(20), addr VARCHAR(200), contact VARCHAR(50), tel VARCHAR(32))",
    "CREATE TABLE dept (dept_id INTEGER PRIMARY KEY, dname VARCHAR(100), parent VARCHAR(100), is_safety VARCHAR(1),"
    " man VARCHAR(50), tel VARCHAR(32))",
    "CREATE TABLE staff (emp_no INTEGER PRIMARY KEY, name VARCHAR(50), idno VARCHAR(18), dept VARCHAR(100),"
    " chief VARCHAR(1), mgr INTEGER, opr INTEGER, res INTEGER, kind VARCHAR(50), cert VARCHAR(64),"
    " auth_dt VARCHAR(20), end_dt DATE, com VARCHAR(100))",
]


def company(i: int, **kw: Any) -> dict[str, Any]:
    row = {"code": f"C{i:04d}", "name": f"  江苏测试{i}有限公司 ", "credit": "91320100MA1XYW1234", "boss": "张三",
           "city": "南京", "district": "玄武", "addr": "江苏省南京市玄武区某路1号", "contact": "李四", "tel": "18200000000"}
    row.update(kw)
    return row


def dept(i: int, **kw: Any) -> dict[str, Any]:
    row = {"dept_id": i, "dname": f"管理{i}部", "parent": "江苏测试有限公司", "is_safety": "Y" if i % 2 else "N",
           "man": "王五", "tel": "025-8888888"}
    row.update(kw)
    return row


def staff(i: int, **kw: Any) -> dict[str, Any]:
    import datetime as dt
    row = {"emp_no": i, "name": f"员工{i}", "idno": f"3201001990{i:07d}X"[:17] + "X", "dept": "管理1部", "chief": "N",
           "mgr": 0, "opr": 1, "res": 0, "kind": "特种设备安全管理", "cert": f"CERT{i}", "auth_dt": "2024/07/08",
           "end_dt": dt.date(2028, 7, 7), "com": "南京市玄武区市场监督管理局"}
    row.update(kw)
    return row


def create_source(engine: sa.Engine, companies: int = 3, depts: int = 4, staffs: int = 5) -> None:
    with engine.begin() as conn:
        for ddl in DDL:
            conn.execute(sa.text(ddl))
    insert(engine, "company", [company(i) for i in range(1, companies + 1)])
    insert(engine, "dept", [dept(i) for i in range(1, depts + 1)])
    insert(engine, "staff", [staff(i) for i in range(1, staffs + 1)])


def insert(engine: sa.Engine, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    with engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"),
                     rows)


def execute(engine: sa.Engine, sql: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def mapping_doc(url: str, schema: str | None = None) -> dict[str, Any]:
    prefix = f"{schema}." if schema else ""
    return {
        "version": 1,
        "state_dir": "state",
        "batch_size": 2,
        "source": {"url": url},
        "server": {"url": "https://ingest.example:8443", "appid": "APP1", "secret_env": "AGENT_TEST_SECRET",
                   "receipt_key": "org.pem", "retries": 3, "backoff": 0.01},
        "code_tables": {"yesno": {"Y": 1, "N": 0}, "city": {"南京": "320100", "苏州": "320500"}},
        "txcodes": {
            "01": {"table": f"{prefix}company", "id": "code", "id_prefix": "U-", "fields": {
                "comName": {"column": "name"}, "orgNo": {"column": "credit", "upper": True},
                "deputy": {"column": "boss"}, "cityCode": {"column": "city", "codes": "city"},
                "aeraCode": {"column": "district", "default": "未知"}, "address": {"column": "addr"},
                "linkMan": {"column": "contact"}, "linkTel": {"column": "tel"}}},
            "02": {"table": f"{prefix}dept", "id": "dept_id", "id_prefix": "D-", "cycle": "realtime", "interval": 30,
                   "fields": {
                       "deptName": {"column": "dname"}, "dParentName": {"column": "parent"},
                       "isSecDept": {"column": "is_safety", "codes": "yesno"}, "dLinkMan": {"column": "man"},
                       "dLinkTel": {"column": "tel"}}},
            "03": {"query": f"SELECT * FROM {prefix}staff ORDER BY emp_no", "id": ["emp_no"], "id_prefix": "P-",
                   "fields": {
                       "psnName": {"column": "name"}, "idCardNo": {"column": "idno"}, "deptName": {"column": "dept"},
                       "isSecChief": {"column": "chief", "codes": "yesno"}, "isSecManager": {"column": "mgr"},
                       "isOpr": {"column": "opr"}, "isRes": {"column": "res"}, "lcnsKind": {"column": "kind"},
                       "certNo": {"column": "cert"}, "authDate": {"column": "auth_dt", "date_formats": ["%Y/%m/%d"]},
                       "endDate": {"column": "end_dt"}, "authCom": {"column": "com"}}},
        },
    }


def write_mapping(folder: Path, doc: dict[str, Any], server: FakeIngest | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if server is not None:
        (folder / "org.pem").write_bytes(server.key.public_key().to_pem())
    path = folder / "mapping.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class Clock:
    """A settable wall clock (epoch seconds), starting 2025-03-10 10:00 CST."""

    def __init__(self) -> None:
        self.t = 1741572000.0

    def __call__(self) -> float:
        return self.t


def agent_for(path: Path, server: FakeIngest, clock: Clock | None = None):
    mapping = load_mapping(path)
    return open_agent(mapping, {"AGENT_TEST_SECRET": server.secret}, transport=server, now=clock or Clock(),
                      sleep=lambda s: None)
