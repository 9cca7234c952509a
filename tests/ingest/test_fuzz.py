"""Property/fuzz test of the HTTP interface (hypothesis): generated requests to every route of the
published OpenAPI document — mutated syndata documents (every field of the request and of its records
replaced by arbitrary JSON, extra fields, envelope mismatches), raw bodies (binary, invalid UTF-8, cut
JSON, wrong content types), token, batch-status and proof calls with arbitrary parameters. Properties: no
5xx, every answer is the self-describing envelope, a refusal (rescode "0") changes no state (batch index,
anchors), and violations never echo a submitted value.

Knob: ``QCCHAIN_FUZZ_EXAMPLES`` — examples, each sending 4 requests. Default 1000 (4,000 requests, the
default suite's share ~25-40 s on 2 cores); the full run is ``QCCHAIN_FUZZ_EXAMPLES=2500`` (10,000
requests) — see docs/INGEST.md. The app runs in-process (ASGI, no TLS) over SQLite and an
in-memory chain: the HTTPS path itself is covered by test_https_e2e.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from qcchain_bench.ingestdata import TXCODES, batch_no, credit_code, record
from qcchain_core.gm import SM2PrivateKey
from qcchain_ingest.app import PREFIX, create_app
from qcchain_ingest.db import batches, open_engine, record_index
from qcchain_ingest.service import IngestService

from .fakechain import FakeChain

EXAMPLES = int(os.environ.get("QCCHAIN_FUZZ_EXAMPLES", "1000"))  # test entry point: the knob
DAY = "2024-07-08"
MARK = "ZZfuzzSECRET"
SENT = {"requests": 0}
_SEQ = itertools.count(1)

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 20, 10 ** 20), st.floats(allow_nan=False, allow_infinity=False),
                      st.text(max_size=30), st.just(MARK), st.just("2999-01-01"), st.just("I"), st.just("09"))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                             st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                          max_leaves=6)
TOP = ["access_token", "batchNo", "txcode", "busType", "data", "extra"]
FIELDS = ["ID", "batchNo", "txCode", "busType", "updateDate", "comName", "orgNo", "linkTel", "dLinkTel", "idCardNo",
          "fileAppendix", "riskNo", "checkDate", "troubleType", "nope"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    engine = open_engine(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'ingest.db'}")
    chain = FakeChain()
    service = IngestService(engine, chain, SM2PrivateKey.generate(), time.time)
    cred = service.credentials.issue(credit_code(99), "模糊测试单位")
    token = service.token(cred["appid"], cred["secret"])["access_token"]
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(service, max_body=256 * 1024)),
                               base_url="http://fuzz")

    class Sync:  # one event loop for the whole run (a TestClient portal per request costs ~10x more)
        def post(self, url: str, **kw):  # type: ignore[no-untyped-def]
            return loop.run_until_complete(client.post(url, **kw))

        def get(self, url: str, **kw):  # type: ignore[no-untyped-def]
            return loop.run_until_complete(client.get(url, **kw))

    yield Sync(), service, chain, token
    loop.run_until_complete(client.aclose())
    loop.close()


def state(service: IngestService, chain: FakeChain) -> tuple[int, int, int]:
    with service.engine.connect() as conn:
        return (int(conn.execute(select(func.count()).select_from(batches)).scalar_one()),
                int(conn.execute(select(func.count()).select_from(record_index)).scalar_one()), chain.anchors)


def check(response, service, chain, before) -> None:  # type: ignore[no-untyped-def]
    SENT["requests"] += 1
    assert response.status_code < 500, response.text
    doc = response.json()
    assert set(doc) == {"rescode", "msg", "data", "interface"} and doc["rescode"] in ("0", "1") and doc["msg"]
    if doc["rescode"] == "0":
        assert state(service, chain) == before
        if isinstance(doc["data"], list):
            assert MARK not in str(doc["data"])


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
@given(txcode=st.sampled_from(TXCODES), size=st.integers(1, 4), bus=st.sampled_from("IUD"),
       top=st.dictionaries(st.sampled_from(TOP), json_value, max_size=2), drop=st.sets(st.sampled_from(TOP), max_size=1),
       edits=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(FIELDS), json_value), max_size=3),
       raw=st.one_of(st.binary(max_size=64), st.sampled_from([b"", b"{", b'{"data":[', b"\xff\xfe{}", b"[]", b"null",
                                                             b'{"access_token":1}', b"1e999999", b'"\\ud800"'])),
       ctype=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", "", "multipart/form-data"]),
       path=st.text(max_size=24), token_call=st.integers(0, 29), params=st.dictionaries(st.sampled_from(["appid", "secret", "access_token", "x"]),
                                                                                     st.text(max_size=20), max_size=3))
def test_generated_requests_never_5xx_and_refusals_change_nothing(world, txcode, size, bus, top, drop, edits, raw,  # type: ignore[no-untyped-def]
                                                                  ctype, path, token_call, params) -> None:
    client, service, chain, token = world
    number = batch_no(DAY, next(_SEQ))
    body = {"access_token": token, "batchNo": number, "txcode": txcode, "busType": bus,
            "data": [record(txcode, f"fz-{number}-{i}", number, bus, DAY, i) for i in range(size)]}
    for key in drop:
        body.pop(key, None)
    body.update(top)
    for index, field, value in edits:
        if isinstance(body.get("data"), list) and index < len(body["data"]) and isinstance(body["data"][index], dict):
            body["data"][index][field] = value
    before = state(service, chain)
    check(client.post(PREFIX + "/syndata", json=body), service, chain, before)
    before = state(service, chain)
    check(client.post(PREFIX + "/syndata", content=raw, headers={"content-type": ctype} if ctype else {}), service, chain, before)
    before = state(service, chain)
    check(client.get(PREFIX + "/batch/" + quote(path, safe=""), params=params),
          service, chain, before)
    before = state(service, chain)
    if token_call == 0:  # the token route runs scrypt (~40 ms): a share of the examples
        check(client.get(PREFIX + "/token", params=params), service, chain, before)
    else:
        check(client.get(PREFIX + "/proof/" + (quote(path, safe="") or "x"),
                         params={"access_token": params.get("access_token", token)}), service, chain, before)


def test_the_run_sent_enough_requests_and_the_openapi_document_lists_every_route(world) -> None:  # type: ignore[no-untyped-def]
    client = world[0]
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {PREFIX + "/token", PREFIX + "/syndata", PREFIX + "/batch/{batch_no}", PREFIX + "/proof/{record_id}",
            PREFIX + "/health"} <= paths
    assert SENT["requests"] >= 4 * EXAMPLES
