"""Deploy/upgrade proposals carry the SM3 of the package's review and verification reports: the SDK file
binds the reports to the signed body, the chaincode accepts and stores the digests, old bodies stay valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qcchain_contracts.errors import InvalidInput
from qcchain_contracts.proposals import validate_body
from qcchain_core.canonical import canonical_json
from qcchain_core.gm import SM2PrivateKey, sm3
from qcchain_sdk.errors import ProposalFileError
from qcchain_sdk.proposals import proposalfile

NOW = 1_750_000_000
REVIEW = {"format": "qcchain-package-evidence/1", "kind": "review", "summary": "review: 0 finding(s), 0 high",
          "passed": True, "report": [], "package": {"sha256": "ab" * 32}}
VERIFICATION = {**REVIEW, "kind": "verification", "summary": "verification: model check: 6 machines",
                "report": {"model_check": []}}


def _proposal(verification: dict | None = VERIFICATION, op: str = "upgrade") -> proposalfile.ProposalFile:
    return proposalfile.new_proposal(op, "qcchannel", "assets", version="2.0", package_digest="ab" * 32,
                                     reason="r", expiry=NOW + 3600, package={"label": "assets_2.0"},
                                     evidence={"review": REVIEW, "verification": verification})


def test_body_names_both_reports_and_the_file_round_trips(tmp_path: Path) -> None:
    proposal = _proposal()
    assert proposal.body["review_sm3"] == sm3(canonical_json(REVIEW)).hex()
    assert proposal.body["verification_sm3"] == sm3(canonical_json(VERIFICATION)).hex()
    proposalfile.sign(proposal, SM2PrivateKey.generate(), NOW)
    loaded = proposalfile.load(proposalfile.save(proposal, tmp_path / "p.json"))
    assert loaded.evidence == {"review": REVIEW, "verification": VERIFICATION}
    assert validate_body(json.loads(json.dumps(loaded.body))) == loaded.body  # the chaincode accepts it


def test_not_verified_is_recorded_in_the_signed_body(tmp_path: Path) -> None:
    proposal = _proposal(None)
    assert proposal.body["verification_sm3"] == "not verified"
    loaded = proposalfile.load(proposalfile.save(proposal, tmp_path / "p.json"))
    assert loaded.evidence == {"review": REVIEW, "verification": None}
    validate_body(loaded.body)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["evidence"]["review"].update(summary="all fine"), "is not the one the body names"),
    (lambda d: d["evidence"].update(verification=None), "is not the one the body names"),
    (lambda d: d.pop("evidence"), "the file has no evidence"),
])
def test_a_swapped_or_missing_report_is_refused(tmp_path: Path, edit, message: str) -> None:
    path = proposalfile.save(_proposal(), tmp_path / "p.json")
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_bytes(canonical_json(doc))
    with pytest.raises(ProposalFileError, match=message):
        proposalfile.load(path)


def test_old_bodies_stay_valid_and_evidence_only_for_packages(tmp_path: Path) -> None:
    old = proposalfile.new_proposal("upgrade", "qcchannel", "assets", version="2.0", package_digest="ab" * 32,
                                    expiry=NOW + 3600)
    assert "review_sm3" not in old.body and proposalfile.load(proposalfile.save(old, tmp_path / "o.json")).evidence is None
    validate_body(old.body)
    with pytest.raises(ProposalFileError, match="freeze carries no review"):
        proposalfile.new_proposal("freeze", "qcchannel", "assets", expiry=NOW + 3600,
                                  evidence={"review": REVIEW, "verification": None})
    freeze = {**proposalfile.new_proposal("freeze", "qcchannel", "assets", expiry=NOW + 3600).body,
              "review_sm3": "ab" * 32, "verification_sm3": "not verified"}
    with pytest.raises(InvalidInput, match="freeze carries no review"):
        validate_body(freeze)


@pytest.mark.parametrize("fields, message", [
    ({"review_sm3": "xyz", "verification_sm3": "not verified"}, "review_sm3"),
    ({"review_sm3": "ab" * 32, "verification_sm3": "unchecked"}, "verification_sm3"),
    ({"review_sm3": "ab" * 32}, "exactly the fields"),
])
def test_chaincode_refuses_malformed_digests(fields: dict, message: str) -> None:
    body = {**proposalfile.new_proposal("deploy", "qcchannel", "assets", version="1.0", package_digest="ab" * 32,
                                        expiry=NOW + 3600).body, **fields}
    with pytest.raises(InvalidInput, match=message):
        validate_body(body)
