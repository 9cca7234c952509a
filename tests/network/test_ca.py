"""``--ca`` mode without Fabric CA binaries: derived CA ports, the identity plan, server config, the MSP/TLS
layout of an enrollment (cryptogen's names), and network.sh's one-line errors (nothing started)."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from qcchain_network import ca
from qcchain_network.__main__ import main
from qcchain_consortium.consortium import load_consortium
from qcchain_network.derive import ca_nodes, derive
from qcchain_network.errors import BinaryNotFound
from qcchain_network.render.crypto import fabric_ca_config

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "tests" / "integration" / "small-consortium.yaml"


def _layout(tmp_path: Path, consortium: Path | None = None):  # type: ignore[no-untyped-def]
    return derive(load_consortium(consortium), tmp_path / "net")


@pytest.mark.parametrize("consortium", [None, SMALL])
def test_ca_ports_are_distinct_loopback_and_above_every_node_port(tmp_path: Path, consortium: Path | None) -> None:
    layout = _layout(tmp_path, consortium)
    nodes = ca_nodes(layout)
    assert [n.org for n in nodes] == [layout.consortium.orderer.name] + [o.name for o in layout.consortium.orgs]
    ports = [p for n in nodes for p in (n.listen, n.operations)]
    others = [p for o in layout.orderers for p in (o.listen, o.admin, o.operations)]
    others += [p for x in layout.peers for p in (x.listen, x.chaincode, x.operations)]
    others += list(layout.chaincode_ports.values())
    assert len(set(ports)) == len(ports) and min(ports) > max(others)
    assert {n.host for n in nodes} == {f"ca.{n.domain}" for n in nodes}
    assert all(n.log_file == layout.out / "logs" / f"{n.host}.log" for n in nodes)


def test_identity_plan_matches_cryptogen_paths(tmp_path: Path) -> None:
    layout = _layout(tmp_path, SMALL)
    orderer_ca, inspection_ca, regulator_ca = ca_nodes(layout)
    ord_ids = ca.enrollees(layout, orderer_ca)
    assert [(e.name, e.type) for e in ord_ids] == [(o.host, "orderer") for o in layout.orderers] + [
        ("Admin@qcchain.example", "admin")]
    assert ord_ids[-1].tls_dir == layout.orderer_admin_tls
    assert [e.msp_dir for e in ord_ids[:-1]] == [o.msp_dir for o in layout.orderers]
    insp = layout.consortium.org("Inspection")
    ids = {e.name: e for e in ca.enrollees(layout, inspection_ca)}
    assert {e.type for e in ids.values()} == {"peer", "admin", "client"}
    assert ids["Admin@inspection.qcchain.example"].msp_dir == layout.user_msp(insp)
    assert ids["User1@inspection.qcchain.example"].msp_dir == layout.user_msp(insp, "User1")
    peer1 = layout.peers_of("Inspection")[1]
    assert ids[peer1.host].tls_dir == peer1.tls_dir and ids[peer1.host].server
    assert ids[peer1.host].hosts == (peer1.host, "peer1", "localhost", "127.0.0.1")
    assert len(ca.enrollees(layout, regulator_ca)) == 3


def test_server_config_listens_on_loopback_with_tls(tmp_path: Path) -> None:
    layout = _layout(tmp_path, SMALL)
    node = ca_nodes(layout)[1]
    cfg = ca.server_config(layout, node, "s3cret")
    assert (cfg["address"], cfg["port"], cfg["tls"]["enabled"]) == ("127.0.0.1", node.listen, True)
    assert cfg["operations"]["listenAddress"] == f"127.0.0.1:{node.operations}"
    assert cfg["ca"]["name"] == "ca-inspection" and cfg["csr"]["cn"] == node.host
    assert cfg["csr"]["names"][0]["O"] == "inspection.qcchain.example"
    assert {"server auth", "client auth"} <= set(cfg["signing"]["profiles"]["tls"]["usage"])
    assert cfg["registry"]["identities"][0]["pass"] == "s3cret"
    assert "pass" not in yaml.safe_dump(fabric_ca_config(layout))  # the rendered plan holds no secret


def test_nodeou_config_is_cryptogens() -> None:
    doc = yaml.safe_load(ca.nodeou_config("ca.x.example-cert.pem"))
    assert doc["NodeOUs"]["Enable"] is True
    for ou in ("client", "peer", "admin", "orderer"):
        assert doc["NodeOUs"][f"{ou.capitalize()}OUIdentifier"] == {
            "Certificate": "cacerts/ca.x.example-cert.pem", "OrganizationalUnitIdentifier": ou}


def _pem_cert(key: ec.EllipticCurvePrivateKey, cn: str, issuer_key: ec.EllipticCurvePrivateKey | None = None) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(issuer_key or key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _stage(root: Path, sub: str, ca_pem: bytes, extra_cert: bool = False) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (root / sub / "signcerts").mkdir(parents=True)
    (root / sub / "keystore").mkdir()
    (root / sub / ("tlscacerts" if sub == "tls" else "cacerts")).mkdir()
    (root / sub / "signcerts" / "cert.pem").write_bytes(_pem_cert(key, "leaf"))
    if extra_cert:
        (root / sub / "signcerts" / "other.pem").write_bytes(_pem_cert(key, "other"))
    (root / sub / "keystore" / "abc_sk").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (root / sub / ("tlscacerts" if sub == "tls" else "cacerts") / "127-0-0-1-7054.pem").write_bytes(ca_pem)


def test_place_identity_uses_cryptogen_file_names(tmp_path: Path) -> None:
    ca_pem = _pem_cert(ec.generate_private_key(ec.SECP256R1()), "ca.x.example")
    staged = tmp_path / "staged"
    _stage(staged, "msp", ca_pem)
    _stage(staged, "tls", ca_pem)
    who = ca.Enrollee("peer0.x.example", "peer", tmp_path / "p" / "msp", tmp_path / "p" / "tls", ("h",), True)
    ca.place_identity(staged, who, "x.example")
    msp = who.msp_dir
    assert (msp / "signcerts" / "peer0.x.example-cert.pem").read_bytes() == (
        staged / "msp" / "signcerts" / "cert.pem").read_bytes()
    assert (msp / "cacerts" / "ca.x.example-cert.pem").read_bytes() == ca_pem
    assert (msp / "tlscacerts" / "tlsca.x.example-cert.pem").read_bytes() == ca_pem
    assert (msp / "admincerts").is_dir() and "cacerts/ca.x.example-cert.pem" in (msp / "config.yaml").read_text()
    assert sorted(p.name for p in who.tls_dir.iterdir()) == ["ca.crt", "server.crt", "server.key"]
    for key in (msp / "keystore" / "priv_sk", who.tls_dir / "server.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        serialization.load_pem_private_key(key.read_bytes(), password=None)


def test_place_identity_refuses_ambiguous_enrollment(tmp_path: Path) -> None:
    ca_pem = _pem_cert(ec.generate_private_key(ec.SECP256R1()), "ca.x.example")
    staged = tmp_path / "staged"
    _stage(staged, "msp", ca_pem, extra_cert=True)
    _stage(staged, "tls", ca_pem)
    who = ca.Enrollee("User1@x.example", "client", tmp_path / "u" / "msp", tmp_path / "u" / "tls", ("h",), False)
    with pytest.raises(ca.EnrollError, match="expected one \\*.pem .*found 2"):
        ca.place_identity(staged, who, "x.example")


def _fake_fabric(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "fab" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("peer", "orderer", "configtxgen", "cryptogen", "osnadmin"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / name).chmod(0o755)
    cfg = tmp_path / "fab" / "config"
    cfg.mkdir()
    (cfg / "core.yaml").write_text("vm: {}\n")
    (cfg / "orderer.yaml").write_text("General: {}\n")
    return bin_dir


def test_missing_fabric_ca_binaries_one_line_and_nothing_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FABRIC_BIN", str(_fake_fabric(tmp_path)))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("FABRIC_CFG_PATH", raising=False)
    out = tmp_path / "net"
    assert main(["up", "--ca", "--consortium", str(SMALL), "--dir", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fabric-ca-server" in err and "FABRIC_BIN=" in err and "PATH" in err
    assert not out.exists()
    with pytest.raises(BinaryNotFound):
        ca.find_ca_binaries()


def test_ca_on_a_cryptogen_network_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FABRIC_BIN", str(_fake_fabric(tmp_path)))
    monkeypatch.delenv("FABRIC_CFG_PATH", raising=False)
    out = tmp_path / "net"
    (out / "crypto").mkdir(parents=True)
    assert main(["up", "--ca", "--consortium", str(SMALL), "--dir", str(out)]) == 1
    assert "already holds cryptogen material" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["crypto"]
