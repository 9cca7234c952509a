"""`qcchain bench crypto` through click's CliRunner with a tiny --seconds."""

from __future__ import annotations

import json

import click
from click.testing import CliRunner

from qcchain_cli.bench import bench

KEYS = {"sm2_sign_per_s", "sm2_verify_per_s", "sm3_mb_per_s", "sm4_gcm_mb_per_s"}


def test_bench_is_a_group() -> None:
    assert isinstance(bench, click.Group) and bench.name == "bench"
    assert "crypto" in bench.commands


def test_crypto_json_shape() -> None:
    result = CliRunner().invoke(bench, ["crypto", "--json", "--seconds", "0.01", "--no-openssl"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"native", "gmssl", "openssl_speed_sm2"}
    for side in ("native", "gmssl"):
        assert set(data[side]) == KEYS
        assert all(isinstance(v, float) and v > 0 for v in data[side].values())
    assert data["openssl_speed_sm2"] is None
    assert data["native"]["sm3_mb_per_s"] > data["gmssl"]["sm3_mb_per_s"]


def test_crypto_table_and_bad_seconds() -> None:
    result = CliRunner().invoke(bench, ["crypto", "--seconds", "0.01", "--no-openssl"])
    assert result.exit_code == 0, result.output
    assert "sign/s" in result.output and "SM4-GCM MB/s" in result.output
    bad = CliRunner().invoke(bench, ["crypto", "--seconds", "0"])
    assert bad.exit_code != 0 and "--seconds" in bad.output
