"""``qcchain demo`` through click's CliRunner: the whole story on a fresh devnet, and its failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from qcchain_cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


def test_demo_runs_every_step_and_stops_the_devnet(tmp_path: Path) -> None:
    state, report = tmp_path / "state", tmp_path / "demo-report.json"
    result = CliRunner().invoke(cli, ["demo", "--dir", str(state), "--report", str(report)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "DEVELOPMENT RUNTIME" in out and "demo: all 30 steps held" in out and "inclusion proof" in out
    for needle in ("L4: SM3 digest", "L3: SM4-GCM", "refused", "upgraded to v2", "peer lifecycle",
                   "destroyed", "sharing.grant", "read IR-32010001-1 for maintenance", "all hold"):
        assert needle in out, needle
    assert "MISMATCH" not in out
    assert "devnet stopped" in out and not (state / "devnet.pid").exists()
    # --report: the auditor's report of the whole run, taken after the ingestion and warning steps
    data = json.loads(report.read_text(encoding="utf-8"))
    assert f"written to {report}" in out and data["ok"] is True and data["read_as"] == "Regulator"
    kinds = {row["kind"] for row in data["timeline"]}
    assert {"bootstrap", "access", "ingest_batch", "warning_closed"} <= kinds, sorted(kinds)


def test_demo_refuses_a_report_it_could_not_write_before_running(tmp_path: Path) -> None:
    for bad, reason in ((tmp_path / "r.docx", "written as .json, .html or .pdf"),
                        (tmp_path / "no" / "r.html", "does not exist")):
        result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "state"), "--report", str(bad)])
        assert result.exit_code == 1 and reason in result.output and "runtime:" not in result.output
        assert not (tmp_path / "state").exists()


def test_demo_refuses_a_dirty_state_dir(tmp_path: Path) -> None:
    (tmp_path / "leftover").write_text("x")
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "not empty" in result.output and "clean state" in result.output


def test_demo_names_the_step_that_did_not_hold(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    gov = yaml.safe_load((policies / "governance.yaml").read_text())
    gov["operations"]["freeze"] = {"rule": "ALL"}  # freeze by the regulator alone no longer passes
    (policies / "governance.yaml").write_text(yaml.safe_dump(gov))
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "state"), "--policies", str(policies)])
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("qcchain: error: demo failed: step 'freeze':") and "under threshold" in last
    assert "devnet stopped" in result.output


def test_demo_profiles_mode_needs_the_package_digest(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--profiles", str(tmp_path)])
    assert result.exit_code == 1 and "--package-digest" in result.output


def test_demo_fabric_says_why_it_cannot_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FABRIC_BIN", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(cli, ["demo", "--fabric"])
    assert result.exit_code == 1 and "--fabric needs Hyperledger Fabric binaries" in result.output


def test_demo_fabric_keep_leaves_the_org_keys_and_names_the_bench_command(tmp_path: Path) -> None:
    """``demo --fabric --keep``: each org admin's registered SM2 key is left as OUT/keys/<org>.pem (0600) and
    the ingestion benchmark's command on the kept network is printed (run in the closing note on Fabric)."""
    from types import SimpleNamespace

    from qcchain_cli.demo import _keep_keys
    from qcchain_core.gm import SM2PrivateKey

    keys = {name: SM2PrivateKey.generate() for name in ("Regulator", "UsingUnit")}
    story = SimpleNamespace(orgs={name: SimpleNamespace(key=key) for name, key in keys.items()})
    lines: list[str] = []
    _keep_keys(tmp_path, story, lines.append)
    for name, key in keys.items():
        path = tmp_path / "keys" / f"{name.lower()}.pem"
        assert SM2PrivateKey.from_pem(path.read_bytes()).public_key().key_id() == key.public_key().key_id()
        assert path.stat().st_mode & 0o777 == 0o600
    assert lines[-1].strip() == (f"qcchain bench ingest --profile {tmp_path}/connection-profiles/connection-regulator.json "
                                 f"--key {tmp_path}/keys/regulator.pem --duration 60 --json")
