"""Crypto material in cryptogen's layout (devnet shell, issue 3)."""

from __future__ import annotations

import hashlib
import socket
import ssl
import threading
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from qcchain_devnet.config import MaterialError, default_config
from qcchain_devnet.material import ensure_devnet_tls, ensure_material

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@pytest.fixture(scope="module")
def crypto(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("material") / "crypto-config"
    ensure_material(root, default_config())
    return root


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _verify(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    assert cert.issuer == issuer.subject
    pub = issuer.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    pub.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    _, s = decode_dss_signature(cert.signature)
    assert s <= N // 2, "signature is not low-S"


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _ous(cert: x509.Certificate) -> list[str]:
    return [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]


def test_layout_is_cryptogens(crypto: Path) -> None:
    for org in default_config().orgs:
        d = org.domain
        base = crypto / "peerOrganizations" / d
        expected = [
            f"ca/ca.{d}-cert.pem", "ca/priv_sk", f"tlsca/tlsca.{d}-cert.pem", "tlsca/priv_sk",
            f"msp/cacerts/ca.{d}-cert.pem", f"msp/tlscacerts/tlsca.{d}-cert.pem", "msp/config.yaml",
            f"peers/peer0.{d}/msp/keystore/priv_sk", f"peers/peer0.{d}/msp/signcerts/peer0.{d}-cert.pem",
            f"peers/peer0.{d}/msp/cacerts/ca.{d}-cert.pem", f"peers/peer0.{d}/msp/tlscacerts/tlsca.{d}-cert.pem",
            f"peers/peer0.{d}/msp/config.yaml", f"peers/peer0.{d}/tls/ca.crt", f"peers/peer0.{d}/tls/server.crt",
            f"peers/peer0.{d}/tls/server.key",
        ]
        for user in ("Admin", "User1"):
            u = f"users/{user}@{d}"
            expected += [f"{u}/msp/keystore/priv_sk", f"{u}/msp/signcerts/{user}@{d}-cert.pem",
                         f"{u}/msp/config.yaml", f"{u}/tls/ca.crt", f"{u}/tls/client.crt", f"{u}/tls/client.key"]
        missing = [e for e in expected if not (base / e).is_file()]
        assert not missing, f"{d}: missing {missing}"
        assert (base / "msp/admincerts").is_dir() and not any((base / "msp/admincerts").iterdir())
    od = crypto / "ordererOrganizations/qcchain.example"
    assert (od / "orderers/orderer.qcchain.example/tls/server.crt").is_file()
    assert (od / "users/Admin@qcchain.example/msp/keystore/priv_sk").is_file()


def test_identities_are_signed_by_org_ca_with_node_ous(crypto: Path) -> None:
    d = "regulator.qcchain.example"
    base = crypto / "peerOrganizations" / d
    ca = _cert(base / f"ca/ca.{d}-cert.pem")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == d
    cases = {f"peers/peer0.{d}": ("peer", f"peer0.{d}"), f"users/Admin@{d}": ("admin", f"Admin@{d}"),
             f"users/User1@{d}": ("client", f"User1@{d}")}
    for rel, (ou, cn) in cases.items():
        cert = _cert(base / rel / "msp/signcerts" / f"{cn}-cert.pem")
        _verify(cert, ca)
        assert _ous(cert) == [ou]
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
        key = serialization.load_pem_private_key((base / rel / "msp/keystore/priv_sk").read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()


def test_node_ous_config_points_at_the_ca(crypto: Path) -> None:
    d = "usingunit.qcchain.example"
    for msp in (crypto / "peerOrganizations" / d / "msp", crypto / "peerOrganizations" / d / f"users/User1@{d}/msp"):
        cfg = yaml.safe_load((msp / "config.yaml").read_text())["NodeOUs"]
        assert cfg["Enable"] is True
        ous = {k: v["OrganizationalUnitIdentifier"] for k, v in cfg.items() if k != "Enable"}
        assert ous == {"ClientOUIdentifier": "client", "PeerOUIdentifier": "peer",
                       "AdminOUIdentifier": "admin", "OrdererOUIdentifier": "orderer"}
        for value in cfg.values():
            if isinstance(value, dict):
                assert (msp / value["Certificate"]).is_file()


def test_tls_certs_have_sans_and_tls_ca_issuer(crypto: Path) -> None:
    d = "manufacturer.qcchain.example"
    base = crypto / "peerOrganizations" / d
    tls = _cert(base / f"peers/peer0.{d}/tls/server.crt")
    _verify(tls, _cert(base / f"tlsca/tlsca.{d}-cert.pem"))
    san = tls.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {f"peer0.{d}", "peer0", "localhost"} <= set(san.get_values_for_type(x509.DNSName))
    assert "127.0.0.1" in {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def test_existing_material_is_reused_never_overwritten(tmp_path: Path) -> None:
    root = tmp_path / "cc"
    ensure_material(root, default_config())
    before = _tree(root)
    ensure_material(root, default_config())
    assert _tree(root) == before
    import shutil
    user = root / "peerOrganizations/maintenance.qcchain.example/users/User1@maintenance.qcchain.example"
    shutil.rmtree(user)
    ensure_material(root, default_config())
    after = _tree(root)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed and all("User1@maintenance" in k for k in changed)
    assert not [p for p in root.rglob(".*tmp-*")], "staging directories left behind"


def test_inconsistent_ca_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "cc"
    ensure_material(root, default_config())
    ca_key = root / "peerOrganizations/inspection.qcchain.example/ca/priv_sk"
    other = ec.generate_private_key(ec.SECP256R1())
    ca_key.write_bytes(other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    user = root / "peerOrganizations/inspection.qcchain.example/users/User1@inspection.qcchain.example"
    import shutil
    shutil.rmtree(user)
    with pytest.raises(MaterialError, match="priv_sk.*does not match"):
        ensure_material(root, default_config())
    assert not user.exists()


def test_unwritable_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MaterialError, match="cannot write"):
        ensure_material(blocker / "cc", default_config())


def test_devnet_tls_cert_serves_every_peer_name(crypto: Path) -> None:
    tls = ensure_devnet_tls(crypto, [h for o in default_config().orgs for h in o.peer_hosts])
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tls.cert, tls.key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        for _ in range(len(default_config().orgs) + 1):
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as s:
                    s.sendall(b"ok")
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    names = [o.peer_hosts[0] for o in default_config().orgs] + ["localhost"]
    for name in names:
        client_ctx = ssl.create_default_context(cafile=str(tls.ca_cert))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with client_ctx.wrap_socket(raw, server_hostname=name) as s:
                assert s.recv(2) == b"ok"
    thread.join(timeout=5)
    listener.close()


def test_devnet_tls_cert_is_reissued_for_new_hosts_by_same_ca(tmp_path: Path) -> None:
    first = ensure_devnet_tls(tmp_path, ["peer0.a.example"])
    ca_before = first.ca_cert.read_bytes()
    cert_before = first.cert.read_bytes()
    assert ensure_devnet_tls(tmp_path, ["peer0.a.example"]).cert.read_bytes() == cert_before
    second = ensure_devnet_tls(tmp_path, ["peer0.a.example", "peer0.b.example"])
    assert second.ca_cert.read_bytes() == ca_before
    assert second.cert.read_bytes() != cert_before
    _verify(_cert(second.cert), _cert(second.ca_cert))
