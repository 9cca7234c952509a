"""The admin API of the ingestion server (``/jsdspcloud/admin``) and the refusal log, on SQLite and
PostgreSQL, over the ASGI app with a stand-in chain: keys (issued, wrong, revoked), credentials issue /
revoke, batches and per-unit counts, refusals logged with reasons but never a submitted value (and not
for an anonymous caller), the D-5.4 overdue report from the on-chain summaries."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from qcchain_bench.ingestdata import batch_no, credit_code, record
from qcchain_core.gm import SM2PrivateKey
from qcchain_ingest.adminapi import ADMIN_PREFIX, AdminKeys
from qcchain_ingest.app import PREFIX, create_app
from qcchain_ingest.db import open_engine
from qcchain_ingest.errors import CredentialError
from qcchain_ingest.refusals import KEEP_PER_APPID, RefusalLog
from qcchain_ingest.service import IngestService

from .fakechain import FakeChain
from .statedb import state_url

KEY = SM2PrivateKey.generate()
SECRET_VALUE = "18255501234-not-to-be-logged"


class SummaryChain(FakeChain):
    """The stand-in chain plus ``ingest:summary`` (what the admin API's overdue report reads)."""

    def __init__(self) -> None:
        super().__init__()
        self.default = self

    def evaluate_transaction(self, fn: str, *args: str) -> bytes:
        assert fn == "ingest:summary"
        last: dict[str, dict[str, Any]] = {}
        mine = [h for (appid, _), h in sorted(self.headers.items()) if appid == args[0]]
        for h in mine:
            last[h["txcode"]] = {"batch_no": h["batch_no"], "at": int(time.time())}
        return json.dumps({"appid": args[0], "batches": len(mine), "records": sum(h["count"] for h in mine),
                           "last": last}).encode()


@pytest.fixture(params=["sqlite", "postgresql"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, IngestService, str]]:
    for url in state_url(request.param, tmp_path):
        service = IngestService(open_engine(url), SummaryChain(), KEY, time.time)
        key = AdminKeys(service.engine, time.time).issue("console-test")["key"]
        with TestClient(create_app(service)) as client:
            yield client, service, key
        service.engine.dispose()


def _admin(client: TestClient, key: str, method: str, path: str, **kw: Any) -> Any:
    return client.request(method, ADMIN_PREFIX + path, headers={"authorization": f"Bearer {key}"}, **kw)


def _push(client: TestClient, token: str, seq: int, txcode: str, n: int, day: str) -> dict[str, Any]:
    number = batch_no(day, seq)
    body = {"access_token": token, "batchNo": number, "txcode": txcode, "busType": "I",
            "data": [record(txcode, f"A-{seq}-{i}", number, "I", day, i) for i in range(n)]}
    return client.post(PREFIX + "/syndata", json=body).json()


def test_admin_keys_are_required_and_revocable(setup: tuple[TestClient, IngestService, str]) -> None:
    client, service, key = setup
    keys = AdminKeys(service.engine, time.time)
    for header in ({}, {"authorization": "Bearer nonsense"}, {"authorization": f"Bearer {key[:-1]}x"},
                   {"authorization": key}):
        answer = client.get(ADMIN_PREFIX + "/credentials", headers=header)
        assert answer.status_code == 401 and answer.json()["msg"] == "admin authentication failed"
    assert _admin(client, key, "GET", "/credentials").json()["rescode"] == "1"
    key_id = key.split(".")[1]
    assert [k["key_id"] for k in keys.list()] == [key_id] and "key_hash" not in keys.list()[0]
    keys.revoke(key_id)
    assert _admin(client, key, "GET", "/credentials").status_code == 401
    with pytest.raises(CredentialError):
        keys.revoke(key_id)


def test_issue_revoke_batches_refusals_overdue(setup: tuple[TestClient, IngestService, str]) -> None:
    client, service, key = setup
    bad = _admin(client, key, "POST", "/credentials", json={"org_no": "123", "name": "x"})
    assert bad.status_code == 400 and bad.json()["rescode"] == "0"
    issued = _admin(client, key, "POST", "/credentials", json={"org_no": credit_code(7), "name": "单位七"}).json()["data"]
    assert set(issued) == {"appid", "secret"}
    listed = _admin(client, key, "GET", "/credentials").json()["data"]
    assert [c["appid"] for c in listed] == [issued["appid"]] and issued["secret"] not in json.dumps(listed)
    token = client.get(PREFIX + "/token", params=issued).json()["data"]["access_token"]
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    assert _push(client, token, 1, "02", 3, day)["rescode"] == "1"
    # a refused batch: a record with a too-long phone number; its value must not be logged
    number = batch_no(day, 2)
    body = {"access_token": token, "batchNo": number, "txcode": "01", "busType": "I",
            "data": [dict(record("01", "R-1", number, "I", day, 1), linkTel=SECRET_VALUE * 3)]}
    assert client.post(PREFIX + "/syndata", json=body).json()["rescode"] == "0"
    client.post(PREFIX + "/syndata", json=dict(body, access_token="forged"))  # anonymous: not logged
    refusals = _admin(client, key, "GET", "/refusals").json()["data"]
    assert len(refusals) == 1 and SECRET_VALUE not in json.dumps(refusals, ensure_ascii=False)
    refused = refusals[0]
    assert (refused["appid"], refused["batch_no"], refused["txcode"]) == (issued["appid"], number, "01")
    assert refused["violations"] and refused["violations"][0]["field"] == "$.linkTel" and refused["msg"]
    batches = _admin(client, key, "GET", "/batches", params={"appid": issued["appid"]}).json()["data"]
    assert [(b["batch_no"], b["txcode"], b["count"], b["status"]) for b in batches] == [(batch_no(day, 1), "02", 3, "anchored")]
    assert batches[0]["tx_id"] and "leaves" not in batches[0] and "receipt" not in batches[0]
    units = _admin(client, key, "GET", "/units").json()["data"]
    assert [(u["appid"], u["txcode"], u["batches"], u["records"], u["batches_recent"]) for u in units["units"]] == \
        [(issued["appid"], "02", 1, 3, 1)] and units["refusals_recent"] == 1
    overdue = _admin(client, key, "GET", "/overdue").json()["data"]
    tables = {t["txcode"]: t["overdue"] for t in overdue[0]["tables"]}
    assert overdue[0]["appid"] == issued["appid"] and tables["02"] is False and tables["01"] is True
    revoked = _admin(client, key, "POST", f"/credentials/{issued['appid']}/revoke").json()
    assert revoked["data"]["status"] == "revoked"
    assert client.get(PREFIX + "/token", params=issued).json()["rescode"] == "0"
    assert _admin(client, key, "GET", "/overdue").json()["data"] == []  # only active appids
    assert _admin(client, key, "POST", "/credentials/nope/revoke").status_code == 400


def test_refusal_log_keeps_a_bounded_number_per_appid(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'r.db'}")
    log = RefusalLog(engine, time.time)
    for i in range(KEEP_PER_APPID + 5):
        log.record("qc1", "2024070800000001", "02", f"refused {i}", [{"index": 0, "field": "$.x", "reason": "r", "v": 1}])
    log.record("qc2", "bad<batch>", "zz", "other", "not a list")
    rows = log.list("qc1", limit=1000)
    assert len(rows) == KEEP_PER_APPID and rows[0]["msg"] == f"refused {KEEP_PER_APPID + 4}"
    assert rows[0]["violations"] == [{"index": 0, "field": "$.x", "reason": "r"}]
    other = log.list("qc2")[0]
    assert (other["batch_no"], other["txcode"], other["violations"]) == ("", "", [])


def test_admin_key_cli_writes_the_key_once_lists_and_revokes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from qcchain_cli.ingest import ingest

    url, out = f"sqlite:///{tmp_path / 'cli.db'}", tmp_path / "admin.key"
    runner = CliRunner()
    done = runner.invoke(ingest, ["admin-key", "issue", "--db", url, "--dir", str(tmp_path), "--name", "console-x",
                                  "--out", str(out)])
    assert done.exit_code == 0, done.output
    key = out.read_text().strip()
    assert key.startswith("qcadm.") and key not in done.output and out.stat().st_mode & 0o777 == 0o600
    again = runner.invoke(ingest, ["admin-key", "issue", "--db", url, "--dir", str(tmp_path), "--name", "y", "--out", str(out)])
    assert again.exit_code != 0 and out.read_text().strip() == key  # an existing file is never overwritten
    listed = json.loads(runner.invoke(ingest, ["admin-key", "list", "--db", url, "--dir", str(tmp_path), "--json"]).output)
    assert [(k["key_id"], k["name"], k["revoked_at"]) for k in listed] == [(key.split(".")[1], "console-x", 0)]
    assert runner.invoke(ingest, ["admin-key", "revoke", key.split(".")[1], "--db", url, "--dir", str(tmp_path)]).exit_code == 0
    engine = open_engine(url)
    with pytest.raises(Exception, match="admin authentication failed"):
        AdminKeys(engine, time.time).authenticate(f"Bearer {key}")
