"""``qcchain network add-org | remove-org | add-channel | join-channel``: argument errors are one line,
exit 1 (or click's usage error, exit 2), and nothing is written (issue 18). The Fabric side is in
tests/integration/test_fabric_orgs.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from qcchain_cli.main import cli

ORG = {"org": {"name": "Inspection2", "msp_id": "Inspection2MSP", "role": "inspection_body",
               "domain": "inspection2.qcchain.example", "peers": 1, "full_name": "Second Inspection Institute",
               "credit_code": "12100000400022657P"}}


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["network", *args])
    return result.exit_code, result.output


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    org_file = tmp_path / "org.yaml"
    org_file.write_text(yaml.safe_dump(ORG))
    material = tmp_path / "public"
    material.mkdir()
    net = tmp_path / "net"
    net.mkdir()
    return org_file, material, net


def _one_line_error(code: int, out: str, words: str) -> None:
    assert code == 1, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("qcchain: error:") and words in lines[0], out


def test_commands_listed() -> None:
    code, out = _run("--help")
    assert code == 0 and all(c in out for c in ("add-org", "remove-org", "add-channel", "join-channel"))


def test_signing_mode_required_and_exclusive(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    org_file, material, net = files
    code, out = _run("add-org", str(org_file), "--material", str(material), "--dir", str(net))
    _one_line_error(code, out, "exactly one of --propose-updates DIR, --execute DIR")
    code, out = _run("add-org", str(org_file), "--material", str(material), "--dir", str(net),
                     "--sign-with-test-admins", "--propose-updates", str(tmp_path / "u"))
    _one_line_error(code, out, "exactly one of")
    code, out = _run("remove-org", "Inspection2MSP", "--dir", str(net), "--execute", str(tmp_path / "missing"))
    _one_line_error(code, out, "no such update directory")
    code, out = _run("join-channel", "qcchannel", "--org", "Inspection", "--dir", str(net))
    _one_line_error(code, out, "exactly one of")
    assert list(net.iterdir()) == [] and not (tmp_path / "u").exists()


def test_no_network_in_dir(files: tuple[Path, Path, Path]) -> None:
    org_file, material, net = files
    code, out = _run("add-org", str(org_file), "--material", str(material), "--dir", str(net),
                     "--sign-with-test-admins")
    _one_line_error(code, out, "holds no network")
    code, out = _run("add-channel", "qc2", "--member", "Regulator", "--member", "Inspection", "--dir", str(net))
    _one_line_error(code, out, "holds no network")
    assert list(net.iterdir()) == []


def test_add_channel_arguments(files: tuple[Path, Path, Path]) -> None:
    _, _, net = files
    code, out = _run("add-channel", "qc2", "--member", "Regulator", "--dir", str(net))
    _one_line_error(code, out, "two or more --member")
    code, out = _run("add-channel", "qc2", "--dir", str(net))
    assert code == 2 and "--member" in out


def test_bad_org_file_and_material(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, material, net = files
    (net / "crypto").mkdir()  # looks like a network: the org file is read next
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"org": {**ORG["org"], "role": "king"}}))
    code, out = _run("add-org", str(bad), "--material", str(material), "--dir", str(net), "--sign-with-test-admins")
    _one_line_error(code, out, "org.role")
    code, out = _run("add-org", str(bad), "--material", str(tmp_path / "nope"), "--dir", str(net),
                     "--sign-with-test-admins")
    assert code == 2 and "--material" in out
    assert sorted(p.name for p in net.iterdir()) == ["crypto"]
