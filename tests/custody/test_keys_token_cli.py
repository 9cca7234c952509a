"""``qcchain keys generate-on-token | import-to-token | list-token``: PIN from a file or env, one-line errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from qcchain_cli.errors import CliError
from qcchain_cli.keys_token import register, token_signer, token_sm2_key
from qcchain_cli.main import cli


@pytest.fixture()
def run():
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(cli, ["keys", *args], env=env or {}, catch_exceptions=False)
    return invoke


def _label() -> str:
    return "cli-" + uuid.uuid4().hex[:8]


def _ca_dir(tmp_path: Path, crypto) -> Path:
    ca = crypto.cas["Org1MSP"]
    d = tmp_path / "ca"
    d.mkdir()
    (d / f"{ca.name}-cert.pem").write_bytes(ca.cert_pem)
    (d / "priv_sk").write_bytes(ca.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    return d


def test_commands_are_registered_on_keys() -> None:
    group = click.Group("k")
    register(group)
    assert set(group.commands) == {"generate-on-token", "import-to-token", "list-token"}


def test_generate_with_certificate_then_list(hsm, run, tmp_path, crypto) -> None:
    label = _label()
    uri = f"pkcs11:token={hsm.token};object={label}"
    out = tmp_path / "cert.pem"
    res = run("generate-on-token", uri, "--pin-file", str(hsm.pin_file), "--ca-dir", str(_ca_dir(tmp_path, crypto)),
              "--cn", f"{label}@org1.example.com", "--cert-out", str(out))
    assert res.exit_code == 0, res.output
    assert hsm.pin not in res.output
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    signer = token_signer(uri, hsm.pin_file)
    try:
        assert cert.public_key().public_numbers() == signer.public_key().public_numbers()
        assert cert.issuer == crypto.cas["Org1MSP"].cert.subject
    finally:
        signer.close()
    res = run("list-token", f"pkcs11:token={hsm.token}", env={"QCCHAIN_PKCS11_PIN": hsm.pin})
    assert res.exit_code == 0 and f"pkcs11:token={hsm.token};object={label}" in res.output


def test_import_from_pem_and_msp(hsm, run, tmp_path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "k.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    label = _label()
    res = run("import-to-token", f"pkcs11:token={hsm.token};object={label}", "--from-pem", str(pem),
              "--pin-file", str(hsm.pin_file))
    assert res.exit_code == 0, res.output
    msp = tmp_path / "msp"
    (msp / "keystore").mkdir(parents=True)
    (msp / "signcerts").mkdir()
    res = run("import-to-token", f"pkcs11:token={hsm.token};object={_label()}", "--from-msp", str(msp),
              "--pin-file", str(hsm.pin_file))
    assert res.exit_code == 1 and "expected one certificate in signcerts/" in res.output


@pytest.mark.parametrize("args, env, message", [
    (["list-token", "pkcs11:token=qcchain-test"], {}, "needs its user PIN: give --pin-file FILE or set"),
    (["list-token", "pkcs11:token=qcchain-test"], {"QCCHAIN_PKCS11_PIN": "bad-pin"}, "token 'qcchain-test': wrong PIN"),
    (["list-token", "pkcs11:token=qcchain-test?pin-value=4711-user"], {}, "never on the command line"),
    (["list-token", "pkcs11:token=nosuch"], {"QCCHAIN_PKCS11_PIN": "x"}, "no PKCS#11 token labelled 'nosuch'"),
    (["list-token", "token=qcchain-test"], {}, "not a PKCS#11 URI"),
    (["generate-on-token", "pkcs11:token=qcchain-test;object=s", "--algorithm", "sm2",
      "--sm2-mechanism", "0x80000001"], {"QCCHAIN_PKCS11_PIN": "4711-user"}, "offers no SM2 mechanism"),
])
def test_one_line_errors(hsm, run, args, env, message) -> None:
    res = run(*args, env=env)
    assert res.exit_code == 1
    lines = [line for line in res.output.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("qcchain: error: ") and message in lines[0], res.output
    assert "4711-user" not in res.output


def test_missing_object_is_one_line(hsm) -> None:
    with pytest.raises(CliError, match="object 'absent': no such private key"):
        token_signer(f"pkcs11:token={hsm.token};object=absent", hsm.pin_file)
    with pytest.raises(CliError, match="no software fallback"):
        token_sm2_key(f"pkcs11:token={hsm.token};object=sm2")
