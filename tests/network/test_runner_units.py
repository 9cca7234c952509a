"""Pieces of the native runner that need no Fabric binaries: binaries lookup, config, processes,
CCaaS builder scripts and packages, and network.sh's one-line errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from qcchain_network import cclifecycle, procs
from qcchain_network.binaries import base_config_dir, find_binary
from qcchain_consortium.consortium import load_consortium
from qcchain_network.derive import derive
from qcchain_network.errors import BinaryNotFound
from qcchain_network.runner import prepare_config

ROOT = Path(__file__).resolve().parents[2]
BUILDER = ROOT / "network" / "builders" / "ccaas" / "bin"


def _fake_fabric(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "fab" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("peer", "orderer", "configtxgen", "cryptogen", "osnadmin"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / name).chmod(0o755)
    cfg = tmp_path / "fab" / "config"
    cfg.mkdir()
    (cfg / "core.yaml").write_text("vm:\n  endpoint: unix:///var/run/docker.sock\nchaincode:\n  mode: net\n")
    (cfg / "orderer.yaml").write_text("General:\n  ListenPort: 7050\n")
    return bin_dir


def test_find_binary_names_both_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("FABRIC_BIN", str(tmp_path / "nowhere"))
    with pytest.raises(BinaryNotFound, match=r"'peer' not found in FABRIC_BIN=.*nowhere nor on PATH"):
        find_binary("peer")
    bin_dir = _fake_fabric(tmp_path)
    monkeypatch.setenv("FABRIC_BIN", str(bin_dir))
    monkeypatch.delenv("FABRIC_CFG_PATH", raising=False)
    assert find_binary("peer") == (bin_dir / "peer").resolve()
    assert base_config_dir(bin_dir / "peer") == bin_dir.parent / "config"


def test_prepare_config_sets_vm_endpoint_and_ccaas_builder(tmp_path: Path) -> None:
    bin_dir = _fake_fabric(tmp_path)
    layout = derive(load_consortium(), tmp_path / "net")
    prepare_config(layout, bin_dir.parent / "config")
    core = yaml.safe_load((tmp_path / "net" / "config" / "core.yaml").read_text())
    assert core["vm"]["endpoint"] == ""
    (builder,) = core["chaincode"]["externalBuilders"]
    assert builder["name"] == "ccaas" and (Path(builder["path"]) / "bin" / "detect").is_file()
    assert core["chaincode"]["mode"] == "net"
    assert (tmp_path / "net" / "config" / "orderer.yaml").is_file()


def test_ccaas_builder_scripts(tmp_path: Path) -> None:
    src, meta, build, release = (tmp_path / d for d in ("src", "meta", "build", "release"))
    for d in (src, meta, build, release):
        d.mkdir()
    (src / "connection.json").write_text('{"address": "127.0.0.1:9999"}')
    (meta / "metadata.json").write_text('{"type": "ccaas", "label": "x"}')
    assert subprocess.run([BUILDER / "detect", src, meta], check=False).returncode == 0
    subprocess.run([BUILDER / "build", src, meta, build], check=True)
    subprocess.run([BUILDER / "release", build, release], check=True)
    assert json.loads((release / "chaincode" / "server" / "connection.json").read_text())["address"] == "127.0.0.1:9999"
    (meta / "metadata.json").write_text('{"type": "golang", "label": "x"}')
    assert subprocess.run([BUILDER / "detect", src, meta], check=False).returncode == 1


def test_package_is_deterministic_ccaas(tmp_path: Path) -> None:
    a = cclifecycle.package(tmp_path / "a", "qcchain_1.0", "127.0.0.1:7130")
    b = cclifecycle.package(tmp_path / "b", "qcchain_1.0", "127.0.0.1:7130")
    c = cclifecycle.package(tmp_path / "c", "qcchain_1.0", "127.0.0.1:7131")
    assert a.package_id == b.package_id != c.package_id
    assert a.package_id.startswith("qcchain_1.0:") and len(a.package_id.split(":")[1]) == 64
    with tarfile.open(a.path) as tar:
        assert sorted(tar.getnames()) == ["code.tar.gz", "metadata.json"]
        assert json.loads(tar.extractfile("metadata.json").read()) == {"type": "ccaas", "label": "qcchain_1.0"}


def test_processes_start_stop_and_ops_log(tmp_path: Path) -> None:
    proc = procs.start(tmp_path, "sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], {},
                       tmp_path / "logs" / "sleeper.log")
    assert procs.alive(proc.pid)
    assert procs.stop_all(tmp_path, timeout=5) == ["sleeper"]
    assert not procs.alive(proc.pid) and procs.read_pids(tmp_path) == []
    ops = [json.loads(line) for line in (tmp_path / "operations.log").read_text().splitlines()]
    assert [(o["op"], o["node"]) for o in ops] == [("start", "sleeper"), ("stop", "sleeper")]


def test_port_in_use_is_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(procs.PortInUse, match=f"127.0.0.1:{port} \\(planned for peer0\\)"):
            procs.check_ports_free("127.0.0.1", [("peer0", port)])


def _network_sh(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / "scripts" / "network.sh"), *args], capture_output=True, text=True,
                          env={**os.environ, "QCCHAIN_PYTHON": sys.executable, **env}, timeout=60, check=False)


def test_network_sh_missing_binary_one_line(tmp_path: Path) -> None:
    done = _network_sh(["up", "--dir", str(tmp_path / "net")], {"FABRIC_BIN": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "network: error: Fabric binary 'peer' not found in FABRIC_BIN=" in done.stderr
    assert not (tmp_path / "net").exists()


def test_network_sh_port_in_use_starts_nothing(tmp_path: Path) -> None:
    bin_dir = _fake_fabric(tmp_path)
    layout = derive(load_consortium(), tmp_path / "net")
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", layout.peers[0].listen))
        except OSError:
            pytest.skip(f"port {layout.peers[0].listen} is already taken on this machine")
        sock.listen()
        done = _network_sh(["up", "--dir", str(tmp_path / "net")], {"FABRIC_BIN": str(bin_dir)})
    assert done.returncode == 1
    assert f"port 127.0.0.1:{layout.peers[0].listen} (planned for peer0.inspection.qcchain.example) is already in use" \
        in done.stderr
    assert not (tmp_path / "net").exists()


def test_network_sh_invalid_consortium_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("name: x\n")
    done = _network_sh(["up", "--consortium", str(bad), "--dir", str(tmp_path / "net")], {})
    assert done.returncode == 1 and done.stderr.startswith("network: error: ")
    assert "\n" not in done.stderr.strip()


def test_network_sh_docker_without_engine(tmp_path: Path) -> None:
    done = _network_sh(["up", "--docker", "--dir", str(tmp_path / "net")], {"PATH": "/usr/bin:/bin"})
    assert done.returncode == 1
    assert "--docker:" in done.stderr and "docker" in done.stderr


def test_network_sh_clean_refuses_foreign_dir(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    done = _network_sh(["clean", "--dir", str(tmp_path)], {})
    assert done.returncode == 1 and "not deleting" in done.stderr
    assert (tmp_path / "precious.txt").exists()


def test_osnadmin_error_status_is_an_error() -> None:
    from qcchain_network.admin import ToolError, _check_osnadmin

    _check_osnadmin('Status: 201\n{\n "name": "qcchannel"\n}\n', "orderer0", "qcchannel")
    bad = 'Status: 400\n{\n\t"error": "cannot join: failed parsing smartbft configuration"\n}\n'
    with pytest.raises(ToolError, match="orderer0 failed: HTTP 400: cannot join: failed parsing smartbft"):
        _check_osnadmin(bad, "orderer0", "qcchannel")
    with pytest.raises(ToolError, match="already exists"):
        _check_osnadmin('Status: 405\n{"error": "cannot join: channel already exists"}', "o", "c")
