"""Faults on the real network (issue 5 evidence): an orderer crash during submits loses no acknowledged
transaction (raft x3), a restarted peer catches up, a chaincode server restart is survived by the next
transaction."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from qcchain_network import admin, cclifecycle, procs, runner

FabricNet = Any  # the ``fabric`` fixture's object (tests/integration/conftest.py)
HERE = Path(__file__).resolve().parent

pytestmark = [pytest.mark.fabric, pytest.mark.slow]


def _kv(gw: Any) -> Any:
    return gw.get_network("qcchannel").get_contract("qcchain", "kv")


def test_orderer_crash_loses_no_acknowledged_transaction(fabric: FabricNet) -> None:
    layout = fabric.layout
    assert len(layout.orderers) >= 3, "needs a raft set of 3"
    acked: list[tuple[float, str]] = []
    failures: list[str] = []
    stop = threading.Event()

    def submitter() -> None:
        with fabric.gateway() as gw:
            kv = _kv(gw)
            i = 0
            while not stop.is_set():
                key = f"raft-{i}"
                i += 1
                try:
                    kv.submit_transaction("put", key, "v")
                    acked.append((time.monotonic(), key))
                except Exception as exc:  # noqa: BLE001 - unacknowledged: allowed to be lost
                    failures.append(type(exc).__name__)

    worker = threading.Thread(target=submitter)
    worker.start()
    time.sleep(1.5)
    crashed_at = time.monotonic()
    victim = layout.orderers[0].host
    runner.stop_node(layout, victim)
    time.sleep(8)
    stop.set()
    worker.join(timeout=60)
    runner.start_node(layout, victim)
    after = [k for t, k in acked if t > crashed_at]
    fabric.timings["orderer crash: submits acked before / after the stop, failed"] = (
        f"{len(acked) - len(after)} / {len(after)}, {len(failures)}")
    assert after, f"no transaction acknowledged after {victim} stopped ({len(failures)} failures)"
    with fabric.gateway() as gw:
        kv = _kv(gw)
        missing = [k for _, k in acked if kv.evaluate_transaction("get", k) != b"v"]
    assert not missing, f"acknowledged but lost: {missing}"


def _height(fabric: FabricNet, peer: Any) -> int:
    org = fabric.layout.consortium.org(peer.org)
    text = admin.run_tool([str(fabric.peer_bin), "channel", "getinfo", "-c", "qcchannel"],
                          env=admin.admin_env(fabric.layout, org, peer))
    return int(json.loads(text[text.index("{"):])["height"])


def test_restarted_peer_catches_up(fabric: FabricNet) -> None:
    layout = fabric.layout
    peers = layout.peers_of("Inspection")
    assert len(peers) >= 2, "needs a second Inspection peer"
    victim, reference = peers[1], peers[0]
    runner.stop_node(layout, victim.host)
    with fabric.gateway() as gw:
        for i in range(3):
            _kv(gw).submit_transaction("put", f"while-down-{i}", "v")
    target = _height(fabric, reference)
    t0 = time.monotonic()
    runner.start_node(layout, victim.host)
    while _height(fabric, victim) < target:
        assert time.monotonic() - t0 < 60, "restarted peer did not catch up within 60 s"
        time.sleep(0.5)
    fabric.timings["restarted peer caught up"] = time.monotonic() - t0


def test_chaincode_server_restart_survived_by_next_transaction(fabric: FabricNet) -> None:
    layout = fabric.layout
    pkg = cclifecycle.package(layout.out / "packages", "qcchain_1.0", f"127.0.0.1:{layout.chaincode_ports['qcchain']}")
    old = procs.stop_one(layout.out, f"chaincode-{pkg.label}")
    proc = cclifecycle.start_server(layout, pkg, [sys.executable, str(HERE / "probe_cc.py")])
    procs.wait_listening("127.0.0.1", layout.chaincode_ports["qcchain"], proc)
    fabric.chaincode_logs.append(Path(proc.log_file))
    assert proc.pid != old.pid
    t0 = time.monotonic()
    with fabric.gateway() as gw:
        assert _kv(gw).submit_transaction("put", "after-cc-restart", "v") == b"created"
    fabric.timings["first submit after chaincode server restart"] = time.monotonic() - t0
