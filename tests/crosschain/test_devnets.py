"""A certificate issued on devnet A, exported as a proof bundle, registered-source governed, verified and
imported on devnet B (different CAs and org names); every refusal names its reason and writes nothing."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from qcchain_contracts.bundleverify import parse_bundle, verify_bundle
from qcchain_contracts.fabricproof import load_anchors
from qcchain_sdk.contracts.story import EQ
from qcchain_sdk.crosschain import CrossChainClient, export_bundle, source_document, source_proposal

CHANNEL = "qcchannel"


def _export(chain: Any, record_id: str = EQ) -> dict[str, Any]:
    net = chain.net()
    return export_bundle(net("records"), net("keys"), chain.qscc(), CHANNEL, "qcchain", record_id,
                         "MAJORITY Endorsement", int(time.time()))


def _anchors(chain: Any) -> dict[str, Any]:
    config = chain.qscc().evaluate_transaction("GetBlockByNumber", CHANNEL, "0")
    return source_document(config, CHANNEL, "qcchain", "MAJORITY Endorsement")


def _xc(chain: Any, org: str = "Regulator") -> CrossChainClient:
    o = chain.story.orgs[org]
    return CrossChainClient(o.contract("crosschain"), o.key)


def _govern(chain: Any, operation: str, anchors: dict[str, Any] | None, name: str = "provA") -> dict[str, Any]:
    body, doc = source_proposal(operation, name, CHANNEL, anchors, "test", int(time.time()) + 3600)
    proposal = _xc(chain).propose(body, doc)
    for org in ("Inspection", "UsingUnit"):
        proposal = _xc(chain, org).sign(proposal)
    return _xc(chain).execute(proposal["proposal_id"])


def _raw(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle).encode()


def test_export_register_import(chain_a: Any, chain_b: Any) -> None:
    bundle = _export(chain_a)
    anchors = _anchors(chain_a)
    # offline: the verifier itself, anchors from the source's config block
    offline = verify_bundle(parse_bundle(_raw(bundle)), load_anchors(anchors))
    assert offline["record_id"] == EQ and offline["status"] == "active"
    # B: not registered yet -> refused
    with pytest.raises(Exception, match="not registered"):
        _xc(chain_b).verify("provA", _raw(bundle))
    # governance: proposer alone is under threshold
    body, doc = source_proposal("source_register", "provA", CHANNEL, anchors, "test", int(time.time()) + 3600)
    prop = _xc(chain_b).propose(body, doc)
    with pytest.raises(Exception, match="under threshold"):
        _xc(chain_b).execute(prop["proposal_id"])
    for org in ("Inspection", "UsingUnit"):
        _xc(chain_b, org).sign(prop)
    assert _xc(chain_b).execute(prop["proposal_id"])["status"] == "executed"
    assert _xc(chain_b).source("provA")["status"] == "active"
    verdict = _xc(chain_b).verify("provA", _raw(bundle), EQ)
    assert verdict["provenance"]["block"] == offline["provenance"]["block"]
    imported = _xc(chain_b, "Maintenance").import_bundle("provA", _raw(bundle), EQ)
    assert imported["status"] == "active" and imported["record"]["payload"]
    again = _xc(chain_b, "Inspection").certificate("provA", EQ)
    assert again["provenance"]["tx_id"] == offline["provenance"]["tx_id"]
    assert again["provenance"]["tx_time"] > 0 and again["provenance"]["block"] > 0
    # the same bundle again is stale
    with pytest.raises(Exception, match="stale"):
        _xc(chain_b).import_bundle("provA", _raw(bundle), EQ)


def _flip(bundle: dict[str, Any], field: str, offset: int) -> dict[str, Any]:
    out = json.loads(json.dumps(bundle))
    proof = out["record_proof"] if field == "record" else out["key_proof"]
    raw = bytearray(base64.b64decode(proof["block"]))
    raw[offset % len(raw)] ^= 0x01
    proof["block"] = base64.b64encode(bytes(raw)).decode()
    return out


def test_refusals_write_nothing(chain_a: Any, chain_b: Any) -> None:
    bundle = _export(chain_a)
    anchors = load_anchors(_anchors(chain_a))
    parsed = parse_bundle(_raw(bundle))
    raw_len = len(base64.b64decode(bundle["record_proof"]["block"]))
    caught = 0
    for offset in range(0, raw_len, max(1, raw_len // 60)):
        for field in ("record", "key"):
            with pytest.raises(Exception):
                verify_bundle(parse_bundle(_raw(_flip(bundle, field, offset))), anchors)
            caught += 1
    assert caught >= 100
    other = dict(parsed, record_id="EQ-OTHER")
    with pytest.raises(Exception, match="does not write record EQ-OTHER"):
        verify_bundle(other, anchors)
