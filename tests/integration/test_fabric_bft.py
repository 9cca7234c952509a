"""The SmartBFT ordering service (orderer ``consensus: bft``, 4 nodes) on real Fabric: brought up by
``scripts/network.sh``, chaincode deployed, transactions committed, and still committed with one orderer
stopped (f = 1 of 3f + 1)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from qcchain_network import cclifecycle, procs, runner
from qcchain_network.derive import Layout
from qcchain_network.netdir import load_layout
from smallnet import small_consortium  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
pytestmark = [pytest.mark.fabric, pytest.mark.slow]


@pytest.fixture(scope="module")
def bft_net(tmp_path_factory: pytest.TempPathFactory, fabric_binaries: Path,
            fabric_timings: dict[str, Any]) -> Iterator[Layout]:
    """A BFT x4 variant of small-consortium.yaml on its own ports, up for this module only."""
    work = tmp_path_factory.mktemp("bft")
    consortium = small_consortium(work, "bft", 28050, one_chaincode=True, bft=True)
    out = work / "net"
    script = str(ROOT / "scripts" / "network.sh")
    env = {**os.environ, "QCCHAIN_PYTHON": sys.executable}
    t0 = time.monotonic()
    up = subprocess.run([script, "up", "--consortium", str(consortium), "--dir", str(out)], env=env,
                        capture_output=True, text=True, timeout=180, check=False)
    if up.returncode != 0:
        pytest.fail(f"network.sh up (bft) failed: {up.stderr.strip()}")
    fabric_timings["BFT x4 network up (network.sh up)"] = time.monotonic() - t0
    try:
        layout = load_layout(consortium, out)
        pkg = cclifecycle.package(out / "packages", "qcchain_1.0", f"127.0.0.1:{layout.chaincode_ports['qcchain']}")
        cclifecycle.start_server(layout, pkg, [sys.executable, str(HERE / "probe_cc.py")])
        cclifecycle.deploy(layout, fabric_binaries, layout.consortium.channels[0], "qcchain", pkg)
        yield layout
    finally:
        subprocess.run([script, "down", "--dir", str(out)], env=env, capture_output=True, timeout=60, check=False)
        assert not [p for p in procs.read_pids(out) if procs.alive(p.pid)]


def _submit_all(layout: Layout, prefix: str, count: int) -> float:
    from qcchain_gateway.profile import connect_profile

    t0 = time.monotonic()
    with connect_profile(layout.profile_file(layout.consortium.org("Inspection"))) as gw:
        kv = gw.get_network("qcchannel").get_contract("qcchain", "kv")
        deadline = time.monotonic() + 60
        done = 0
        while done < count:
            try:
                assert kv.submit_transaction("put", f"{prefix}-{done}", "v") == b"created"
                done += 1
            except Exception:  # noqa: BLE001 - chaincode discovery right after deploy: retried
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert kv.evaluate_transaction("get", f"{prefix}-{count - 1}") == b"v"
    return (time.monotonic() - t0) / count


def test_bft_orders_and_tolerates_one_stopped_orderer(bft_net: Layout, fabric_timings: dict[str, Any]) -> None:
    fabric_timings["BFT x4: submit mean (all up)"] = _submit_all(bft_net, "bft", 5)
    runner.stop_node(bft_net, bft_net.orderers[3].host)
    fabric_timings["BFT x4: submit mean (1 orderer stopped)"] = _submit_all(bft_net, "bft-f1", 5)
