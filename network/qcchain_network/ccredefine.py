"""The committed qcchain definition following a channel's membership (T-5.1, T-8.2 b).

When an org joins or leaves a channel, the model recomputes the chaincode definition over the new
members (:func:`qcchain_consortium.redefine.redefine_channel`: ``members: channel`` collections, a run-time
channel's derived endorsement rule). :func:`follow` brings each channel's committed definition there:

* definition changed → a new sequence (committed + 1, the committed version, the network's CCaaS
  package) with the recomputed endorsement policy and collection config, installed and approved by every
  member org that is *here* (its Admin's private key in this network's material and one of its peers
  running — the joining org too when it runs here), and committed with their peers as endorsers (the
  channel's ``LifecycleEndorsement``: a majority of the members). A member elsewhere approves on its own.
* unchanged → the orgs that came in and are here approve the committed definition at its sequence.

Channels with fewer than two members (a departed org's bilateral channel, kept only for its history)
are left as they are.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from . import admin, cclifecycle, recovery, runner
from .derive import Layout
from .errors import NetworkError
from qcchain_consortium.consortium import Channel, Org
from qcchain_consortium.redefine import changed_channels

log = logging.getLogger(__name__)

CHAINCODE = "qcchain"
CATCH_UP_S = 60.0

__all__ = ["DefinitionError", "approved", "network_package", "here", "follow", "approve_committed"]


class DefinitionError(NetworkError, RuntimeError):
    """The chaincode definition cannot follow the membership (names the channel and the step)."""


def approved(layout: Layout, peer_bin: Path, channel: str) -> dict[str, Any]:
    """The regulator's approved qcchain definition on ``channel`` (``queryapproved -O json``).

    Raises:
        admin.ToolError: nothing approved, or the query failed.
    """
    reg = next((o for o in layout.consortium.orgs if o.role == "regulator"), layout.consortium.orgs[0])
    text = admin.run_tool([str(peer_bin), "lifecycle", "chaincode", "queryapproved", "-C", channel, "-n",
                           CHAINCODE, "-O", "json"], env=admin.admin_env(layout, reg))
    doc, _ = json.JSONDecoder().raw_decode(text[text.index("{"):])
    return dict(doc)


def network_package(layout: Layout, bins: dict[str, Path]) -> cclifecycle.Package:
    """The network's committed qcchain CCaaS package (from a regulator channel's approved definition).

    Raises:
        DefinitionError: qcchain is deployed on no channel, or not from the network's CCaaS package.
    """
    reg = next((o for o in layout.consortium.orgs if o.role == "regulator"), layout.consortium.orgs[0])
    source = next((ch.name for ch in layout.consortium.channels if reg.name in ch.members
                   and any(cc.name == CHAINCODE for cc in ch.chaincodes)), "")
    try:
        found = approved(layout, bins["peer"], source) if source else {}
    except admin.ToolError as exc:
        raise DefinitionError(f"qcchain is not deployed on {source} yet (network.sh deploy first): {exc}") from None
    package_id = found.get("source", {}).get("Type", {}).get("LocalPackage", {}).get("package_id", "")
    if not package_id:
        raise DefinitionError("qcchain is not deployed on any channel yet (network.sh deploy first)")
    pkg = cclifecycle.package(layout.out / "packages", package_id.split(":")[0],
                              f"{layout.host}:{layout.chaincode_ports[CHAINCODE]}")
    if pkg.package_id != package_id:
        raise DefinitionError(f"the committed package {package_id} is not the network's CCaaS package {pkg.package_id}")
    return pkg


def here(layout: Layout, org: Org, running: set[str]) -> bool:
    """True when ``org``'s Admin key is in this network's material and one of its peers runs here."""
    keystore = layout.user_msp(org) / "keystore"
    has_key = keystore.is_dir() and any(p.is_file() for p in keystore.iterdir())
    return has_key and any(p.host in running for p in layout.peers_of(org.name))


def approve_committed(layout: Layout, bins: dict[str, Path], org: Org, channel: Channel,
                      pkg: cclifecycle.Package) -> int:
    """Install the package on ``org``'s running peers and approve the committed definition for it; returns
    the sequence approved.

    Raises:
        admin.ToolError: install or approve failed.
    """
    running = runner.running(layout.out)
    for peer in layout.peers_of(org.name):
        if peer.host in running:
            cclifecycle._install(layout, bins["peer"], org, peer, pkg)
    committed = cclifecycle.committed_definition(layout, bins["peer"], channel, CHAINCODE)
    seq = int(committed.get("sequence", 0))
    common = ["--channelID", channel.name, "--name", CHAINCODE, "--version", str(committed.get("version", "1.0")),
              "--sequence", str(seq), *cclifecycle._policy_args(layout, channel, CHAINCODE),
              *admin.orderer_args(layout)]
    cclifecycle._approve(layout, bins["peer"], org.name, pkg, common)
    return seq


def follow(before: Layout, after: Layout, bins: dict[str, Path], channels: list[str], newcomers: list[str],
           pkg: cclifecycle.Package | None = None) -> dict[str, dict[str, Any]]:
    """Bring the committed qcchain definition of each of ``channels`` to ``after``'s model (see the module
    docstring); ``newcomers`` are the orgs that came onto them. Returns channel -> ``{"sequence": n,
    "redefined": bool, "approved_by": [MSP...], "pending": [MSP...]}`` (``pending``: members elsewhere that
    approve on their own).

    Raises:
        DefinitionError: qcchain is committed but not from the network's package, or too few members here.
        cclifecycle.DeployError, admin.ToolError: a lifecycle step failed.
    """
    changed = set(changed_channels(before.consortium, after.consortium, CHAINCODE))
    running = runner.running(after.out)
    done: dict[str, dict[str, Any]] = {}
    for name in channels:
        channel = next(c for c in after.consortium.channels if c.name == name)
        if not any(cc.name == CHAINCODE for cc in channel.chaincodes) or len(channel.members) < 2:
            continue
        committed = cclifecycle.committed_definition(after, bins["peer"], channel, CHAINCODE,
                                                     asker=_asker(after, channel, running))
        if not committed:
            continue  # not deployed on this channel (yet): `network.sh deploy` commits the model's definition
        pkg = pkg or network_package(before, bins)
        present = [m for m in channel.members if here(after, after.consortium.org(m), running)]
        msps = [after.consortium.org(m).msp_id for m in present]
        pending = [after.consortium.org(m).msp_id for m in channel.members if m not in present]
        _caught_up(after, bins, channel, [m for m in newcomers if m in present], present, running)
        if name in changed:
            if len(present) < len(channel.members) // 2 + 1:
                raise DefinitionError(f"{name}: the new qcchain definition needs a majority of its members' "
                                      f"approvals, only {', '.join(msps) or 'none'} are here")
            seq = cclifecycle.deploy(after, bins["peer"], channel, CHAINCODE, pkg,
                                     version=str(committed.get("version", "1.0")), members=present)
            done[name] = {"sequence": seq, "redefined": True, "approved_by": msps, "pending": pending}
            log.info("%s: qcchain definition sequence %d over %s", name, seq, ", ".join(channel.members))
        else:
            came = [m for m in newcomers if m in present]
            seq = int(committed.get("sequence", 0))
            for member in came:
                seq = approve_committed(after, bins, after.consortium.org(member), channel, pkg)
            done[name] = {"sequence": seq, "redefined": False,
                          "approved_by": [after.consortium.org(m).msp_id for m in came], "pending": pending}
    return done


def _caught_up(layout: Layout, bins: dict[str, Path], channel: Channel, newcomers: list[str], present: list[str],
               running: set[str], timeout: float = CATCH_UP_S) -> None:
    """Wait until the newcomers' running peers reached the height of a running peer of another member (a
    peer that has not seen the committed definition would endorse its org's approval against an older
    lifecycle state and the orderer's validation would refuse it).

    Raises:
        DefinitionError: still behind after ``timeout`` seconds.
    """
    ref = next((p for m in present if m not in newcomers for p in layout.peers_of(m) if p.host in running), None)
    peers = [p for m in newcomers for p in layout.peers_of(m) if p.host in running]
    if ref is None or not peers:
        return
    deadline = time.monotonic() + timeout
    for peer in peers:
        while True:
            target = int(recovery.channel_info(layout, bins["peer"], ref, channel.name)["height"])
            try:
                height = int(recovery.channel_info(layout, bins["peer"], peer, channel.name)["height"])
            except admin.ToolError:
                height = 0  # the join is still being processed
            if height >= target:
                break
            if time.monotonic() > deadline:
                raise DefinitionError(f"{channel.name}: {peer.host} is at block height {height}, {ref.host} at "
                                      f"{target} after {timeout:.0f}s: not caught up to approve the definition")
            time.sleep(0.5)


def _asker(layout: Layout, channel: Channel, running: set[str]) -> str:
    """A member whose peer runs here (for queries), else the first member."""
    return next((m for m in channel.members if here(layout, layout.consortium.org(m), running)), channel.members[0])
