"""``--key pkcs11:…`` where the application needs an SM2 key: refused in one line naming the missing SM2
mechanism (SoftHSM2 has none), never a silent fall back to a software key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from qcchain_cli.errors import CliError
from qcchain_cli.main import cli
from qcchain_cli.options import load_sm2
from qcchain_cli.records import CATEGORIES, STAGES


def test_load_sm2_refuses_a_token_key(hsm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCCHAIN_PKCS11_MODULE", hsm.module)
    with pytest.raises(CliError) as err:
        load_sm2(f"pkcs11:token={hsm.token};object=ins-admin", tmp_path / "keystore", None)
    message = str(err.value)
    assert "\n" not in message and "offers no SM2 mechanism" in message and "none configured" in message
    assert "no software fallback" in message


def test_records_submit_with_a_token_key_says_so_in_one_line(hsm, tmp_path: Path) -> None:
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps({"x": 1}))
    cat, stage = CATEGORIES[0], STAGES[0]
    result = CliRunner().invoke(cli, ["records", "submit", "--key", f"pkcs11:token={hsm.token};object=k",
                                      "--payload", str(payload), "--record-id", "EQ-1",
                                      "--category", cat, "--equipment", "32019999", "--stage", stage],
                                env={"QCCHAIN_PKCS11_MODULE": hsm.module})
    assert result.exit_code != 0
    assert "offers no SM2 mechanism" in result.output, result.output
    assert "Traceback" not in result.output


def test_unknown_token_is_one_line(hsm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCCHAIN_PKCS11_MODULE", hsm.module)
    with pytest.raises(CliError, match="no-such-token"):
        load_sm2("pkcs11:token=no-such-token;object=k", tmp_path / "keystore", None)
