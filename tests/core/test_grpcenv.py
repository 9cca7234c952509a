"""The gRPC settings helper sets GRPC_EXPERIMENTS only where it was measured and never over the user's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from qcchain_core import grpcenv


def test_sets_only_when_unset_enabled_and_measured(monkeypatch) -> None:
    monkeypatch.setattr(grpcenv, "_grpcio_version", lambda: (1, 85))
    env: dict[str, str] = {}
    assert grpcenv.apply_grpc_tuning(env) and env["GRPC_EXPERIMENTS"] == grpcenv.EXPERIMENTS
    mine = {"GRPC_EXPERIMENTS": "-foo"}
    assert not grpcenv.apply_grpc_tuning(mine) and mine == {"GRPC_EXPERIMENTS": "-foo"}
    off = {"QCCHAIN_GRPC_TUNING": "0"}
    assert not grpcenv.apply_grpc_tuning(off) and "GRPC_EXPERIMENTS" not in off
    for version in ((1, 79), (1, 90), None):
        monkeypatch.setattr(grpcenv, "_grpcio_version", lambda v=version: v)
        other: dict[str, str] = {}
        assert not grpcenv.apply_grpc_tuning(other) and other == {}


def test_the_installed_grpcio_knows_the_experiments() -> None:
    """gRPC logs 'Unknown experiment' for a name it does not know: the tuned names must be silent."""
    env: dict[str, str] = {}
    if not grpcenv.apply_grpc_tuning(env):
        pytest.skip("the installed grpcio is outside the measured range: the helper sets nothing")
    code = "import grpc; grpc.insecure_channel('127.0.0.1:9').close()"
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60, check=True)
    assert "Unknown experiment" not in done.stderr
