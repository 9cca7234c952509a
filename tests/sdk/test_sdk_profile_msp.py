"""MSP directories (cryptogen / Fabric CA layouts), low-S signatures, connection profiles."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from fakegateway import FakeGateway, serve
from sdk_pki import write_msp

from qcchain_gateway import Identity, new_private_key_signer
from qcchain_gateway.errors import IdentityError, ProfileError
from qcchain_gateway.msp import load_identity
from qcchain_gateway.profile import connect_profile, load_profile

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def test_signer_produces_low_s_der_that_verifies() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    sign = new_private_key_signer(key)
    for i in range(64):
        message = f"message {i}".encode()
        digest = hashlib.sha256(message).digest()
        signature = sign(digest)
        _, s = decode_dss_signature(signature)
        assert s <= P256_N // 2
        key.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))


def test_signer_refuses_non_ecdsa_keys_and_identity_checks_cert() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    with pytest.raises(IdentityError, match="ECDSA"):
        new_private_key_signer(ed25519.Ed25519PrivateKey.generate())  # type: ignore[arg-type]
    with pytest.raises(IdentityError, match="not a PEM"):
        Identity("Org1MSP", b"not a cert")
    with pytest.raises(IdentityError, match="msp_id"):
        Identity("", b"x")


@pytest.mark.parametrize("style", ["cryptogen", "fabric-ca"])
def test_load_identity_from_msp_dir(tmp_path, orgs, style) -> None:
    user = orgs["Org1MSP"].user
    msp = write_msp(tmp_path / "msp", user, style, "User1@org1.example.com-cert.pem")
    identity, signer = load_identity(msp, "Org1MSP")
    assert identity == Identity("Org1MSP", user.cert_pem)
    digest = b"\x01" * 32
    user.key.public_key().verify(signer(digest), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    assert load_identity(msp)[0].msp_id == "Org1MSP"  # inferred from the issuer O= (cryptogen convention)


def test_load_identity_picks_the_key_matching_the_certificate(tmp_path, orgs) -> None:
    user = orgs["Org1MSP"].user
    msp = write_msp(tmp_path / "msp", user)
    (msp / "keystore" / "aaaa_sk").write_bytes(orgs["Org2MSP"].user.key_pem())
    identity, _ = load_identity(msp, "Org1MSP")
    assert identity.cert_pem == user.cert_pem


def test_load_identity_errors_name_the_problem(tmp_path, orgs) -> None:
    with pytest.raises(IdentityError, match="does not exist"):
        load_identity(tmp_path / "nope")
    msp = write_msp(tmp_path / "msp", orgs["Org1MSP"].user)
    (msp / "keystore" / "priv_sk").write_bytes(orgs["Org2MSP"].user.key_pem())
    with pytest.raises(IdentityError, match="matches the certificate"):
        load_identity(msp, "Org1MSP")
    for f in (msp / "signcerts").iterdir():
        f.unlink()
    with pytest.raises(IdentityError, match="signcerts"):
        load_identity(msp, "Org1MSP")


def _profile(tmp_path: Path, target: str, msp: Path, tls_pem: bytes | None = None, override: str = "") -> Path:
    peer: dict = {"url": ("grpcs://" if tls_pem else "grpc://") + target}
    if tls_pem:
        peer["tlsCACerts"] = {"pem": tls_pem.decode()}
        peer["grpcOptions"] = {"ssl-target-name-override": override, "hostnameOverride": override}
    doc = {
        "name": "qcchain-test-org1", "version": "1.0.0", "client": {"organization": "Org1"},
        "organizations": {"Org1": {"mspid": "Org1MSP", "peers": ["peer0.org1.example.com"],
                                   "users": {"Admin": {"mspConfigPath": str(msp)}}}},
        "peers": {"peer0.org1.example.com": peer},
        "channels": {"qcchannel": {"peers": {"peer0.org1.example.com": {}}, "chaincodes": ["qcchain"]}},
    }
    path = tmp_path / "connection-org1.json"
    path.write_text(json.dumps(doc))
    return path


def test_connect_profile_over_tls(tmp_path, orgs, tls_server_cert) -> None:
    ca, server = tls_server_cert
    running = serve(FakeGateway(list(orgs.values()), "qcchannel", "qcchain"), tls=server)
    try:
        msp = write_msp(tmp_path / "admin-msp", orgs["Org1MSP"].admin)
        path = _profile(tmp_path, running.target, msp, ca.cert_pem, "peer0.org1.example.com")
        profile = load_profile(path)
        assert profile.organizations["Org1"].msp_id == "Org1MSP" and profile.peers["peer0.org1.example.com"].tls
        with connect_profile(path, user="Admin") as gateway:
            assert gateway.identity.cert_pem == orgs["Org1MSP"].admin.cert_pem
            contract = gateway.get_network("qcchannel").get_contract("qcchain")
            assert contract.submit_transaction("put", "p", "q") == b"q"
    finally:
        running.stop()


def test_profile_errors_name_file_and_field(tmp_path, orgs) -> None:
    msp = write_msp(tmp_path / "msp", orgs["Org1MSP"].admin)
    path = _profile(tmp_path, "127.0.0.1:1", msp)
    with pytest.raises(ProfileError, match=r"connection-org1.json.*users.User1"):
        connect_profile(path, user="User1")
    with pytest.raises(ProfileError, match="no organization 'Nope'"):
        connect_profile(path, org="Nope")
    doc = json.loads(path.read_text())
    del doc["organizations"]["Org1"]["mspid"]
    path.write_text(json.dumps(doc))
    with pytest.raises(ProfileError, match=r"organizations.Org1.mspid"):
        load_profile(path)
    doc["organizations"]["Org1"]["mspid"] = "Org1MSP"
    doc["peers"]["peer0.org1.example.com"]["url"] = "grpcs://127.0.0.1:1"
    path.write_text(json.dumps(doc))
    with pytest.raises(ProfileError, match="tlsCACerts"):
        load_profile(path)
    path.write_text("{broken")
    with pytest.raises(ProfileError, match="not valid JSON"):
        load_profile(path)
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "missing.json")
