"""``qcchain records submit|get|query`` and ``qcchain audit history|timeline|verify`` through click's
CliRunner against a devnet on which the consortium story ran (orgs bootstrapped, SM2 keys registered)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qcchain_cli.main import cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenario"))
from runtimes import _devnet  # noqa: E402

from qcchain_sdk.contracts.story import EQ, Story, demo_payloads  # noqa: E402

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("cli-records")
    for runtime in _devnet(tmp):
        Story(runtime.orgs, runtime.story_config()).run()
        keys = {}
        for name, org in runtime.orgs.items():
            keys[name] = tmp / f"{name}.pem"
            keys[name].write_bytes(org.key.to_pem())
        yield {"profiles": runtime.profiles, "keys": keys, "tmp": tmp}


def run(net: dict[str, Any], org: str, *args: str) -> Any:
    return CliRunner().invoke(cli, [args[0], "--profile", str(net["profiles"][org]), *args[1:]])


def _file(net: dict[str, Any], name: str, data: bytes) -> str:
    path = net["tmp"] / name
    path.write_bytes(data)
    return str(path)


def _count(net: dict[str, Any]) -> int:
    result = run(net, "Regulator", "records", "--json", "query", "equipment", "32010002")
    assert result.exit_code == 0, result.output
    return len(json.loads(result.stdout)["records"])


def test_records_submit_get_query_l1(net: dict[str, Any]) -> None:
    payload = dict(demo_payloads()["equipment"], ID="EQ-32010002", regNo="32010002")
    common = ["--category", "equipment", "--equipment", "32010002", "--stage", "production", "--grade", "L1",
              "--key", str(net["keys"]["Manufacturer"])]
    bad = _file(net, "bad.json", json.dumps(dict(payload, equipmentKind="rocket")).encode())
    before = _count(net)
    result = run(net, "Manufacturer", "records", "submit", "--record-id", "EQ-32010002", "--payload", bad, *common)
    assert result.exit_code == 1 and "$.equipmentKind" in result.output and _count(net) == before
    good = _file(net, "eq.json", json.dumps(payload).encode())
    result = run(net, "Manufacturer", "records", "submit", "--record-id", "EQ-32010002", "--payload", good, *common)
    assert result.exit_code == 0, result.output
    assert "placement: world_state" in result.output
    result = run(net, "Maintenance", "records", "--json", "get", "EQ-32010002")
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert view["verified"] == "ok" and view["payload"] == payload
    result = run(net, "UsingUnit", "records", "query", "equipment", "32010002")
    assert result.exit_code == 0, result.output
    row = next(line.split() for line in result.output.splitlines() if line.startswith("EQ-32010002"))
    assert row == ["EQ-32010002", "1", "equipment", "L1", "ManufacturerMSP", "payload", "yes"]


def test_records_l3_and_l4(net: dict[str, Any]) -> None:
    danger = dict(demo_payloads()["hidden_danger"], ID="HD-CLI-1")
    result = run(net, "UsingUnit", "records", "submit", "--record-id", "HD-CLI-1", "--category", "hidden_danger",
                 "--equipment", "32010001", "--stage", "use", "--grade", "L3", "--key", str(net["keys"]["UsingUnit"]),
                 "--payload", _file(net, "hd.json", json.dumps(danger).encode()))
    assert result.exit_code == 0, result.output
    result = run(net, "Regulator", "records", "--json", "get", "HD-CLI-1", "--key", str(net["keys"]["Regulator"]))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["payload"] == danger
    original = _file(net, "report.pdf", b"%PDF-1.7 cli report")
    result = run(net, "Inspection", "records", "submit", "--record-id", "IR-CLI-1", "--category", "inspection_report",
                 "--equipment", "32010001", "--stage", "inspection", "--grade", "L4",
                 "--key", str(net["keys"]["Inspection"]), "--original", original)
    assert result.exit_code == 0 and "placement: off_chain" in result.output, result.output
    assert run(net, "Regulator", "records", "get", "IR-CLI-1", "--original", original).exit_code == 0
    forged = _file(net, "forged.pdf", b"%PDF-1.7 cli report!")
    result = run(net, "Regulator", "records", "get", "IR-CLI-1", "--original", forged)
    assert result.exit_code == 1 and "does not match the on-chain digest" in result.output


def test_audit_history_timeline_verify(net: dict[str, Any]) -> None:
    result = run(net, "Regulator", "audit", "history", EQ)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split()[:2] == ["version", "op"] and [ln.split()[0] for ln in lines[2:5]] == ["v1", "v2", "v3"]
    assert lines[-1] == "verified: the SM2 signature and SM3 digest of all 3 version(s) hold"
    an_hour_ago = dt.datetime.fromtimestamp(time.time() - 3600, dt.timezone.utc).isoformat(timespec="seconds")
    result = run(net, "Maintenance", "audit", "--json", "timeline", "--from", an_hour_ago)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows and all(isinstance(r["block"], int) for r in rows) and rows[0]["kind"] == "bootstrap"
    result = run(net, "Regulator", "audit", "verify", "--key", str(net["keys"]["Regulator"]))
    assert result.exit_code == 0, result.output
    assert "everything holds." in result.output and "MISMATCH" not in result.output
    result = run(net, "Regulator", "audit", "verify", "--record", "NO-SUCH")
    assert result.exit_code == 1 and "NO-SUCH" in result.output


def test_audit_verify_writes_reports_people_keep(net: dict[str, Any]) -> None:
    """--out report.json / .html / .pdf: what was verified, the timeline with accesses; another suffix is
    refused in one line and nothing is written."""
    from pypdf import PdfReader

    out = {suffix: net["tmp"] / f"report{suffix}" for suffix in (".json", ".html", ".pdf")}
    for path in out.values():
        result = run(net, "Regulator", "audit", "verify", "--out", str(path))
        assert result.exit_code == 0 and f"report written to {path}" in result.output, result.output
    data = json.loads(out[".json"].read_text(encoding="utf-8"))
    assert data["ok"] is True and data["channel"] == "qcchannel" and data["summary"][0].endswith("everything holds.")
    kinds = {row["kind"] for row in data["timeline"]}
    assert {"bootstrap", "access"} <= kinds, kinds
    assert data["timeline"][0]["time"].endswith("+08:00")
    page = out[".html"].read_text(encoding="utf-8")
    assert "<h2>Timeline</h2>" in page and "everything holds" in page
    assert out[".pdf"].read_bytes().startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(str(out[".pdf"])).pages)
    assert "qcchain audit report - channel qcchannel" in text and "everything holds" in text
    assert "Timeline" in text and data["timeline"][-1]["tx_id"][:12] in text.replace("\n", "")
    bad = net["tmp"] / "report.docx"
    result = run(net, "Regulator", "audit", "verify", "--out", str(bad))
    assert result.exit_code == 1 and "the report is written as .json, .html or .pdf" in result.output
    assert len(result.output.strip().splitlines()[-1:]) == 1 and not bad.exists()


def test_commands_need_a_profile_and_a_sane_range() -> None:
    result = CliRunner().invoke(cli, ["audit", "timeline"])
    assert result.exit_code == 1 and "--profile is required" in result.output
    result = CliRunner().invoke(cli, ["records", "get", "X"])
    assert result.exit_code == 1 and "--profile is required" in result.output


def test_bench_tx_records_workload() -> None:
    result = CliRunner().invoke(cli, ["bench", "tx", "--workload", "records", "-n", "20", "-c", "4",
                                      "--evaluations", "5", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["workload"] == "records" and figures["committed"] == 20 and figures["failed"] == 0
    assert figures["tx_per_s"] > 0 and figures["evaluations"] == 5 and figures["submit_latency_ms"]["p95"] > 0


def test_verify_read_checks_the_key_owner_and_only_404_means_unregistered(monkeypatch: pytest.MonkeyPatch) -> None:
    """``records get/query`` re-verification: another org's (valid) key is a mismatch, a 404 on ``keys:get``
    is "not registered", and any other read failure is an error, not a finding."""
    import grpc

    from qcchain_cli import records as records_cli
    from qcchain_cli.errors import CliError
    from qcchain_core.gm import SM2PrivateKey
    from qcchain_sdk.contracts.records import build_record
    from qcchain_gateway.errors import ErrorDetail, EvaluateError, stage_error_type

    key = SM2PrivateKey.generate()
    built = build_record(record_id="EQ-9", category="equipment", equipment_code="32010009", stage="production",
                         owner_msp="ManufacturerMSP", grade="L1", signing_key=key, payload={"ID": "EQ-9"})
    view = {**built.envelope, "signature": built.signature, "payload": built.payload}
    record = {"key_id": key.public_key().key_id(), "public_key_pem": key.public_key().to_pem().decode(), "msp_id": "X"}

    class Keys:
        def __init__(self, answer: Any) -> None:
            self.answer = answer

        def evaluate_transaction(self, fn: str, *args: Any) -> bytes:
            assert fn == "keys:get" and args == (view["key_id"],)
            if isinstance(self.answer, Exception):
                raise self.answer
            return json.dumps(self.answer).encode()

    def failure(status: int) -> EvaluateError:
        text = f"evaluate call to endorser returned error: chaincode response {status}, no"
        details = [ErrorDetail("peer0", "M", text)]
        return stage_error_type(EvaluateError, "failed", details)("failed", grpc.StatusCode.UNKNOWN, details)

    def verify(answer: Any) -> list[str]:
        monkeypatch.setattr(records_cli, "connect_contract", lambda ctx: Keys(answer))
        return records_cli.verify_read(None, view)  # type: ignore[arg-type]

    assert verify(dict(record, msp_id="ManufacturerMSP")) == []
    assert verify(dict(record, msp_id="UsingUnitMSP")) == [
        "EQ-9 v1: signing key is not the owner's (it is registered to UsingUnitMSP, the record is ManufacturerMSP's)"]
    assert verify(failure(404)) == [f"SM2 key {view['key_id'][:16]}... is not registered on chain"]
    with pytest.raises(CliError, match="^status 500: no$"):
        verify(failure(500))
