"""``network.sh up --docker``: the Docker mode's orchestration against a FAKE ``docker`` CLI.

There is no Docker engine on the development machine, so ``fake_docker.py`` (first on PATH as ``docker``)
runs each compose service's ``command`` as a native process with the service's ``env_file`` -- refusing
anything a real engine could not run the same way here (no host networking, a bind mount that changes
the path, an image not present). This proves our ``docker compose`` calls, the mode bookkeeping, and the
compose file's contents (commands, env files, mounts); it does not prove the official images themselves.
Needs Fabric binaries (FABRIC_BIN or PATH); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from qcchain_network import procs
from qcchain_network.derive import Layout
from qcchain_network.netdir import load_layout
from smallnet import small_consortium  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPT = str(ROOT / "scripts" / "network.sh")
pytestmark = [pytest.mark.fabric, pytest.mark.slow]
IMAGES = "hyperledger/fabric-orderer:3.1.5,hyperledger/fabric-peer:3.1.5"
PEER1 = "peer1.inspection.qcchain.example"


def _fake_docker(work: Path) -> dict[str, str]:
    """A ``docker`` first on PATH running ``fake_docker.py`` with this interpreter; the env to use."""
    bindir = work / "fakebin"
    bindir.mkdir()
    docker = bindir / "docker"
    docker.write_text(f"#!/bin/sh\nexec {sys.executable} {HERE / 'fake_docker.py'} \"$@\"\n")
    docker.chmod(0o755)
    return {**os.environ, "QCCHAIN_PYTHON": sys.executable, "PATH": f"{bindir}:{os.environ.get('PATH', '')}",
            "FAKE_DOCKER_STATE": str(work / "docker-state"), "FAKE_DOCKER_IMAGES": IMAGES}


def _sh(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _containers(env: dict[str, str]) -> dict[str, int]:
    """Live fake containers: name -> pid."""
    found = {}
    for pid_file in Path(env["FAKE_DOCKER_STATE"]).glob("*/*.pid"):
        pid = int(pid_file.read_text())
        if procs.alive(pid):
            found[pid_file.stem] = pid
    return found


@pytest.fixture(scope="module")
def docker_net(tmp_path_factory: pytest.TempPathFactory, fabric_binaries: Path,
               fabric_timings: dict[str, Any]) -> Iterator[tuple[Layout, dict[str, str], list[str]]]:
    """The small consortium (own ports) up with ``--docker`` and deployed by ``network.sh deploy``."""
    work = tmp_path_factory.mktemp("docker")
    consortium = small_consortium(work, "docker", 33050, credit=True, one_chaincode=True)
    out = work / "net"
    args = ["--consortium", str(consortium), "--dir", str(out)]
    env = _fake_docker(work)
    missing = _sh({**env, "FAKE_DOCKER_IMAGES": ""}, "up", "--docker", *args)
    assert missing.returncode == 1 and "scripts/install-fabric.sh --docker" in missing.stderr, missing.stderr
    assert not out.exists(), "nothing may be written when the images are missing"
    try:
        t0 = time.monotonic()
        up = _sh(env, "up", "--docker", *args)
        fabric_timings["--docker (fake engine) network up"] = time.monotonic() - t0
        assert up.returncode == 0, up.stderr
        t1 = time.monotonic()
        deploy = _sh(env, "deploy", *args)
        assert deploy.returncode == 0, deploy.stderr
        fabric_timings["--docker: deploy qcchain + genesis node admission"] = time.monotonic() - t1
        yield load_layout(consortium, out), env, args
    finally:
        down = _sh(env, "down", "--dir", str(out), timeout=60)
        assert down.returncode == 0, down.stderr
        assert not _containers(env), f"containers left running: {_containers(env)}"
        assert not [p.name for p in procs.read_pids(out) if procs.alive(p.pid)], "processes left running"


def test_nodes_run_as_containers(docker_net: tuple[Layout, dict[str, str], list[str]]) -> None:
    layout, env, args = docker_net
    assert json.loads((layout.out / "mode.json").read_text()) == {"mode": "docker"}
    hosts = {n.host for n in layout.orderers} | {p.host for p in layout.peers}
    assert set(_containers(env)) == hosts
    native = {p.name for p in procs.read_pids(layout.out) if procs.alive(p.pid)}
    assert not native & hosts and native, native  # only the chaincode server runs natively
    status = _sh(env, "status", "--dir", str(layout.out)).stdout
    for host in hosts:
        line = next(ln for ln in status.splitlines() if ln.startswith(host))
        assert "container" in line and line.rstrip().endswith("running"), line
    wrong = _sh(env, "up", *args)
    assert wrong.returncode == 1 and "docker mode; add --docker" in wrong.stderr, wrong.stderr


def test_submit_is_valid(docker_net: tuple[Layout, dict[str, str], list[str]],
                         fabric_timings: dict[str, Any]) -> None:
    from qcchain_core.gm import SM2PrivateKey
    from qcchain_sdk.contracts.governance import GovernanceClient
    from qcchain_gateway.profile import connect_profile

    layout = docker_net[0]
    t0 = time.monotonic()
    with connect_profile(layout.profile_file(layout.consortium.org("Inspection"))) as gw:
        net = gw.get_network("qcchannel")
        client = GovernanceClient(net.get_contract("qcchain", "governance"), net.get_contract("qcchain", "keys"),
                                  gw.identity.msp_id, gw.identity.cert_pem, SM2PrivateKey.generate())
        now = int(time.time())
        client.register_key(now - 60, now + 3600)  # returns once committed VALID, raises otherwise
        assert len(client.nodes()) == 6
    fabric_timings["--docker: submit VALID"] = time.monotonic() - t0


def test_stop_and_start_a_peer_container(docker_net: tuple[Layout, dict[str, str], list[str]]) -> None:
    layout, env, args = docker_net
    stop = _sh(env, "stop-node", PEER1, *args)
    assert stop.returncode == 0, stop.stderr
    assert PEER1 not in _containers(env)
    line = next(ln for ln in _sh(env, "status", *args).stdout.splitlines() if ln.startswith(PEER1))
    assert line.rstrip().endswith("stopped"), line
    assert (layout.out / "logs" / f"{PEER1}.log").stat().st_size > 0  # the container's log, saved on stop
    start = _sh(env, "start-node", PEER1, *args)
    assert start.returncode == 0 and "container" in start.stdout, start.stderr
    assert PEER1 in _containers(env)
    logs = _sh(env, "logs", *args).stdout.split()
    assert str(layout.out / "logs" / f"{PEER1}.log") in logs
    ops = [json.loads(ln) for ln in (layout.out / "operations.log").read_text().splitlines()]
    assert [(o["op"], o.get("container")) for o in ops if o["node"] == PEER1][-2:] == [("stop", PEER1),
                                                                                        ("start", PEER1)]
