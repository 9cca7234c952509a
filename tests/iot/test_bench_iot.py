"""``qcchain bench iot --json`` against our own Mosquitto: one JSON object with the issue's fields, every
acknowledged reading stored."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qcchain_cli.bench_iot import iot
from qcchain_iot.mosquitto import find_mosquitto


def test_bench_iot_mosquitto_json() -> None:
    if not find_mosquitto():
        pytest.skip("mosquitto is not installed")
    out = CliRunner().invoke(iot, ["--devices", "2", "--readings", "300", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output.strip().splitlines()[-1])
    assert {"readings_per_s", "readings_sent", "readings_stored", "readings_lost", "warning_latency_ms",
            "broker"} <= set(result)
    assert result["readings_sent"] == 600 and result["readings_stored"] == 600 and result["readings_lost"] == 0
    assert result["readings_per_s"] > 0 and result["warning_latency_ms"]["p50"] is not None
    assert result["warning_latency_scope"].endswith("committed on chain (devnet, Gateway submit)")
    assert result["warnings"] > 0 and result["warnings_pending"] == 0


def test_bench_iot_refuses_a_bad_broker() -> None:
    out = CliRunner().invoke(iot, ["--broker", "http://x", "--json"])
    assert out.exit_code == 1 and "--broker must be" in out.output
