"""Benchmark on the real Fabric runtime (REQUIREMENTS H-8): ``qcchain bench tx --profile <connection
profile> --workload records`` against the session's native network, on inspection-channel (endorsed by
InspectionMSP and RegulatorMSP, its policy), with the consortium's default block cutting (200 ms / 10 tx).

Target: p95 single-submit latency <= 0.8 s; every submit committed. The figures are printed at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.fabric, pytest.mark.timeout(240)]

CHANNEL = "inspection-channel"
TRANSACTIONS, CLIENTS = 300, 16
H8_SINGLE_SUBMIT_P95_MS = 800.0


def test_records_bench_meets_h8(fabric_story_net: Any, fabric_figures: dict[str, str]) -> None:
    from qcchain_network.demo.storyrunner import deploy_on

    net = fabric_story_net
    fabric_figures[f"deploy qcchain on {CHANNEL} (approve x2, commit) s"] = f"{deploy_on(net, CHANNEL):.1f}"
    profile = net.profiles["Inspection"]
    qcchain = Path(sys.executable).with_name("qcchain")
    argv = [str(qcchain), "bench", "tx", "--profile", str(profile), "--workload", "records", "--channel", CHANNEL,
            "-n", str(TRANSACTIONS), "-c", str(CLIENTS), "--evaluations", "100", "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=200, check=False, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    sub, one, ev = result["submit_latency_ms"], result["single_submit_latency_ms"], result["evaluate_latency_ms"]
    fabric_figures["bench command"] = " ".join(argv[1:])
    fabric_figures["bench committed / failed"] = f"{result['committed']} / {result['failed']} {result['failures']}"
    fabric_figures["bench tx/s"] = f"{result['tx_per_s']:.1f}"
    fabric_figures["bench submit-to-commit ms p50/p95/p99"] = f"{sub['p50']} / {sub['p95']} / {sub['p99']}"
    fabric_figures["bench single submit ms p50/p95"] = f"{one['p50']} / {one['p95']}"
    fabric_figures["bench evaluate ms p50/p95"] = f"{ev['p50']} / {ev['p95']}"
    assert result["committed"] == TRANSACTIONS and result["failed"] == 0, result["failures"]
    assert one["p95"] <= H8_SINGLE_SUBMIT_P95_MS, f"H-8: single-submit p95 {one['p95']} ms > 800 ms"
