"""``qcchain demo --fabric`` (what ``./scripts/demo.sh --fabric`` runs) as a user runs it: a clear one-line
error without binaries; with them the whole consortium story on a native network it brings up and takes
down -- exit 0 when every step held, exit 1 naming the step when one did not, and in both cases nothing
left running.

The demo's network uses a copy of the default consortium moved to another port range, so it does not
collide with the session's Fabric runtime (``conftest.fabric_story_net``) on the default ports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qcchain_network import procs

ROOT = Path(__file__).resolve().parents[2]
QCCHAIN = str(Path(sys.executable).with_name("qcchain"))
OTHER_BASE_PORT = 17050  # clear of the default (7050), tests/integration (27050, 28050) and ephemeral ports


def _consortium_elsewhere(tmp: Path) -> Path:
    """The default consortium file, unchanged but for its base port (policy paths made absolute)."""
    data = yaml.safe_load((ROOT / "network" / "consortium.yaml").read_text(encoding="utf-8"))
    data["network"]["base_port"] = OTHER_BASE_PORT
    data["policies"] = {k: str((ROOT / "network" / v).resolve()) for k, v in data["policies"].items()}
    path = tmp / "consortium.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _demo(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QCCHAIN, "demo", *args], capture_output=True, text=True, timeout=timeout, check=False,
                          env=env or dict(os.environ), cwd=str(ROOT))


def _left_running(out: Path) -> list[str]:
    return [p.name for p in procs.read_pids(out) if procs.alive(p.pid)]


@pytest.mark.timeout(60)
def test_fabric_demo_without_binaries_fails_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "FABRIC_BIN": str(tmp_path / "no-fabric-here"), "PATH": "/usr/bin:/bin"}
    done = _demo("--fabric", env=env, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "FABRIC_BIN" in lines[0] and "'peer' not found" in lines[0], done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.fabric
@pytest.mark.timeout(240)
def test_fabric_demo_runs_the_story_and_takes_the_network_down(tmp_path: Path) -> None:
    from runtimes import fabric_binaries_or_skip

    fabric_binaries_or_skip()
    out = tmp_path / "net"
    done = _demo("--fabric", "--consortium", str(_consortium_elsewhere(tmp_path)), "--dir", str(out))
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-2000:])
    assert "demo: all 26 steps held" in done.stdout
    assert "inclusion proof against the root its own peer holds" in done.stdout  # the ingestion steps, on Fabric
    assert "whole chaincode upgraded to v2" in done.stdout and "no mismatch" in done.stdout
    assert "time  network up" in done.stdout and "fabric network stopped" in done.stdout
    assert procs.read_pids(out) == [] and _left_running(out) == []


@pytest.mark.fabric
@pytest.mark.timeout(240)
def test_fabric_demo_failing_step_exits_1_and_takes_the_network_down(tmp_path: Path) -> None:
    from runtimes import fabric_binaries_or_skip

    fabric_binaries_or_skip()
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    governance = yaml.safe_load((policies / "governance.yaml").read_text(encoding="utf-8"))
    governance["roles"] = ["regulator"]  # the other members' roles are then refused at bootstrap
    (policies / "governance.yaml").write_text(yaml.safe_dump(governance, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "net"
    done = _demo("--fabric", "--consortium", str(_consortium_elsewhere(tmp_path)), "--dir", str(out),
                 "--policies", str(policies))
    assert done.returncode == 1, done.stdout[-2000:]
    assert done.stderr.strip().startswith("qcchain: error: demo failed: step 'members': "), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert procs.read_pids(out) == [] and _left_running(out) == []
