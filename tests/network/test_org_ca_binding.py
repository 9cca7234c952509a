"""add-org checks the joining org's CA against the fingerprints its ``member_admit`` bound on chain
(issue 18): the fingerprints are SHA-256 of the DER; a mismatch, or an admission without them, is a
one-line refusal; the member_admit the network code writes carries them."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from qcchain_consortium.membership import parse_org_file
from qcchain_network import membergate, orgmaterial
from qcchain_sdk.proposals import proposalfile

ORG = {"org": {"name": "Inspection2", "msp_id": "Inspection2MSP", "role": "inspection_body",
               "domain": "inspection2.qcchain.example", "peers": 1, "full_name": "Second Inspection Institute",
               "credit_code": "12100000400022657P"}}


def _ca(cn: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _msp(root: Path, ca: bytes, tls: bytes) -> Path:
    for sub, pem in (("cacerts", ca), ("tlscacerts", tls)):
        (root / sub).mkdir(parents=True)
        (root / sub / "ca.pem").write_bytes(pem)
    return root


def test_fingerprints_are_sha256_of_der(tmp_path: Path) -> None:
    ca, tls = _ca("ca.inspection2"), _ca("tlsca.inspection2")
    got = orgmaterial.member_fingerprints(_msp(tmp_path / "msp", ca, tls))
    der = x509.load_pem_x509_certificate(ca).public_bytes(serialization.Encoding.DER)
    assert got["ca_cert_sha256"] == hashlib.sha256(der).hexdigest()
    assert got["tls_ca_cert_sha256"] != got["ca_cert_sha256"]
    (tmp_path / "msp" / "cacerts" / "second.pem").write_bytes(_ca("other"))
    with pytest.raises(orgmaterial.MaterialError, match="exactly one CA certificate, found 2"):
        orgmaterial.member_fingerprints(tmp_path / "msp")
    (tmp_path / "bad" / "cacerts").mkdir(parents=True)
    (tmp_path / "bad" / "cacerts" / "x.pem").write_text("-----BEGIN CERTIFICATE-----\nnope\n")
    with pytest.raises(orgmaterial.MaterialError, match="not a PEM certificate"):
        orgmaterial.member_fingerprints(tmp_path / "bad")


def _gate(monkeypatch: pytest.MonkeyPatch, entry: dict[str, Any] | None) -> None:
    monkeypatch.setattr(membergate, "on_chain", lambda layout, msp_id, channel="": entry)


def test_add_org_refuses_ca_not_admitted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    org = parse_org_file(ORG).org
    fp = orgmaterial.member_fingerprints(_msp(tmp_path / "msp", _ca("a"), _ca("b")))
    record = {**membergate.member_record(org, fp), "status": "active", "source": "p1"}
    _gate(monkeypatch, record)
    assert membergate.require(object(), org, "admit", fingerprints=fp) == "p1"  # type: ignore[arg-type]
    other = orgmaterial.member_fingerprints(_msp(tmp_path / "msp2", _ca("c"), _ca("b")))
    with pytest.raises(membergate.NotDecided) as err:
        membergate.require(object(), org, "admit", "test-keys", fingerprints=other)  # type: ignore[arg-type]
    assert "ca_cert_sha256" in str(err.value) and "the CA in its material" in str(err.value)
    assert "\n" not in str(err.value)
    _gate(monkeypatch, {k: v for k, v in record.items() if not k.endswith("_sha256")})  # admitted before binding
    with pytest.raises(membergate.NotDecided, match="without ca_cert_sha256"):
        membergate.require(object(), org, "admit", fingerprints=fp)  # type: ignore[arg-type]


def test_member_admit_proposal_carries_fingerprints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    org = parse_org_file(ORG).org
    fp = orgmaterial.member_fingerprints(_msp(tmp_path / "msp", _ca("a"), _ca("b")))
    _gate(monkeypatch, None)
    with pytest.raises(membergate.MemberProposalWritten):
        membergate.require(object(), org, "admit", "propose", tmp_path / "p.json",  # type: ignore[arg-type]
                           fingerprints=fp)
    proposal = proposalfile.load(tmp_path / "p.json")
    assert proposal.artifact == {**membergate.member_record(org), **fp}
    assert proposal.body["operation"] == "member_admit" and proposal.body["target"]["contract"] == "Inspection2MSP"
