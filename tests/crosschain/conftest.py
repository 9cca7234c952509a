"""Two devnets with separate crypto material (own CAs, generated per state dir) and different org names:
A = the project's consortium, B = the same shape renamed (``Pk*`` orgs, ``park.example`` domains). On each
the story's first steps run (members, SM2 keys, deploy); A also registers equipment EQ (L1) and, on demand
(``ingested``), anchors two batches through its in-process ingestion service."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest

from qcchain_bench.ingestdata import batch_no, credit_code, record
from qcchain_sdk.contracts.story import ORG_NAMES

from .chains import CHANNEL, Chain, devnet_chain, renamed_consortium

__all__ = ["Chain", "Ingested"]


@pytest.fixture(scope="package")
def chain_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """Source chain A (project consortium), with equipment EQ registered."""
    for chain in devnet_chain("A ", tmp_path_factory.mktemp("chainA") / "devnet", None):
        chain.story.equipment()
        yield chain


@pytest.fixture(scope="package")
def chain_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """Receiving chain B (renamed orgs, own CAs)."""
    tmp = tmp_path_factory.mktemp("chainB")
    yield from devnet_chain("B ", tmp / "devnet", renamed_consortium(tmp))


class Ingested:
    """What chain A's ingestion service anchored: the service, the unit's token and the record ids per table."""

    def __init__(self, service: Any, token: str, personnel: list[str], pictures: list[str]) -> None:
        self.service, self.token, self.personnel, self.pictures = service, token, personnel, pictures


@pytest.fixture(scope="package")
def ingested(chain_a: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    """A's ingestion service in process (as the Regulator, SQLite state): one batch of three operator
    certificates (personnel 03, L3 sealed) and one of two risk pictures (08, L1)."""
    from qcchain_ingest.anchor import ChainLink
    from qcchain_ingest.db import open_engine, sqlite_url
    from qcchain_ingest.service import IngestService

    reg = chain_a.story.orgs["Regulator"]
    network = chain_a.gateways[ORG_NAMES.index("Regulator")].get_network(CHANNEL)
    engine = open_engine(sqlite_url(str(tmp_path_factory.mktemp("ingestA") / "ingest.db")))
    service = IngestService(engine, ChainLink(network, reg.msp_id), reg.key, time.time)
    cred = service.credentials.issue(credit_code(4711), "南京某锅炉使用单位")
    token = service.token(cred["appid"], cred["secret"])["access_token"]
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d")
    tag = cred["appid"][-6:]
    ids = {"03": [f"P03-{tag}-{i}" for i in range(3)], "08": [f"R08-{tag}-{i}" for i in range(2)]}
    for seq, (txcode, rids) in enumerate(sorted(ids.items()), start=1):
        bno = batch_no(today, seq)
        body = {"access_token": token, "batchNo": bno, "txcode": txcode, "busType": "I",
                "data": [record(txcode, rid, bno, "I", today, 40 + i) for i, rid in enumerate(rids)]}
        service.syndata(body)
    yield Ingested(service, token, ids["03"], ids["08"])
    engine.dispose()
