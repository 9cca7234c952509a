"""Proposal files (canonical JSON, offline SM2 signatures) and the client-side threshold precheck."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from qcchain_contracts.lifecycle import threshold_met as chain_threshold_met
from qcchain_core.gm import SM2PrivateKey
from qcchain_sdk.proposals import proposalfile
from qcchain_sdk.errors import ProposalFileError, SignatureError
from qcchain_sdk.proposals.governed import threshold_met

NOW = 1_750_000_000


def _proposal() -> proposalfile.ProposalFile:
    return proposalfile.new_proposal("upgrade", "qcchannel", "assets", version="2.0", package_digest="ab" * 32,
                                     reason="r", expiry=NOW + 3600, package={"label": "assets_2.0"})


def test_round_trip_is_canonical_and_signatures_verify(tmp_path: Path) -> None:
    proposal = _proposal()
    keys = [SM2PrivateKey.generate() for _ in range(2)]
    for key in keys:
        proposalfile.sign(proposal, key, NOW)
    path = proposalfile.save(proposal, tmp_path / "p.json")
    raw = path.read_bytes()
    assert raw == proposal.to_json() + b"\n"
    loaded = proposalfile.load(path)
    assert loaded.proposal_id == proposal.proposal_id and loaded.signed_key_ids() == [k.public_key().key_id() for k in keys]
    with pytest.raises(ProposalFileError, match="file exists"):
        proposalfile.save(proposal, path)


def test_tampering_is_detected(tmp_path: Path) -> None:
    proposal = _proposal()
    proposalfile.sign(proposal, SM2PrivateKey.generate(), NOW)
    doc = json.loads(proposal.to_json())
    other = SM2PrivateKey.generate().public_key()
    doc["signatures"][0]["public_key_pem"] = other.to_pem().decode()
    path = tmp_path / "swap.json"
    path.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")))
    with pytest.raises(SignatureError, match="not the SM3 of its public key"):
        proposalfile.load(path)
    doc = json.loads(proposal.to_json())
    doc["signatures"][0]["signature"] = doc["signatures"][0]["signature"][:-4] + "0000"
    path.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")))
    with pytest.raises(SignatureError, match="does not verify"):
        proposalfile.load(path)
    path.write_text(json.dumps(doc, indent=2))
    with pytest.raises(ProposalFileError, match="not canonical JSON"):
        proposalfile.load(path)
    with pytest.raises(ProposalFileError, match="cannot read"):
        proposalfile.load(tmp_path / "absent.json")


def test_bad_proposals_and_late_signatures_are_refused() -> None:
    with pytest.raises(ProposalFileError, match="not one of"):
        proposalfile.new_proposal("rename", "qcchannel", "x", expiry=NOW)
    with pytest.raises(ProposalFileError, match="needs a version"):
        proposalfile.new_proposal("deploy", "qcchannel", "x", version="1", package_digest="xyz", expiry=NOW)
    with pytest.raises(ProposalFileError, match="concerns no package"):
        proposalfile.new_proposal("freeze", "qcchannel", "x", package_digest="ab" * 32, expiry=NOW)
    proposal = _proposal()
    with pytest.raises(ProposalFileError, match="expired"):
        proposalfile.sign(proposal, SM2PrivateKey.generate(), NOW + 3601)
    assert proposal.signatures == []


ROLES = ("regulator", "inspection_body", "using_unit", "manufacturer", "maintenance_unit")
MEMBERS = [{"msp_id": f"O{i}", "role": role, "status": "active"} for i, role in enumerate(ROLES)]
SPECS = [{"rule": "MAJORITY", "require_roles": ["regulator"]}, {"rule": "ANY", "among_roles": ["regulator"]},
         {"rule": "ALL"}, {"rule": "2-of-n"}, {"rule": "7-of-n"}]


@pytest.mark.parametrize("spec", SPECS, ids=[s["rule"] for s in SPECS])
def test_client_precheck_agrees_with_the_chaincode(spec: dict) -> None:
    msps = [m["msp_id"] for m in MEMBERS]
    for size in range(len(msps) + 1):
        for signers in itertools.combinations(msps, size):
            assert threshold_met(spec, MEMBERS, set(signers)) == chain_threshold_met(spec, MEMBERS, set(signers))
