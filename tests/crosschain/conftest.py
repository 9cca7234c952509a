"""Two devnets with separate crypto material (own CAs, generated per state dir) and different org names:
A = the project's consortium, B = the same shape renamed (``Pk*`` orgs, ``park.example`` domains). On each
the story's first steps run (members, SM2 keys, deploy); A also registers equipment EQ (L1)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from qcchain_model.creditcode import credit_check_char
from qcchain_sdk.contracts.story import ORG_NAMES, Story, StoryConfig, demo_payloads, orgs_from_profiles

ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "qcchannel"
_ORG = re.compile(r"\b(" + "|".join(ORG_NAMES) + r")")


@dataclass
class Chain:
    name: str
    story: Story
    profiles: dict[str, Path]
    gateways: list[Any]
    state: Path

    def net(self, org: str = "Regulator") -> Any:
        return self.story.orgs[org].contract  # contract factory of that org's admin

    def qscc(self) -> Any:
        return self.gateways[ORG_NAMES.index("Regulator")].get_network(CHANNEL).get_contract("qscc")


def _renamed_consortium(tmp: Path) -> Path:
    def rename(text: str) -> str:
        return _ORG.sub(r"Pk\1", text).replace("qcchain.example", "park.example")
    for name in ("endorsement", "collections"):
        (tmp / f"{name}.yaml").write_text(rename((ROOT / "policies" / f"{name}.yaml").read_text()))
    doc = yaml.safe_load(rename((ROOT / "network" / "consortium.yaml").read_text()))
    doc["policies"] = {"endorsement": str(tmp / "endorsement.yaml"), "collections": str(tmp / "collections.yaml")}
    (tmp / "consortium.yaml").write_text(yaml.safe_dump(doc))
    return tmp / "consortium.yaml"


def _members(prefix: str) -> dict[str, dict[str, str]]:
    from qcchain_consortium.consortium import load_consortium

    return {o.name: {"role": o.role, "credit_code": o.credit_code[:17] + credit_check_char(o.credit_code[:17]),
                     "full_name": prefix + o.full_name} for o in load_consortium().orgs}


def _chain(name: str, state: Path, consortium: Path | None) -> Iterator[Chain]:
    from qcchain_devnet.daemon import UpOptions, running_devnet

    with running_devnet(UpOptions(state_dir=state, port=0, chaincode_module="qcchain_contracts", consortium=consortium)):
        info = json.loads((state / "devnet.json").read_text())
        given = {k: Path(v) for k, v in info["connection_profiles"].items()}
        profiles = {n: given[n if consortium is None else f"Pk{n}"] for n in ORG_NAMES}
        orgs, gateways = orgs_from_profiles(profiles, CHANNEL, _members(name))
        policies = {n: yaml.safe_load((ROOT / "policies" / f"{n}.yaml").read_text()) for n in ("governance", "grading", "sharing")}
        digest = info["chaincode_servers"]["qcchain"]["package_id"].rsplit(":", 1)[1]
        story = Story(orgs, StoryConfig(CHANNEL, policies, lambda: int(time.time()), (digest, digest), demo_payloads(),
                                        say=lambda _s: None))
        story.members()
        story.keys()
        story.deploy()
        try:
            yield Chain(name, story, profiles, gateways, state)
        finally:
            for gw in gateways:
                gw.close()


@pytest.fixture(scope="package")
def chain_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """Source chain A (project consortium), with equipment EQ registered."""
    for chain in _chain("A ", tmp_path_factory.mktemp("chainA") / "devnet", None):
        chain.story.equipment()
        yield chain


@pytest.fixture(scope="package")
def chain_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """Receiving chain B (renamed orgs, own CAs)."""
    tmp = tmp_path_factory.mktemp("chainB")
    yield from _chain("B ", tmp / "devnet", _renamed_consortium(tmp))
