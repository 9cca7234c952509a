"""Attested bundles: the source's peers endorse (never submit) a read of the record at export time; its read
set shows the version the bundle proves, so the bundle's transaction committed VALID (validation flags are
signed by nobody) and was current then. Verified offline and on B; refused: a flipped byte anywhere in the
attestation, an attestation of another record, an older version's bundle with a newer attestation (the record
was updated since), policy or MSP not met. ``min_time`` bounds the attested time."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Any

import pytest

from qcchain_bench.ingestdata import batch_no, record
from qcchain_contracts.bundleverify import parse_bundle, verify_bundle
from qcchain_contracts.fabricproof import load_anchors
from qcchain_sdk.contracts.story import EQ
from qcchain_sdk.crosschain import export_bundle, export_ingested_bundle

from .conftest import Ingested
from .test_devnets import CHANNEL, _anchors, _govern, _raw, _xc

SOURCE = "provA-attested"


def _attested(chain: Any, record_id: str = EQ) -> dict[str, Any]:
    net = chain.net()
    return export_bundle(net("records"), net("keys"), chain.qscc(), CHANNEL, "qcchain", record_id,
                         "MAJORITY Endorsement", int(time.time()), attestor=chain.gateway_contract())


def _flip(bundle: dict[str, Any], offset: int) -> bytes:
    out = json.loads(json.dumps(bundle))
    raw = bytearray(base64.b64decode(out["attestation"]["envelope"]))
    raw[offset % len(raw)] ^= 0x10
    out["attestation"]["envelope"] = base64.b64encode(bytes(raw)).decode()
    return _raw(out)


def test_attested_bundle_offline_and_on_b(chain_a: Any, chain_b: Any) -> None:
    time.sleep(1.1)  # the attestation is read at least a second after EQ's transaction
    bundle = _attested(chain_a)
    anchors = load_anchors(_anchors(chain_a))
    prov = verify_bundle(parse_bundle(_raw(bundle)), anchors)["provenance"]
    assert prov["attested_at"] > prov["tx_time"] and len(set(prov["attested_by"])) >= 3
    length = len(base64.b64decode(bundle["attestation"]["envelope"]))
    offsets = range(0, length, max(1, length // 80))
    for offset in offsets:
        with pytest.raises(Exception):
            verify_bundle(parse_bundle(_flip(bundle, offset)), anchors)
    assert len(offsets) >= 60
    strict = load_anchors(dict(_anchors(chain_a), endorsement_policy="AND(" + ", ".join(
        f"'{m}.peer'" for m in sorted(_anchors(chain_a)["msps"])) + ")"))
    with pytest.raises(Exception, match="do not satisfy"):
        verify_bundle(parse_bundle(_raw(bundle)), strict)
    # on B: min_time bounds the attested time (a bundle without attestation shows only the write time)
    _govern(chain_b, "source_register", _anchors(chain_a), SOURCE)
    plain = dict(bundle)
    plain.pop("attestation")
    assert _xc(chain_b).verify(SOURCE, _raw(bundle), EQ, prov["attested_at"])["provenance"]["attested_at"]
    with pytest.raises(Exception, match="older than the demanded bound"):
        _xc(chain_b).verify(SOURCE, _raw(plain), EQ, prov["attested_at"])
    before = _xc(chain_b).certificates()
    with pytest.raises(Exception, match="attestation|signature does not verify"):
        _xc(chain_b).import_bundle(SOURCE, _flip(bundle, length // 2), EQ)
    assert _xc(chain_b).certificates() == before


def test_attestation_of_another_record_refused(chain_a: Any, ingested: Ingested) -> None:
    bundle = _attested(chain_a)
    other = export_ingested_bundle(chain_a.net()("ingest"), chain_a.qscc(), CHANNEL, "qcchain", ingested.pictures[0],
                                   "MAJORITY Endorsement", int(time.time()), attestor=chain_a.gateway_contract())
    mixed = dict(bundle, attestation=other["attestation"])
    with pytest.raises(Exception, match="does not read record"):
        verify_bundle(parse_bundle(_raw(mixed)), load_anchors(_anchors(chain_a)))


def test_updated_record_old_bundle_refused_with_new_attestation(chain_a: Any, chain_b: Any, ingested: Ingested) -> None:
    rid = ingested.pictures[1]
    anchors = load_anchors(_anchors(chain_a))

    def export() -> dict[str, Any]:
        return export_ingested_bundle(chain_a.net()("ingest"), chain_a.qscc(), CHANNEL, "qcchain", rid,
                                      "MAJORITY Endorsement", int(time.time()), attestor=chain_a.gateway_contract())

    old = export()
    assert verify_bundle(parse_bundle(_raw(old)), anchors)["status"] == "active"
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d")
    bno = batch_no(today, 9)
    cred_token = ingested.token
    ingested.service.syndata({"access_token": cred_token, "batchNo": bno, "txcode": "08", "busType": "U",
                              "data": [record("08", rid, bno, "U", today, 99)]})
    new = export()
    with pytest.raises(Exception, match="a newer version exists"):
        verify_bundle(parse_bundle(_raw(dict(old, attestation=new["attestation"]))), anchors)
    fresh = verify_bundle(parse_bundle(_raw(new)), anchors)
    assert fresh["record"]["version"] == 2 and fresh["provenance"]["block"] > verify_bundle(
        parse_bundle(_raw(old)), anchors)["provenance"]["block"]
