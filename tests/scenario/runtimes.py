"""Runtimes of the scenario suite: the story's org/contract handles on (a) the devnet, always, and
(b) real Fabric when its binaries are found (``FABRIC_BIN`` or ``PATH``). Used by ``conftest.runtime``.

Each runtime lists the features it lacks (``Runtime.lacks``); tests of such a feature are marked xfail
with that reason by :func:`require`, never silently skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from qcchain_contracts.governance import credit_check_char
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

    def qscc(self, org: str = "Regulator") -> Any:
        return self.gateway(org).get_network(CHANNEL).get_contract("qscc")

    def gateway(self, org: str, user: str = "Admin") -> Any:
        from qcchain_sdk.profile import connect_profile

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
    from qcchain_network.consortium import load_consortium

    return {o.name: {"role": o.role, "credit_code": o.credit_code[:17] + credit_check_char(o.credit_code[:17]),
                     "full_name": o.full_name} for o in load_consortium().orgs}


def _devnet(tmp: Path) -> Iterator[Runtime]:
    from qcchain_devnet.daemon import UpOptions, package_id, running_devnet

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


def _fabric_or_skip() -> None:
    from qcchain_network.binaries import FABRIC_TOOLS, find_binary
    from qcchain_network.errors import BinaryNotFound

    try:
        for name in FABRIC_TOOLS:
            find_binary(name)
    except BinaryNotFound as exc:
        pytest.skip(f"real-Fabric runtime skipped: {exc}")
    pytest.skip("real-Fabric runtime skipped: tests/integration/conftest.py brings up a two-org network with the "
                "probe chaincode only; it cannot provide the five-org consortium serving qcchain_contracts yet")
