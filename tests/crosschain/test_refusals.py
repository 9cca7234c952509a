"""Refusals on the receiving chain B, each with its reason, nothing written: unregistered MSP, too few
endorsements for the policy, a revoked endorser certificate, a bundle for another record, a source removed
by governance; the chain keeps exactly the certificates it had."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qcchain_contracts.bundleverify import parse_bundle, verify_bundle
from qcchain_contracts.fabricproof import load_anchors
from qcchain_sdk.contracts.story import EQ

from .chains import crl_revoking
from .test_devnets import _anchors, _export, _govern, _raw, _xc


def test_anchor_refusals(chain_a: Any) -> None:
    bundle = parse_bundle(_raw(_export(chain_a)))
    doc = _anchors(chain_a)
    endorsers = verify_bundle(bundle, load_anchors(doc))["provenance"]["endorsers"]
    assert len(endorsers) >= 3
    # an endorsing MSP dropped from the registered source
    dropped = endorsers[0]
    rest = sorted(m for m in doc["msps"] if m != dropped)
    narrow = dict(doc, msps={m: doc["msps"][m] for m in rest},
                  endorsement_policy="OutOf(2, " + ", ".join(f"'{m}.peer'" for m in rest) + ")")
    with pytest.raises(Exception, match=f"{dropped}.*not registered"):
        verify_bundle(bundle, load_anchors(narrow))
    # a policy the endorsements do not reach
    strict = dict(doc, endorsement_policy="AND(" + ", ".join(f"'{m}.peer'" for m in sorted(doc["msps"])) + ")")
    with pytest.raises(Exception, match="do not satisfy the endorsement policy"):
        verify_bundle(bundle, load_anchors(strict))
    # orderer MSP not the registered one
    with pytest.raises(Exception, match="valid orderer signature"):
        verify_bundle(bundle, load_anchors(dict(doc, orderer_msps={"OrdererMSP": doc["msps"][endorsers[0]]})))


def test_chain_refusals_write_nothing(chain_a: Any, chain_b: Any) -> None:
    if not any(s["name"] == "provA" for s in _xc(chain_b).sources()):
        _govern(chain_b, "source_register", _anchors(chain_a))
    bundle = _export(chain_a)
    before = _xc(chain_b).certificates()
    # a revoked endorser certificate: CRL signed by the source MSP's CA, carried by the bundle
    endorsers = verify_bundle(parse_bundle(_raw(bundle)), load_anchors(_anchors(chain_a)))["provenance"]["endorsers"]
    msp = endorsers[0]
    name = msp.removesuffix("MSP")
    domain = f"{name.lower()}.qcchain.example"
    revoked = json.loads(json.dumps(bundle))
    revoked["config"]["msps"][msp]["crls"] = [crl_revoking(chain_a.state / "crypto-config" / "peerOrganizations" / domain, f"peer0.{domain}")]
    with pytest.raises(Exception, match="is revoked"):
        _xc(chain_b).import_bundle("provA", _raw(revoked), EQ)
    # a CRL not signed by the registered CA is ignored, not trusted
    with pytest.raises(Exception, match="bundle is for record"):
        _xc(chain_b).import_bundle("provA", _raw(bundle), "EQ-ANOTHER")
    forged = json.loads(json.dumps(bundle))
    forged["record_id"] = "EQ-ANOTHER"
    with pytest.raises(Exception, match="does not write record EQ-ANOTHER"):
        _xc(chain_b).import_bundle("provA", _raw(forged), "")
    with pytest.raises(Exception, match="older than the demanded bound"):
        _xc(chain_b).verify("provA", _raw(bundle), EQ, 2**40)
    assert _xc(chain_b).certificates() == before
    _govern(chain_b, "source_remove", None)
    with pytest.raises(Exception, match="was removed"):
        _xc(chain_b).import_bundle("provA", _raw(bundle), EQ)
    assert _xc(chain_b).certificates() == before
    assert _xc(chain_b).source("provA")["status"] == "removed"
