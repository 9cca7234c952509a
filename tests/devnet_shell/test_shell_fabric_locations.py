"""``qcchain_network.binaries`` takes the Fabric locations as parameters (entry points read the environment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcchain_network.binaries import FabricLocations, base_config_dir, find_all, find_binary
from qcchain_network.errors import BinaryNotFound


def _tool(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / name
    tool.write_text("#!/bin/sh\n", encoding="ascii")
    tool.chmod(0o755)
    return tool


def test_explicit_locations_win_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FABRIC_BIN", str(tmp_path / "env-bin"))
    monkeypatch.setenv("FABRIC_CFG_PATH", str(tmp_path / "env-cfg"))
    _tool(tmp_path / "env-bin", "peer")
    mine = _tool(tmp_path / "bin", "peer")
    where = FabricLocations(fabric_bin=str(tmp_path / "bin"), search_path="")
    assert find_binary("peer", where=where) == mine.resolve()
    assert find_all(("peer",), where=where) == {"peer": mine.resolve()}
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    for name in ("core.yaml", "orderer.yaml"):
        (cfg / name).write_text("x", encoding="ascii")
    assert base_config_dir(mine, FabricLocations(cfg_path=str(cfg))) == cfg


def test_search_path_is_a_parameter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    on_path = _tool(tmp_path / "p", "osnadmin")
    assert find_binary("osnadmin", where=FabricLocations(search_path=str(tmp_path / "p"))) == on_path.resolve()
    with pytest.raises(BinaryNotFound, match="'osnadmin' not found in FABRIC_BIN \\(unset\\) nor on PATH"):
        find_binary("osnadmin", where=FabricLocations(search_path=str(tmp_path / "empty")))


def test_from_environ_reads_the_given_mapping() -> None:
    where = FabricLocations.from_environ({"FABRIC_BIN": "/b", "PATH": "/p", "FABRIC_CFG_PATH": "/c"})
    assert where == FabricLocations("/b", "/p", "/c")
