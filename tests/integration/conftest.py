"""Session fixture: a real Fabric v3.1 network brought up natively by ``scripts/network.sh``.

Needs Fabric binaries (peer, orderer, configtxgen, cryptogen, osnadmin) in ``FABRIC_BIN`` or on ``PATH``,
and Fabric's base config (``FABRIC_CFG_PATH`` or ``<bin>/../config``); otherwise every test here is
skipped with a message saying so. The network is the small consortium of ``small-consortium.yaml`` (two
orgs, raft x3, channel ``qcchannel``) with chaincodes ``qcchain`` and ``callee`` served as
CCaaS by ``probe_cc.py`` (the project's example contract plus probes).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from qcchain_network import cclifecycle, procs
from qcchain_network.binaries import FABRIC_TOOLS, base_config_dir, find_binary
from qcchain_network.derive import Layout
from qcchain_network.netdir import load_layout
from qcchain_network.errors import BinaryNotFound

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CONSORTIUM = HERE / "small-consortium.yaml"
TIMINGS: dict[str, float | str] = {}


@dataclass
class FabricNet:
    """The running network: its layout, connection profiles and chaincode logs."""

    layout: Layout
    peer_bin: Path
    profiles: dict[str, Path]
    chaincode_logs: list[Path] = field(default_factory=list)
    timings: dict[str, float | str] = field(default_factory=lambda: TIMINGS)

    def gateway(self, org: str = "Inspection", user: str = "Admin") -> Any:
        """A Gateway connected as ``user`` of ``org``."""
        from qcchain_gateway.profile import connect_profile

        return connect_profile(self.profiles[org], user=user)


def _binaries_or_skip() -> Path:
    try:
        bins = {name: find_binary(name) for name in FABRIC_TOOLS}
        base_config_dir(bins["peer"])
    except BinaryNotFound as exc:
        pytest.skip(f"real-Fabric integration tests skipped: {exc}")
    return bins["peer"]


def _wait_chaincode(net: FabricNet, timeout: float = 60.0) -> float:
    """Submit until the gateway can endorse on both orgs (discovery knows the chaincode)."""
    t0 = time.monotonic()
    last: Exception | None = None
    with net.gateway() as gw:
        contract = gw.get_network("qcchannel").get_contract("qcchain", "kv")
        while time.monotonic() - t0 < timeout:
            try:
                contract.submit_transaction("put", "warmup", "1")
                return time.monotonic() - t0
            except Exception as exc:  # noqa: BLE001 - retried until the deadline, then reported
                last = exc
                time.sleep(0.5)
    raise RuntimeError(f"chaincode not usable through the gateway after {timeout:.0f}s: {last}")


@pytest.fixture(scope="session")
def fabric_binaries() -> Path:
    """The ``peer`` binary (all Fabric tools found), or skip naming FABRIC_BIN and PATH."""
    return _binaries_or_skip()


@pytest.fixture(scope="session")
def fabric_timings() -> dict[str, float | str]:
    """The table of measured figures printed at the end of the run."""
    return TIMINGS


@pytest.fixture(scope="session")
def fabric(tmp_path_factory: pytest.TempPathFactory, fabric_binaries: Path) -> Iterator[FabricNet]:
    """Bring the small network up, deploy the test chaincodes, yield, take everything down."""
    peer_bin = fabric_binaries
    out = tmp_path_factory.mktemp("fabric") / "net"
    script = str(ROOT / "scripts" / "network.sh")
    env = {**os.environ, "QCCHAIN_PYTHON": sys.executable}
    t0 = time.monotonic()
    up = subprocess.run([script, "up", "--consortium", str(CONSORTIUM), "--dir", str(out)], env=env,
                        capture_output=True, text=True, timeout=180, check=False)
    TIMINGS["network up (network.sh up)"] = time.monotonic() - t0
    if up.returncode != 0:
        pytest.fail(f"network.sh up failed: {up.stderr.strip()}")
    try:
        layout = load_layout(CONSORTIUM, out)
        net = FabricNet(layout, peer_bin, {o.name: layout.profile_file(o) for o in layout.consortium.orgs})
        t1 = time.monotonic()
        channel = layout.consortium.channels[0]
        for cc in ("qcchain", "callee"):
            pkg = cclifecycle.package(out / "packages", f"{cc}_1.0", f"127.0.0.1:{layout.chaincode_ports[cc]}")
            proc = cclifecycle.start_server(layout, pkg, [sys.executable, str(HERE / "probe_cc.py")])
            net.chaincode_logs.append(Path(proc.log_file))
            cclifecycle.deploy(layout, peer_bin, channel, cc, pkg)
        TIMINGS["deploy 2 chaincodes (package+install+approve x2+commit)"] = time.monotonic() - t1
        TIMINGS["first submit accepted after deploy"] = _wait_chaincode(net)
        yield net
    finally:
        t2 = time.monotonic()
        subprocess.run([script, "down", "--dir", str(out)], env=env, capture_output=True, timeout=60, check=False)
        TIMINGS["network down"] = time.monotonic() - t2
        leftovers = [p.name for p in procs.read_pids(out) if procs.alive(p.pid)]
        assert not leftovers, f"processes left running: {leftovers}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the measured timings of the integration run."""
    if TIMINGS:
        terminalreporter.section("real Fabric timings")
        for name, value in TIMINGS.items():
            shown = f"{value:8.3f} s" if isinstance(value, float) else str(value)
            terminalreporter.write_line(f"{name:62} {shown}")
