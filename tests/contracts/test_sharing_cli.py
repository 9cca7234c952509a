"""``qcchain sharing`` commands through click's CliRunner (the contract runs on MockStub behind a fake transport)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qcchain_cli.sharing import sharing as sharing_group
from qcchain_contracts.grading import Grading
from qcchain_contracts.records import Records
from qcchain_contracts.sharing import Sharing

from govkit import GovKit
from test_sharing_contract import seed_records
from test_sharing_sdk import FakeContract


def _iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat()


@pytest.fixture()
def kit() -> GovKit:
    k = GovKit(extra_contracts=(Sharing(), Grading(), Records()))
    seed_records(k)
    return k


def run(kit: GovKit, org: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    key_file = tmp_path / f"{org}.pem"
    key_file.write_bytes(kit.orgs[org].key.to_pem())
    obj = {"contract_provider": lambda _ctx, _name: FakeContract(kit, org)}
    result = CliRunner().invoke(sharing_group, ["--json", "--key", str(key_file), *args], obj=obj)
    return result.exit_code, result.output


def test_request_approve_list_check_revoke(kit: GovKit, tmp_path: Path) -> None:
    code, out = run(kit, "Maintenance", tmp_path, "request", "UsingUnitMSP", "--scope", "equipment:EQ1",
                    "--max-grade", "L3", "--purpose", "maintenance", "--expires-at", _iso(kit.now + 3600), "--grant-id", "g-cli")
    assert code == 0, out
    assert json.loads(out)["status"] == "requested"
    code, out = run(kit, "UsingUnit", tmp_path, "approve", "g-cli", "--reason", "ok")
    assert code == 0 and json.loads(out)["status"] == "approved", out
    code, out = run(kit, "UsingUnit", tmp_path, "list", "--status", "approved")
    assert code == 0 and [g["grant_id"] for g in json.loads(out)] == ["g-cli"]
    code, out = run(kit, "Regulator", tmp_path, "check", "--fail-on-findings")
    assert code == 0 and json.loads(out)["findings"] == [], out
    code, out = run(kit, "Maintenance", tmp_path, "access", "r-hd", "--purpose", "maintenance")
    assert code == 0 and json.loads(out)["entry"]["grant_id"] == "g-cli", out
    code, out = run(kit, "UsingUnit", tmp_path, "revoke", "g-cli")
    assert code == 0 and json.loads(out)["status"] == "revoked"


def test_bad_options_and_refusals_are_one_line_errors(kit: GovKit, tmp_path: Path) -> None:
    code, out = run(kit, "Maintenance", tmp_path, "request", "UsingUnitMSP", "--scope", "galaxy:x",
                    "--max-grade", "L3", "--purpose", "maintenance")
    assert code != 0 and "expected record:<id>" in out
    code, out = run(kit, "Maintenance", tmp_path, "grant", "UsingUnitMSP", "--scope", "record:r-hd",
                    "--max-grade", "L3", "--purpose", "maintenance")
    assert code == 1 and "qcchain: error:" in out and "owned by UsingUnitMSP" in out
    code, out = run(kit, "UsingUnit", tmp_path, "reject", "nope")
    assert code == 1 and "grant 'nope' does not exist" in out
    (tmp_path / "bad.pem").write_text("not a key")
    result = CliRunner().invoke(sharing_group, ["--key", str(tmp_path / "bad.pem"), "revoke", "g"],
                                obj={"contract_provider": lambda _ctx, _name: FakeContract(kit, "UsingUnit")})
    assert result.exit_code == 1 and "is not an SM2 private key" in result.output
