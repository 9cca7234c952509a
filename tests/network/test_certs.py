"""``qcchain certs check`` on generated certificates (made here with ``cryptography``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from qcchain_cli.main import cli


def _cert(path: Path, cn: str, days: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_check_lists_and_warns(tmp_path: Path) -> None:
    crypto = tmp_path / "crypto" / "peerOrganizations" / "a.example"
    _cert(crypto / "ca" / "ca.a.example-cert.pem", "ca.a.example", 3650)
    _cert(crypto / "peers" / "peer0" / "tls" / "server.crt", "peer0.a.example", 10)
    (crypto / "peers" / "peer0" / "tls" / "server.key").write_text("not a cert")
    result = CliRunner().invoke(cli, ["certs", "check", "--dir", str(tmp_path), "--within", "30"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("WARN") and "CN=peer0.a.example" in lines[0]
    assert lines[1].startswith("ok") and "CN=ca.a.example" in lines[1]
    assert "2 certificate(s); 1 expire within 30 day(s)" in result.output
    strict = CliRunner().invoke(cli, ["certs", "check", "--dir", str(tmp_path), "--within", "5", "--strict"])
    assert strict.exit_code == 0
    strict = CliRunner().invoke(cli, ["certs", "check", "--dir", str(tmp_path), "--within", "30", "--strict"])
    assert strict.exit_code == 1


def test_check_without_material(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["certs", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no crypto material" in result.output


def test_check_bad_certificate_names_file(tmp_path: Path) -> None:
    bad = tmp_path / "crypto" / "x" / "cert.pem"
    bad.parent.mkdir(parents=True)
    bad.write_text("garbage")
    result = CliRunner().invoke(cli, ["certs", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "cert.pem" in result.output
