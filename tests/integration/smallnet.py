"""The small consortium of ``small-consortium.yaml`` written for one test module: its own ports, absolute
policy paths, and optionally credit codes (for the governance bootstrap), one chaincode or BFT x4."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CREDIT = {"Inspection": ("Special Equipment Inspection and Testing Institute", "12100000400011546Y"),
          "Regulator": ("Special Equipment Safety Supervision Bureau", "11100000000013127D")}


def small_consortium(work: Path, name: str, base_port: int, *, credit: bool = False, one_chaincode: bool = False,
                     bft: bool = False) -> Path:
    """Write ``work/<name>.yaml`` and return its path."""
    data = yaml.safe_load((HERE / "small-consortium.yaml").read_text())
    data["network"]["base_port"] = base_port
    data["policies"] = {k: str((HERE / v).resolve()) for k, v in data["policies"].items()}
    if one_chaincode:
        data["channels"][0]["chaincodes"] = data["channels"][0]["chaincodes"][:1]
    if bft:
        data["orderer"].update(consensus="bft", nodes=4)
    if credit:
        for org in data["orgs"]:
            org["full_name"], org["credit_code"] = CREDIT[org["name"]]
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


SCRIPT = str(HERE.parents[1] / "scripts" / "network.sh")
CHANNEL = "qcchannel"


def network_sh(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``scripts/network.sh ARGS`` with this interpreter (its output captured, never raising on failure)."""
    env = {**os.environ, "QCCHAIN_PYTHON": sys.executable}
    return subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def deployed_network(work: Path, consortium: Path) -> Iterator[list[str]]:
    """Bring the consortium up in ``work/net`` and deploy qcchain; yield the ``--consortium/--dir`` arguments;
    take it down afterwards and fail if a process is left running."""
    from qcchain_network import procs

    args = ["--consortium", str(consortium), "--dir", str(work / "net")]
    try:
        up = network_sh("up", *args)
        assert up.returncode == 0, up.stderr
        deploy = network_sh("deploy", *args)
        assert deploy.returncode == 0, deploy.stderr
        yield args
    finally:
        network_sh("down", "--dir", str(work / "net"), timeout=60)
        left = [p.name for p in procs.read_pids(work / "net") if procs.alive(p.pid)]
        assert not left, f"processes left running: {left}"


def layout_of(args: list[str]) -> Any:
    """The network's layout from its ``--consortium FILE --dir DIR`` arguments."""
    from qcchain_network.netdir import load_layout

    return load_layout(Path(args[1]), Path(args[3]))


def channel_info(layout: Any, peer_bin: Path, host: str) -> dict[str, Any]:
    """``peer channel getinfo`` of qcchannel on peer ``host``."""
    from qcchain_network import recovery, snapshots

    return recovery.channel_info(layout, peer_bin, snapshots.peer_of(layout, host), CHANNEL)


def submit_keys(layout: Any, count: int) -> None:
    """``count`` valid transactions (keys:register of fresh SM2 keys by the first org's admin)."""
    from qcchain_core.gm import SM2PrivateKey
    from qcchain_gateway.profile import connect_profile
    from qcchain_sdk.contracts.governance import GovernanceClient

    with connect_profile(layout.profile_file(layout.consortium.orgs[0])) as gw:
        network = gw.get_network(CHANNEL)
        now = int(time.time())
        for _ in range(count):
            GovernanceClient(network.get_contract("qcchain", "governance"), network.get_contract("qcchain", "keys"),
                             gw.identity.msp_id, gw.identity.cert_pem, SM2PrivateKey.generate()
                             ).register_key(now - 60, now + 3600)
