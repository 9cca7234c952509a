"""Revocation of a removed node's certificates (pure parts): cryptogen CRLs built and accumulated with the
org CA key, and the org MSP's ``revocation_list`` edited in a real decoded Fabric v3.1.5 channel config."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from qcchain_network import crl, revocation
from qcchain_network.configupdate import ConfigUpdateError

BLOCKS = Path("/work/shared/spec/fabric-v3.1.5-blocks/genesis.json")
NOW = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(directory: Path, cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A CA laid out as cryptogen does (``<cn>-cert.pem``, ``priv_sk``, SKI = SHA-256 of the point)."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW).not_valid_after(NOW + dt.timedelta(days=9))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier(hashlib.sha256(point).digest()), critical=False)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True)
    (directory / f"{cn}-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "priv_sk").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return cert, key


def _leaf(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, cn: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW).not_valid_after(NOW + dt.timedelta(days=9))
            .sign(ca_key, hashes.SHA256()))


def test_crl_accumulates_every_serial_with_increasing_number(tmp_path: Path) -> None:
    ca_cert, ca_key = _ca(tmp_path / "ca", "ca.org.example")
    one, two = _leaf(ca_cert, ca_key, "peer1"), _leaf(ca_cert, ca_key, "peer2")
    store = tmp_path / "store"
    path = crl.revoke(store, tmp_path / "ca", [("peer1", one)], NOW)
    first = x509.load_pem_x509_crl(path.read_bytes())
    assert {r.serial_number for r in first} == {one.serial_number}
    crl.revoke(store, tmp_path / "ca", [("peer2", two)], NOW + dt.timedelta(hours=1))
    second = x509.load_pem_x509_crl(path.read_bytes())
    assert {r.serial_number for r in second} == {one.serial_number, two.serial_number}
    assert second.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    assert first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    assert second.is_signature_valid(ca_cert.public_key())  # type: ignore[arg-type]
    assert second.issuer == ca_cert.subject
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert crl.crl_aki(path.read_bytes()) == ski  # how Fabric's MSP pairs the CRL with the issuing CA
    entry = second.get_revoked_certificate_by_serial_number(one.serial_number)
    assert entry is not None and entry.revocation_date_utc == NOW
    state = json.loads((store / crl.STATE).read_text())
    assert [e["node"] for e in sorted(state["revoked"], key=lambda e: int(e["serial"], 16))] == \
        [n for n, c in sorted((("peer1", one), ("peer2", two)), key=lambda t: t[1].serial_number)]
    # revoking the same certificate again lists it once
    crl.revoke(store, tmp_path / "ca", [("peer1", one)], NOW)
    assert len(list(x509.load_pem_x509_crl(path.read_bytes()))) == 2


def test_crl_refuses_a_foreign_certificate_or_a_bad_store_and_writes_nothing(tmp_path: Path) -> None:
    _ca(tmp_path / "ca", "ca.org.example")
    other_cert, other_key = _ca(tmp_path / "other", "ca.other.example")
    foreign = _leaf(other_cert, other_key, "peer9")
    with pytest.raises(crl.CRLError, match="peer9 .* was not issued by CN=ca.org.example"):
        crl.revoke(tmp_path / "store", tmp_path / "ca", [("peer9", foreign)], NOW)
    assert not (tmp_path / "store").exists()
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / crl.STATE).write_text("{not json")
    ca_cert, ca_key = crl.load_ca(tmp_path / "ca")
    with pytest.raises(crl.CRLError, match="revoked.json: not a CRL store state file"):
        crl.revoke(tmp_path / "store", tmp_path / "ca", [("p", _leaf(ca_cert, ca_key, "p"))], NOW)
    assert not (tmp_path / "store" / crl.CRL_FILE).exists()
    with pytest.raises(crl.CRLError, match="expected one CA certificate"):
        crl.load_ca(tmp_path / "nothing")
    with pytest.raises(crl.CRLError, match="does not belong"):
        crl.build_crl(ca_cert, other_key, [], 1, NOW)
    with pytest.raises(crl.CRLError, match="not a PEM CRL"):
        crl.crl_serials(b"garbage")


def _config() -> dict:
    block = json.loads(BLOCKS.read_text())
    return block["data"]["data"][0]["payload"]["data"]["config"]


def _pem_crl(tmp_path: Path, cn: str, revoked_serial: int | None = None) -> bytes:
    ca_cert, ca_key = _ca(tmp_path / cn, cn)
    items = [crl.Revoked(revoked_serial, NOW, "x")] if revoked_serial else []
    return crl.build_crl(ca_cert, ca_key, items, 1, NOW).public_bytes(serialization.Encoding.PEM)


@pytest.mark.skipif(not BLOCKS.is_file(), reason="real Fabric blocks not available")
def test_revocation_list_edit_of_a_real_channel_config(tmp_path: Path) -> None:
    config = _config()
    assert revocation.revocation_list(config, "Application", "Org1MSP") == []
    sign, tls = _pem_crl(tmp_path, "ca.org1", 7), _pem_crl(tmp_path, "tlsca.org1", 8)
    new = revocation.set_revocation_list(config, "Application", "Org1MSP", [sign, tls])
    assert revocation.revocation_list(config, "Application", "Org1MSP") == []  # the input is not changed
    msp = new["channel_group"]["groups"]["Application"]["groups"]["Org1MSP"]["values"]["MSP"]["value"]["config"]
    assert [base64.b64decode(c) for c in msp["revocation_list"]] == [sign, tls]
    assert revocation.revocation_list(new, "Application", "Org2MSP") == []
    # a newer CRL of the same CA replaces the older one; the other CA's stays
    key = x509.load_pem_x509_certificate((tmp_path / "ca.org1" / "ca.org1-cert.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((tmp_path / "ca.org1" / "priv_sk").read_bytes(), None)
    newer = crl.build_crl(key, ca_key, [crl.Revoked(7, NOW, "x"), crl.Revoked(9, NOW, "y")], 2,  # type: ignore[arg-type]
                          NOW).public_bytes(serialization.Encoding.PEM)
    newest = revocation.set_revocation_list(new, "Application", "Org1MSP", [newer])
    assert revocation.revocation_list(newest, "Application", "Org1MSP") == [tls, newer]
    assert crl.crl_serials(newer) == {7, 9}
    # only the org MSP value changed
    untouched = json.loads(json.dumps(newest))
    del untouched["channel_group"]["groups"]["Application"]["groups"]["Org1MSP"]["values"]["MSP"]["value"]["config"][
        "revocation_list"]
    orig = json.loads(json.dumps(config))
    del orig["channel_group"]["groups"]["Application"]["groups"]["Org1MSP"]["values"]["MSP"]["value"]["config"][
        "revocation_list"]
    assert untouched == orig
    ordered = revocation.set_revocation_list(config, "Orderer", "OrdererOrg", [sign])  # the orderer org's MSP
    assert revocation.revocation_list(ordered, "Orderer", "OrdererOrg") == [sign]
    assert revocation.revocation_list(ordered, "Application", "Org1MSP") == []


@pytest.mark.skipif(not BLOCKS.is_file(), reason="real Fabric blocks not available")
def test_revocation_list_edit_refuses_bad_input(tmp_path: Path) -> None:
    config = _config()
    good = _pem_crl(tmp_path, "ca.x", 3)
    with pytest.raises(ConfigUpdateError, match="no org 'NopeMSP' in Application"):
        revocation.set_revocation_list(config, "Application", "NopeMSP", [good])
    with pytest.raises(ConfigUpdateError, match="no CRL"):
        revocation.set_revocation_list(config, "Application", "Org1MSP", [])
    with pytest.raises(crl.CRLError):
        revocation.set_revocation_list(config, "Application", "Org1MSP", [b"not a crl"])
    config["channel_group"]["groups"]["Application"]["groups"]["Org1MSP"]["values"]["MSP"]["mod_policy"] = "Writers"
    with pytest.raises(ConfigUpdateError, match="mod_policy 'Writers'"):
        revocation.set_revocation_list(config, "Application", "Org1MSP", [good])


def test_local_msps_get_the_crl_except_the_removed_node(tmp_path: Path) -> None:
    org = tmp_path / "org.example"
    for sub in ("msp", "peers/peer0.org.example/msp", "peers/peer1.org.example/msp", "users/Admin@org.example/msp"):
        (org / sub).mkdir(parents=True)
    assert revocation.copy_to_local_msps(org, "peer1.org.example", {"ca-crl.pem": b"PEM"}) == 3
    assert (org / "peers/peer0.org.example/msp/crls/ca-crl.pem").read_bytes() == b"PEM"
    assert (org / "users/Admin@org.example/msp/crls/ca-crl.pem").is_file()
    assert (org / "msp/crls/ca-crl.pem").is_file()
    assert not (org / "peers/peer1.org.example/msp/crls").exists()
