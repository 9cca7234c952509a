"""Runtimes of the scenario suite: the story's org/contract handles on (a) the devnet, always, and
(b) real Fabric when its binaries are found (``FABRIC_BIN`` or ``PATH``): the default consortium
(five orgs, raft x3, five channels) brought up natively once per session with ``qcchain_contracts``
deployed as CCaaS on ``qcchannel`` (:mod:`qcchain_network.demo.storyrunner`). Used by ``conftest.runtime``.

Each runtime lists the features it lacks (``Runtime.lacks``); tests of such a feature are marked xfail
with that reason by :func:`require`, never silently skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from qcchain_model.creditcode import credit_check_char
from qcchain_sdk.contracts.story import StoryConfig, StoryOrg, demo_payloads, orgs_from_profiles

ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "qcchannel"


@dataclass
class Runtime:
    """One runtime with the story's five orgs connected as their Admins (+ User1 gateways on demand)."""

    name: str
    orgs: dict[str, StoryOrg]
    profiles: dict[str, Path]
    digests: tuple[str, str]
    gateways: list[Any] = field(default_factory=list)
    lacks: dict[str, str] = field(default_factory=dict)
    switch_package: Callable[[], None] | None = None  # Fabric: peer lifecycle upgrade to the v2 package

    def qscc(self, org: str = "Regulator") -> Any:
        return self.gateway(org).get_network(CHANNEL).get_contract("qscc")

    def gateway(self, org: str, user: str = "Admin") -> Any:
        from qcchain_gateway.profile import connect_profile

        gw = connect_profile(self.profiles[org], user=user)
        self.gateways.append(gw)
        return gw

    def height(self) -> int:
        """Block height of the channel (qscc GetChainInfo)."""
        from fabric_protos.common import ledger_pb2

        raw = self.qscc().evaluate_transaction("GetChainInfo", CHANNEL)
        return int(ledger_pb2.BlockchainInfo.FromString(raw).height)

    def story_config(self, say: Any = lambda _s: None) -> StoryConfig:
        policies = {n: yaml.safe_load((ROOT / "policies" / f"{n}.yaml").read_text()) for n in ("governance", "grading", "sharing")}
        return StoryConfig(CHANNEL, policies, lambda: int(time.time()), self.digests, demo_payloads(), say=say,
                           qscc=self.qscc())

    def close(self) -> None:
        for gw in self.gateways:
            gw.close()


def require(runtime: Runtime, feature: str) -> None:
    """Mark the running test xfail (with the runtime's reason) if ``runtime`` lacks ``feature``."""
    if feature in runtime.lacks:
        pytest.xfail(f"{runtime.name} lacks {feature}: {runtime.lacks[feature]}")


def _members() -> dict[str, dict[str, str]]:
    from qcchain_consortium.consortium import load_consortium

    return {o.name: {"role": o.role, "credit_code": o.credit_code[:17] + credit_check_char(o.credit_code[:17]),
                     "full_name": o.full_name} for o in load_consortium().orgs}


def _devnet(tmp: Path) -> Iterator[Runtime]:
    from qcchain_devnet.ccservers import package_id
    from qcchain_devnet.daemon import UpOptions, running_devnet

    state = tmp / "devnet"
    with running_devnet(UpOptions(state_dir=state, port=0, chaincode_module="qcchain_contracts")):
        info = json.loads((state / "devnet.json").read_text())
        profiles = {k: Path(v) for k, v in info["connection_profiles"].items()}
        orgs, gateways = orgs_from_profiles(profiles, CHANNEL, _members())
        digests = (info["chaincode_servers"]["qcchain"]["package_id"].rsplit(":", 1)[1],
                   package_id("qcchain", "2.0", "qcchain_contracts").rsplit(":", 1)[1])
        runtime = Runtime("devnet", orgs, profiles, digests, gateways, lacks={
            "peer-lifecycle-upgrade": "the devnet records the governed upgrade (approved version + digest) but has "
                                      "no `peer lifecycle` install/approve/commit to switch the running package"})
        try:
            yield runtime
        finally:
            runtime.close()


def fabric_binaries_or_skip() -> None:
    """Skip (naming FABRIC_BIN and PATH) unless every Fabric binary and Fabric's base config are found."""
    from qcchain_network.binaries import base_config_dir, find_all
    from qcchain_network.errors import BinaryNotFound

    try:
        base_config_dir(find_all()["peer"])
    except BinaryNotFound as exc:
        pytest.skip(f"real-Fabric runtime skipped: {exc}")


def fabric_network(out: Path) -> Iterator[Any]:
    """The default consortium brought up in ``out`` by ``scripts/network.sh up`` with ``qcchain`` deployed
    on qcchannel (a StoryNet); ``scripts/network.sh down`` after, also on failure.

    Raises:
        pytest.fail.Exception: ``network.sh up`` failed (its one-line error is shown).
    """
    from qcchain_network.demo.storyrunner import deploy_story, describe

    env = {**os.environ, "QCCHAIN_PYTHON": sys.executable}
    script = str(ROOT / "scripts" / "network.sh")
    t0 = time.monotonic()
    up = subprocess.run([script, "up", "--dir", str(out)], env=env, capture_output=True, text=True, timeout=180,
                        check=False)
    if up.returncode != 0:
        pytest.fail(f"scripts/network.sh up failed: {up.stderr.strip()}")
    try:
        up_seconds = time.monotonic() - t0
        net = deploy_story(out)
        net.timings = {f"network up (scripts/network.sh up: {describe(net.layout)})": up_seconds, **net.timings}
        yield net
    finally:
        subprocess.run([script, "down", "--dir", str(out)], env=env, capture_output=True, timeout=60, check=False)


def _fabric(net: Any) -> Iterator[Runtime]:
    """The story's orgs on a running StoryNet; each submit returns once every org's peer has its block."""
    from qcchain_network.demo.storyrunner import synced_orgs, upgrade_chaincode

    def switch_package() -> None:
        upgrade_chaincode(net)

    orgs, gateways, _heights = synced_orgs(net.profiles, CHANNEL, _members())
    runtime = Runtime("fabric", orgs, net.profiles, net.digests, gateways, switch_package=switch_package)
    try:
        yield runtime
    finally:
        runtime.close()
