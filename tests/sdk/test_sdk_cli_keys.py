"""``qcchain keys generate|show|export|list`` through click's CliRunner."""

from __future__ import annotations

import os
import stat

from click.testing import CliRunner
from qcchain_core.gm import SM2PublicKey

from qcchain_cli.main import cli
from qcchain_gateway.keystore import FileKeystore


def _run(args: list[str], password: str | None = "Cli-keys-pw-2024", stdin: str | None = None):
    env = {"QCCHAIN_KEYSTORE_PASSWORD": password} if password else {"QCCHAIN_KEYSTORE_PASSWORD": ""}
    return CliRunner().invoke(cli, ["keys", *args], env=env, input=stdin)


def test_generate_show_export_sm2(tmp_path) -> None:
    ks = str(tmp_path / "ks")
    result = _run(["generate", "inspector", "--keystore", ks])
    assert result.exit_code == 0, result.output
    key_id = next(line.split()[-1] for line in result.output.splitlines() if line.startswith("key id"))
    assert FileKeystore(ks).kind("inspector") == "sm2"

    shown = _run(["show", "inspector", "--keystore", ks])
    assert shown.exit_code == 0 and key_id in shown.output and "BEGIN PUBLIC KEY" in shown.output
    assert "PRIVATE" not in shown.output

    out = tmp_path / "pub.pem"
    exported = _run(["export", "inspector", "--keystore", ks, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert SM2PublicKey.from_pem(out.read_bytes()).key_id() == key_id

    priv = tmp_path / "priv.pem"
    assert _run(["export", "inspector", "--private", "--keystore", ks, "--out", str(priv)]).exit_code == 0
    assert b"ENCRYPTED PRIVATE KEY" in priv.read_bytes()
    assert stat.S_IMODE(os.stat(priv).st_mode) == 0o600

    listed = _run(["list", "--keystore", ks])
    assert listed.output.strip().splitlines()[-1].split() == ["inspector", "sm2"]


def test_generate_ecdsa_with_prompted_password(tmp_path) -> None:
    ks = str(tmp_path / "ks")
    result = _run(["generate", "fabric-admin", "--type", "ecdsa", "--keystore", ks], password=None, stdin="Prompted-pw-2024\nPrompted-pw-2024\n")
    assert result.exit_code == 0, result.output
    assert FileKeystore(ks).get("fabric-admin", b"Prompted-pw-2024") is not None


def test_errors_are_one_line_and_write_nothing(tmp_path) -> None:
    ks = tmp_path / "ks"
    assert _run(["generate", "../evil", "--keystore", str(ks)]).exit_code != 0
    assert not ks.exists()
    assert _run(["generate", "k", "--keystore", str(ks)]).exit_code == 0
    again = _run(["generate", "k", "--keystore", str(ks)])
    assert again.exit_code != 0 and "already exists" in again.output
    wrong = _run(["show", "k", "--keystore", str(ks)], password="nope")
    assert wrong.exit_code != 0 and "wrong password" in wrong.output
    missing = _run(["show", "zz", "--keystore", str(ks)])
    assert missing.exit_code != 0 and "no key 'zz'" in missing.output
    empty = tmp_path / "empty"
    empty.write_text("")
    bad_file = _run(["show", "k", "--keystore", str(ks), "--password-file", str(empty)])
    assert bad_file.exit_code != 0 and "--password-file" in bad_file.output
