"""Generated network files, snapshot-tested (set UPDATE_SNAPSHOTS=1 to rewrite the snapshots)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from click.testing import CliRunner

from qcchain_cli.main import cli
from qcchain_consortium.consortium import load_consortium
from qcchain_network.derive import derive
from qcchain_network.render import rendered_files

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"


def _check_snapshots(name: str, files: dict[Path, str], out: Path) -> None:
    root = SNAPSHOTS / name
    got = {str(p.relative_to(out)): text.replace(str(out), "<OUT>") for p, text in files.items()}
    if UPDATE:
        for rel, text in got.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
    expected = {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}
    assert sorted(got) == sorted(expected), "set of generated files changed (UPDATE_SNAPSHOTS=1 to accept)"
    for rel, text in got.items():
        assert text == expected[rel], f"{rel} differs from its snapshot (UPDATE_SNAPSHOTS=1 to accept)"


def test_default_consortium_snapshot(tmp_path: Path) -> None:
    out = tmp_path / "net"
    _check_snapshots("default", rendered_files(derive(load_consortium(), out), ca=True), out)


def test_bft_configtx_snapshot(tmp_path: Path, edit: Callable[[str, Callable[[Any], None]], Path]) -> None:
    path = edit("network/consortium.yaml", lambda d: d["orderer"].update(consensus="bft", nodes=4))
    out = tmp_path / "net"
    files = rendered_files(derive(load_consortium(path), out))
    configtx = {p: t for p, t in files.items() if p.name == "configtx.yaml"}
    _check_snapshots("bft", configtx, out)


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    layout = derive(load_consortium(), tmp_path)
    assert rendered_files(layout) == rendered_files(derive(load_consortium(), tmp_path))


def test_generated_content_follows_fabric_notes(tmp_path: Path) -> None:
    files = rendered_files(derive(load_consortium(), tmp_path))
    env = files[tmp_path / "env" / "peer0.regulator.qcchain.example.env"]
    for needle in ("CORE_PEER_GOSSIP_RECONNECTINTERVAL='5s'", "CORE_LEDGER_SNAPSHOTS_ROOTDIR=",
                   "CORE_OPERATIONS_LISTENADDRESS='127.0.0.1:", "CORE_PEER_LOCALMSPID='RegulatorMSP'"):
        assert needle in env
    configtx = yaml.safe_load(files[tmp_path / "configtx" / "configtx.yaml"])
    qc = configtx["Profiles"]["qcchannel"]
    assert qc["Application"]["Policies"]["Endorsement"]["Rule"] == "MAJORITY Endorsement"
    assert len(qc["Orderer"]["EtcdRaft"]["Consenters"]) == 3
    assert [o["Name"] for o in configtx["Profiles"]["inspection-channel"]["Application"]["Organizations"]] == [
        "InspectionMSP", "RegulatorMSP"]
    coll = json.loads(files[tmp_path / "collections" / "inspection-channel-qcchain.json"])
    assert coll[0]["policy"] == "OR('InspectionMSP.member', 'RegulatorMSP.member')" and coll[0]["memberOnlyRead"]
    compose = yaml.safe_load(files[tmp_path / "compose" / "compose.yaml"])
    assert {s["image"] for s in compose["services"].values()} == {
        "hyperledger/fabric-orderer:3.1.5", "hyperledger/fabric-peer:3.1.5"}
    ports = [p for n in json.loads(files[tmp_path / "network.json"])["peers"] for p in (n["listen"], n["chaincode"])]
    assert len(ports) == len(set(ports))


def test_cli_generate(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["network", "generate", "--out", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g" / "configtx" / "configtx.yaml").is_file()
    assert "generated 17 files" in result.output


@pytest.mark.parametrize("bad", ["orgs: []\n", "name: [\n"])
def test_cli_generate_bad_input_writes_nothing(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(bad)
    result = CliRunner().invoke(cli, ["network", "generate", "--consortium", str(path), "--out", str(tmp_path / "g")])
    assert result.exit_code == 1
    assert not (tmp_path / "g").exists()
