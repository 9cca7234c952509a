"""The consortium story (``qcchain_sdk.contracts.story``) on a native Fabric network: bring up, deploy,
upgrade, take down.

Used by ``qcchain demo --fabric`` and the scenario suite's Fabric runtime. :func:`story_network` brings the
consortium (default ``network/consortium.yaml``) up with :func:`qcchain_network.runner.up`, starts the
business chaincode server (``python -m qcchain_contracts``) and deploys ``qcchain`` as CCaaS with
Fabric's ``peer lifecycle`` on the story's channel, waits until the gateway can endorse it, and always
stops every process it started. :func:`upgrade_chaincode` switches the running package to a second one
(install, approveformyorg by every member, commit with sequence + 1, new chaincode server).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import cclifecycle, procs, runner
from ..binaries import find_all
from ..consistency import ChannelHeights, SyncedContract, wait_endorsable
from ..derive import DEFAULT_LOG_SPEC, Layout
from ..errors import NetworkError
from ..netdir import load_layout
from ..noderecord import CHAINCODE, GOVERNANCE_CHANNEL
from qcchain_consortium.consortium import Channel
from qcchain_sdk.contracts.story import orgs_from_profiles

log = logging.getLogger(__name__)

__all__ = ["StoryNet", "story_network", "deploy_story", "upgrade_chaincode", "deploy_on", "synced_orgs", "describe",
           "CHAINCODE", "STORY_CHANNEL"]

STORY_CHANNEL = GOVERNANCE_CHANNEL
MODULE = "qcchain_contracts"


@dataclass
class StoryNet:
    """A running network serving ``qcchain`` on the story's channel; ``timings`` holds measured seconds."""

    layout: Layout
    peer_bin: Path
    channel: Channel
    running: cclifecycle.Package
    upgrade_to: cclifecycle.Package
    sequence: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def profiles(self) -> dict[str, Path]:
        """Org name -> connection profile."""
        return {org.name: self.layout.profile_file(org) for org in self.layout.consortium.orgs}

    @property
    def digests(self) -> tuple[str, str]:
        """(running package digest, digest of the package an upgrade switches to)."""
        return self.running.package_id.rsplit(":", 1)[1], self.upgrade_to.package_id.rsplit(":", 1)[1]


def describe(layout: Layout) -> str:
    """E.g. ``5 orgs, raft x3, 5 channels``."""
    c = layout.consortium
    return f"{len(c.orgs)} orgs, {c.orderer.consensus} x{c.orderer.nodes}, {len(c.channels)} channels"


def _package(layout: Layout, version: str) -> cclifecycle.Package:
    address = f"{layout.host}:{layout.chaincode_ports[CHAINCODE]}"
    return cclifecycle.package(layout.out / "packages", f"{CHAINCODE}_{version}", address)


def _server(layout: Layout, pkg: cclifecycle.Package) -> None:
    proc = cclifecycle.start_server(layout, pkg, [sys.executable, "-m", MODULE])
    host, port = pkg.address.rsplit(":", 1)
    procs.wait_listening(host, int(port), proc)


@contextlib.contextmanager
def story_network(out: Path, consortium: Path | None = None, channel: str = STORY_CHANNEL,
                  log_spec: str = DEFAULT_LOG_SPEC, keep: bool = False) -> Iterator[StoryNet]:
    """Bring the network up in ``out``, deploy ``qcchain`` on ``channel``, yield, stop everything (unless
    ``keep``: then it stays up for ``scripts/network.sh down --dir out``).

    Raises:
        BinaryNotFound, PortInUse, ConsortiumError, StartError, ToolError, GossipTimeout (from
        :func:`runner.up`); DeployError, NotEndorsable; NetworkError: ``channel`` is not in the consortium.
    """
    find_all()
    t0 = time.monotonic()
    layout = runner.up(consortium, out, log_spec)
    try:
        up_seconds = time.monotonic() - t0
        net = deploy_story(out, consortium, channel, log_spec)
        net.timings = {f"network up ({describe(layout)})": up_seconds, **net.timings}
        yield net
    finally:
        if not keep:
            t1 = time.monotonic()
            stopped = runner.down(layout.out)
            log.info("stopped %d process(es) in %.1fs", len(stopped), time.monotonic() - t1)


def deploy_story(out: Path, consortium: Path | None = None, channel: str = STORY_CHANNEL,
                 log_spec: str = DEFAULT_LOG_SPEC) -> StoryNet:
    """On a network already up in ``out`` (``scripts/network.sh up``): start the ``qcchain_contracts``
    server and deploy ``qcchain`` (package ``qcchain_1.0``) on ``channel``; returns the StoryNet.

    Raises:
        ConsortiumError, BinaryNotFound; NetworkError: ``channel`` is not in the consortium with ``qcchain``;
        DeployError, StartError, NotEndorsable.
    """
    layout = load_layout(consortium, out, log_spec)
    return _deploy(layout, find_all(("peer",))["peer"], channel, {})


def _deploy(layout: Layout, peer_bin: Path, channel_name: str, timings: dict[str, float]) -> StoryNet:
    matches = [c for c in layout.consortium.channels if c.name == channel_name]
    if not matches or CHAINCODE not in {cc.name for cc in matches[0].chaincodes}:
        raise NetworkError(f"the consortium has no channel {channel_name!r} with chaincode {CHAINCODE!r}")
    channel = matches[0]
    t0 = time.monotonic()
    running, upgrade_to = _package(layout, "1.0"), _package(layout, "2.0")
    _server(layout, running)
    sequence = cclifecycle.deploy(layout, peer_bin, channel, CHAINCODE, running, version="1.0")
    timings[f"deploy {CHAINCODE} on {channel.name} (install x{len(channel.members)}, approve x"
            f"{len(channel.members)}, commit)"] = time.monotonic() - t0
    net = StoryNet(layout, peer_bin, channel, running, upgrade_to, sequence, timings)
    first = layout.consortium.orgs[0]
    timings["until the gateway endorses it"] = wait_endorsable(layout.profile_file(first), channel.name)
    return net


def upgrade_chaincode(net: StoryNet) -> float:
    """Switch the running package to ``net.upgrade_to`` with ``peer lifecycle`` (install, approve by every
    member, commit with sequence + 1) and a new chaincode server; returns the seconds it took.

    Raises:
        DeployError: a lifecycle step failed. StartError: the new server did not listen. NotEndorsable.
    """
    t0 = time.monotonic()
    old, new = net.running, net.upgrade_to
    with contextlib.suppress(KeyError):
        procs.stop_one(net.layout.out, f"chaincode-{old.label}")
    _server(net.layout, new)
    net.sequence = cclifecycle.deploy(net.layout, net.peer_bin, net.channel, CHAINCODE, new, version="2.0")
    net.running = new
    wait_endorsable(net.layout.profile_file(net.layout.consortium.orgs[0]), net.channel.name)
    return time.monotonic() - t0


def deploy_on(net: StoryNet, channel_name: str) -> float:
    """Also deploy the running ``qcchain`` package on another channel of the consortium (install where
    missing, approve by its members, commit) and wait until it is endorsable; returns the seconds taken.

    Raises:
        NetworkError: no such channel with ``qcchain``. DeployError. NotEndorsable.
    """
    matches = [c for c in net.layout.consortium.channels if c.name == channel_name]
    if not matches or CHAINCODE not in {cc.name for cc in matches[0].chaincodes}:
        raise NetworkError(f"the consortium has no channel {channel_name!r} with chaincode {CHAINCODE!r}")
    t0 = time.monotonic()
    version = net.running.label.rsplit("_", 1)[1]
    cclifecycle.deploy(net.layout, net.peer_bin, matches[0], CHAINCODE, net.running, version=version)
    first = net.layout.consortium.org(matches[0].members[0])
    wait_endorsable(net.layout.profile_file(first), channel_name)
    return time.monotonic() - t0


def synced_orgs(profiles: dict[str, Path], channel: str, members: dict[str, dict[str, str]],
                timeout: float = 30.0) -> tuple[dict[str, Any], list[Any], Any]:
    """The story's orgs (one gateway per org, as :func:`qcchain_sdk.contracts.story.orgs_from_profiles`)
    whose submits return once every org's peer has committed the transaction (see
    :mod:`qcchain_network.consistency`). Returns (orgs, gateways, heights); the caller closes the gateways.

    Raises:
        qcchain_gateway.errors.ProfileError / IdentityError: a profile or MSP directory is unusable.
    """
    orgs, gateways = orgs_from_profiles(profiles, channel, members)
    heights = ChannelHeights(channel, dict(zip(profiles, gateways)), timeout)
    for org in orgs.values():
        org.contract = lambda name, plain=org.contract: SyncedContract(plain(name), heights)
    return orgs, gateways, heights
