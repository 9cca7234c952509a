"""``network validate`` says where relative policy paths were resolved: against the consortium file's
folder, whatever the working directory; a missing policy file names the path as written and as resolved."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from qcchain_cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def _copy(tmp_path: Path, policies: dict[str, str]) -> Path:
    data = yaml.safe_load((ROOT / "network" / "consortium.yaml").read_text(encoding="utf-8"))
    data["policies"] = policies
    (tmp_path / "net").mkdir()
    target = tmp_path / "net" / "consortium.yaml"
    target.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


def test_validate_from_another_folder_names_the_resolved_policy_paths(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pol").mkdir()
    for name in ("endorsement.yaml", "collections.yaml"):
        shutil.copy(ROOT / "policies" / name, tmp_path / "pol" / name)
    _copy(tmp_path, {"endorsement": "../pol/endorsement.yaml", "collections": "../pol/collections.yaml"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(cli, ["network", "validate", "../net/consortium.yaml"])
    assert result.exit_code == 0, result.output
    assert f"resolved against {tmp_path / 'net'}" in result.output
    assert f"endorsement: ../pol/endorsement.yaml -> {tmp_path / 'pol' / 'endorsement.yaml'}" in result.output
    assert f"collections: ../pol/collections.yaml -> {tmp_path / 'pol' / 'collections.yaml'}" in result.output


def test_a_missing_policy_file_names_written_and_resolved_paths(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _copy(tmp_path, {"endorsement": "../policies/endorsement.yaml", "collections": "../policies/collections.yaml"})
    monkeypatch.chdir(ROOT)  # the repository's policies/ is next to the working directory, not to the file
    result = CliRunner().invoke(cli, ["network", "validate", str(tmp_path / "net" / "consortium.yaml")])
    assert result.exit_code == 1
    assert (f"policy file '../policies/endorsement.yaml' not found: resolved against {tmp_path / 'net'} "
            f"(the consortium file's folder) to {tmp_path / 'policies' / 'endorsement.yaml'}") in result.output
    assert "$.policies.collections" in result.output
