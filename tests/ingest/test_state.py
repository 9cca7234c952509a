"""The service's own state on SQLite and PostgreSQL (the same tests on both): tokens across a restart and
across two replicas sharing the database, revocation and rotation seen by every replica, idempotent
batchNo, refusals that store nothing, and a crash between the chain's commit and the answer."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from qcchain_bench.ingestdata import batch_no, credit_code, record
from qcchain_core.gm import SM2PrivateKey
from qcchain_ingest.db import batches, open_engine
from qcchain_ingest.errors import AuthFailed, ChainError, Refused
from qcchain_ingest.receipt import verify_receipt
from qcchain_ingest.service import IngestService
from sqlalchemy import func, select

from .fakechain import FakeChain
from .statedb import state_url

KEY = SM2PrivateKey.generate()
DAY = "2024-07-08"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from state_url(request.param, tmp_path)


def replica(url: str, chain: FakeChain | None = None) -> IngestService:
    """One server process's service: its own engine (connection pool) on the shared database."""
    return IngestService(open_engine(url), chain or FakeChain(), KEY, time.time)


def doc(token: str, seq: int, ids: list[str], bus: str = "I", n0: int = 0) -> dict:
    b = batch_no(DAY, seq)
    return {"access_token": token, "batchNo": b, "txcode": "02", "busType": bus,
            "data": [record("02", rid, b, bus, DAY, n0 + i) for i, rid in enumerate(ids)]}


def rows(service: IngestService) -> int:
    with service.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(batches)).scalar_one())


def test_tokens_survive_a_restart(url: str) -> None:
    first = replica(url)
    cred = first.credentials.issue(credit_code(1), "单位一")
    token = first.token(cred["appid"], cred["secret"])["access_token"]
    first.engine.dispose()                                  # the process goes away
    again = replica(url)                                    # a new process on the same database
    assert again.tokens.verify(token)["appid"] == cred["appid"]
    assert again.token(cred["appid"], cred["secret"])["access_token"]


def test_two_replicas_accept_each_others_tokens_and_revocation(url: str) -> None:
    a, b = replica(url), replica(url)
    cred = a.credentials.issue(credit_code(2), "单位二")
    from_a = a.token(cred["appid"], cred["secret"])["access_token"]
    from_b = b.token(cred["appid"], cred["secret"])["access_token"]
    assert b.tokens.verify(from_a)["appid"] == a.tokens.verify(from_b)["appid"] == cred["appid"]
    rotated = b.credentials.rotate(cred["appid"])
    assert a.token(cred["appid"], cred["secret"])            # old secret: still valid in the grace period
    assert a.token(cred["appid"], rotated["secret"])
    a.credentials.revoke(cred["appid"])
    for service, token in ((a, from_a), (b, from_b), (b, from_a)):
        with pytest.raises(AuthFailed):
            service.tokens.verify(token)                    # dead at once on every replica
    with pytest.raises(AuthFailed):
        b.token(cred["appid"], rotated["secret"])
    with pytest.raises(AuthFailed):
        a.tokens.verify(from_a[:-2] + ("AA" if not from_a.endswith("AA") else "BB"))


def test_batch_no_is_idempotent_and_refusals_store_nothing(url: str) -> None:
    chain = FakeChain()
    a, b = replica(url, chain), replica(url, chain)
    cred = a.credentials.issue(credit_code(3), "单位三")
    token = a.token(cred["appid"], cred["secret"])["access_token"]
    first = doc(token, 1, ["s3-a", "s3-b"])
    receipt = a.syndata(first)
    assert verify_receipt(receipt, KEY.public_key()) and receipt["header"]["count"] == 2
    assert b.syndata(first) == receipt and chain.anchors == 1            # the other replica: same receipt
    with pytest.raises(Refused, match="already used"):
        b.syndata(dict(first, data=first["data"][:1]))
    before = rows(a)
    bad = doc(token, 2, ["s3-c"])
    bad["data"][0]["dLinkTel"] = "x" * 500
    with pytest.raises(Refused) as info:
        a.syndata(bad)
    assert info.value.violations[0]["field"] == "$.dLinkTel" and "x" * 20 not in str(info.value.violations)
    assert rows(a) == before and chain.anchors == 1
    assert a.status(token, bad["batchNo"])["status"] == "unknown"


def test_crash_between_commit_and_answer_never_anchors_twice(url: str) -> None:
    chain = FakeChain()
    a = replica(url, chain)
    cred = a.credentials.issue(credit_code(4), "单位四")
    token = a.token(cred["appid"], cred["secret"])["access_token"]
    sent = doc(token, 1, ["k4-a", "k4-b", "k4-c"])
    chain.fail_after_commit = True                  # committed on chain, the answer never came back
    with pytest.raises(ChainError):
        a.syndata(sent)
    assert a.status(token, sent["batchNo"])["status"] == "anchoring"
    a.engine.dispose()
    chain.fail_after_commit = False
    restarted = replica(url, chain)                 # the server restarts; the unit resends
    receipt = restarted.syndata(sent)
    assert chain.anchors == 1 and receipt["header"]["count"] == 3
    assert restarted.status(token, sent["batchNo"])["receipt"] == receipt
    assert restarted.proof("k4-b", cred["appid"])["proof"]["index"] == 1
    chain.fail_before_commit = True                 # not committed: resend later anchors it once
    other = doc(token, 2, ["k4-d"])
    with pytest.raises(ChainError):
        restarted.syndata(other)
    chain.fail_before_commit = False
    assert restarted.syndata(other)["header"]["count"] == 1 and chain.anchors == 2
