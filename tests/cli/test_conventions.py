"""CLI conventions (issue 20): shared options before or after the sub-command, --profile as a devnet org name,
--key as a keystore label or a PEM file with one password variable (a missing one is named), durations and
ISO-8601 times, tables, one-line errors, help that lists the choices."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click
import grpc
import pytest
import yaml
from click.testing import CliRunner

from qcchain_cli.errors import one_line
from qcchain_cli.main import cli
from qcchain_cli.options import load_sm2, resolve_profile
from qcchain_cli.sharing import PURPOSES
from qcchain_cli.tables import table
from qcchain_cli.timefmt import parse_duration, parse_time, show_time
from qcchain_core.gm import SM2PrivateKey
from qcchain_gateway.errors import ErrorDetail, EvaluateError, stage_error_type
from qcchain_gateway.keystore import FileKeystore

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Conventions-pw-2026"


class FakeRecords:
    """records:get answers one L1 view; keys:get its key; records the calls."""

    channel = "qcchannel"

    def __init__(self) -> None:
        self.key = SM2PrivateKey.generate()
        from qcchain_sdk.contracts.records import build_record

        built = build_record(record_id="EQ-1", category="equipment", equipment_code="3201", stage="production",
                             owner_msp="ManufacturerMSP", grade="L1", signing_key=self.key, payload={"ID": "EQ-1"})
        self.view = {**built.envelope, "signature": built.signature, "payload": built.payload, "access": "audience",
                     "placement": "world_state", "at": 1_796_000_000, "tx_id": "ab" * 32}

    def evaluate_transaction(self, fn: str, *args: Any) -> bytes:
        if fn == "records:get":
            return json.dumps(self.view).encode()
        if fn == "keys:get":
            return json.dumps({"key_id": args[0], "msp_id": "ManufacturerMSP",
                               "public_key_pem": self.key.public_key().to_pem().decode()}).encode()
        raise AssertionError(fn)


@pytest.mark.parametrize("args", [
    ["records", "--json", "get", "EQ-1"],
    ["records", "get", "EQ-1", "--json"],
    ["records", "--profile", "x.json", "get", "EQ-1", "--json"],
])
def test_shared_options_before_or_after_the_subcommand(args: list[str]) -> None:
    fake = FakeRecords()
    result = CliRunner().invoke(cli, args, obj={"contract_provider": lambda _ctx, _name: fake})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["verified"] == "ok"


def test_reads_are_sentences_and_times_iso_without_json() -> None:
    fake = FakeRecords()
    result = CliRunner().invoke(cli, ["records", "get", "EQ-1"], obj={"contract_provider": lambda _ctx, _name: fake})
    assert result.exit_code == 0, result.output
    assert "at: 2026-11-30T" in result.output and "+08:00" in result.output
    assert "verified: SM2 signature, SM3 digest hold for the key ManufacturerMSP registered" in result.output
    assert "{" not in result.output.replace('payload: {"ID": "EQ-1"}', "")


def test_profile_is_a_file_or_a_devnet_org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profiles = tmp_path / "dn" / "connection-profiles"
    profiles.mkdir(parents=True)
    (profiles / "connection-inspection.json").write_text("{}")
    monkeypatch.setenv("QCCHAIN_DEVNET_DIR", str(tmp_path / "dn"))
    assert resolve_profile("Inspection") == profiles / "connection-inspection.json"
    assert resolve_profile(str(profiles / "connection-inspection.json")).is_file()
    with pytest.raises(click.ClickException, match="no devnet profile .*connection-nobody.json"):
        resolve_profile("nobody")
    monkeypatch.delenv("QCCHAIN_PROFILE", raising=False)
    with pytest.raises(click.ClickException, match="--profile is required"):
        resolve_profile(None)


def test_key_is_a_label_or_a_file_with_one_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = SM2PrivateKey.generate()
    store = tmp_path / "ks"
    FileKeystore(store).put("inspection", key, PASSWORD.encode())
    plain = tmp_path / "plain.pem"
    plain.write_bytes(key.to_pem())
    monkeypatch.delenv("QCCHAIN_KEYSTORE_PASSWORD", raising=False)
    assert load_sm2(str(plain), store, None).public_key().key_id() == key.public_key().key_id()  # no password needed
    with pytest.raises(click.ClickException, match="needs a password: set QCCHAIN_KEYSTORE_PASSWORD"):
        load_sm2("inspection", store, None)
    monkeypatch.setenv("QCCHAIN_KEYSTORE_PASSWORD", PASSWORD)
    assert load_sm2("inspection", store, None).public_key().key_id() == key.public_key().key_id()
    monkeypatch.setenv("QCCHAIN_KEYSTORE_PASSWORD", "Another-pw-2026")
    with pytest.raises(click.ClickException, match="wrong password"):
        load_sm2("inspection", store, None)
    with pytest.raises(click.ClickException, match="no key 'nope' in keystore"):
        load_sm2("nope", store, None)


def test_durations_and_times() -> None:
    assert [parse_duration(v) for v in ("3d", "12h", "30m", "900s")] == [259200, 43200, 1800, 900]
    for bad in ("3", "3 days", "-1h", ""):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(bad)
    midnight = parse_time("2026-12-01")
    assert show_time(midnight) == "2026-12-01T00:00:00+08:00"
    assert parse_time("2026-12-01T00:00:00+00:00") - midnight == 8 * 3600
    with pytest.raises(ValueError, match="not an ISO-8601 time"):
        parse_time("1796000000")
    result = CliRunner().invoke(cli, ["audit", "timeline", "--from", "yesterday"])
    assert result.exit_code == 2 and "not an ISO-8601 time" in result.output
    result = CliRunner().invoke(cli, ["sharing", "request", "X", "--scope", "record:r", "--purpose", "audit",
                                      "--expires-in", "10"])
    assert result.exit_code == 2 and "write a number and a unit" in result.output


def test_tables_align_wide_characters() -> None:
    lines = table([{"a": "电梯", "b": 1}, {"a": "lift", "b": None}], [("kind", lambda r: r["a"]), ("n", lambda r: r["b"])])
    assert lines == ["kind  n", "----  -", "电梯  1", "lift  -"]
    assert table([], [("x", str)], "(no grant)") == ["(no grant)"]


def test_gateway_errors_are_one_line_without_the_grpc_chain() -> None:
    text = "evaluate call to endorser returned error: chaincode response 403, InspectionMSP is not an active consortium member"
    details = [ErrorDetail("peer0.inspection:7051", "InspectionMSP", text), ErrorDetail("peer1", "X", text)]
    exc = stage_error_type(EvaluateError, "failed", details)("failed", grpc.StatusCode.ABORTED, details)
    line = one_line(exc)
    assert "\n" not in line and line.startswith("refused: InspectionMSP is not an active consortium member")
    assert "devnet up --bootstrap" in line and "ABORTED" not in line and "peer0" not in line


def test_help_lists_choices_and_every_subcommand() -> None:
    submit = CliRunner().invoke(cli, ["records", "submit", "--help"]).output
    assert "hidden_danger" in submit and "--grade [L1|L2|L3|L4]" in submit and "[required]" not in submit.split("--grade")[1].split("--payload")[0]
    request = CliRunner().invoke(cli, ["sharing", "request", "--help"]).output
    assert "maintenance" in request and "accident_investigation" in request
    sharing_help = CliRunner().invoke(cli, ["sharing", "--help"]).output
    for name in ("request", "approve", "reject", "revoke", "grant", "access", "list", "check"):
        assert f"  {name} " in sharing_help
    contract_help = CliRunner().invoke(cli, ["contract", "--help"]).output
    assert "register-key" in contract_help


def test_purposes_are_the_shipped_policy_ones() -> None:
    policy = yaml.safe_load((ROOT / "policies" / "sharing.yaml").read_text(encoding="utf-8"))
    assert tuple(policy["grants"]["purposes"]) == PURPOSES


def test_certs_check_accepts_a_devnet_dir(tmp_path: Path) -> None:
    (tmp_path / "crypto-config").mkdir()
    result = CliRunner().invoke(cli, ["certs", "check", "--dir", str(tmp_path), "--within", "30d"])
    assert result.exit_code == 0, result.output
    assert "0 certificate(s); 0 expire within 30 day(s)" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["certs", "check", "--dir", str(empty)])
    assert result.exit_code == 1 and "crypto-config/ (a devnet)" in result.output


def test_every_category_has_a_valid_example() -> None:
    from qcchain_model.tables import CATEGORIES, violations_of

    for category in CATEGORIES:
        record = json.loads((ROOT / "examples" / f"{category}.json").read_text(encoding="utf-8"))
        assert violations_of(category, record) == [], category


def test_show_time_uses_the_zone_not_utc() -> None:
    assert show_time(0) == "1970-01-01T08:00:00+08:00"
    assert show_time(0, dt.timezone.utc) == "1970-01-01T00:00:00+00:00"
