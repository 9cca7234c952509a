"""Shared helpers: a writable copy of the default consortium and its policy files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    """tmp/network/consortium.yaml + tmp/policies/*.yaml copied from the repository."""
    (tmp_path / "network").mkdir()
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copy(ROOT / "network" / "consortium.yaml", tmp_path / "network" / "consortium.yaml")
    return tmp_path


@pytest.fixture()
def edit(workspace: Path) -> Callable[[str, Callable[[Any], None]], Path]:
    """edit(relative file, mutate(data)) rewrites a YAML file of the workspace; returns the consortium path."""

    def _edit(rel: str, mutate: Callable[[Any], None]) -> Path:
        path = workspace / rel
        data = yaml.safe_load(path.read_text())
        mutate(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return workspace / "network" / "consortium.yaml"

    return _edit
