"""Channels at run time (T-5.1, T-8.2 b): a new channel for a set of member orgs, and an existing org's
peers joining an existing channel.

``add_channel``: the channel is added to the consortium model (:func:`qcchain_consortium.membership.new_channel`:
the qcchain chaincode's endorsement rule and collections over its members), its genesis block is made
from the rendered ``configtx.yaml`` (``configtxgen``), the orderers join it (``osnadmin``), every member's
peers running here join, the qcchain chaincode (the network's committed CCaaS package) is installed,
approved by every member and committed, and the event is saved in ``orgs.json`` so ``load_layout`` sees it.

``join_channel``: when the org's MSP is not yet in the channel's config, a config update adding its org
group (anchor peer included) signed by as many org admins as the channel's ``Admins`` policy needs
(offline through an update directory, or by the test admins — as for ``add-org``); then its peers running
here join, the committed qcchain definition is installed and approved for it, and the event is saved.
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml

from . import admin, cclifecycle, configupdate, orgoverlay, orgupdate, overlay, procs, runner
from .derive import Layout, apply_overlay, derive
from .errors import NetworkError
from .nodeops import latest_block_path, running_orderer, tool_paths
from .orgops import Signing, _approved, _updates
from .render import render_profiles
from .render.configtx import configtx
from qcchain_consortium.consortium import Channel, Consortium, Org
from qcchain_consortium.membership import join_channel as joined_model
from qcchain_consortium.membership import new_channel

log = logging.getLogger(__name__)

__all__ = ["ChannelOpError", "add_channel", "join_channel"]


class ChannelOpError(NetworkError, RuntimeError):
    """A channel could not be added or joined (names the channel and the step)."""


def _relayout(layout: Layout, consortium: Consortium) -> Layout:
    base = derive(consortium, layout.out, layout.log_spec, homes=layout.org_homes)
    return apply_overlay(base, overlay.load(layout.out))


def _package(layout: Layout, bins: dict[str, Path]) -> cclifecycle.Package:
    """The network's committed qcchain CCaaS package (from an existing channel's approved definition).

    Raises:
        ChannelOpError: qcchain is deployed on no channel, or not from the network's CCaaS package.
    """
    reg = next((o for o in layout.consortium.orgs if o.role == "regulator"), layout.consortium.orgs[0])
    source = next((ch.name for ch in layout.consortium.channels if reg.name in ch.members
                   and any(cc.name == "qcchain" for cc in ch.chaincodes)), "")
    try:
        approved = _approved(layout, bins["peer"], source) if source else {}
    except admin.ToolError as exc:
        raise ChannelOpError(f"qcchain is not deployed on {source} yet (network.sh deploy first): {exc}") from None
    package_id = approved.get("source", {}).get("Type", {}).get("LocalPackage", {}).get("package_id", "")
    if not package_id:
        raise ChannelOpError("qcchain is not deployed on any channel yet (network.sh deploy first)")
    pkg = cclifecycle.package(layout.out / "packages", package_id.split(":")[0],
                              f"{layout.host}:{layout.chaincode_ports['qcchain']}")
    if pkg.package_id != package_id:
        raise ChannelOpError(f"the committed package {package_id} is not the network's CCaaS package {pkg.package_id}")
    return pkg


def add_channel(layout: Layout, name: str, members: list[str]) -> Layout:
    """Create channel ``name`` for the member orgs ``members`` (names) on the running network, with the
    qcchain chaincode deployed on it; returns the new layout.

    Raises:
        MembershipError: a bad or existing name, unknown or too few members. ChannelOpError: qcchain not
        deployed yet. ToolError, DeployError: a Fabric step failed (the channel may then exist without the
        chaincode: run ``network.sh deploy``).
    """
    new = _relayout(layout, new_channel(layout.consortium, name, members))
    bins = tool_paths()
    pkg = _package(layout, bins)  # refused before anything is made
    running = runner.running(layout.out)
    cfg_dir = new.out / "configtx"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    (cfg_dir / "configtx.yaml").write_text(yaml.safe_dump(configtx(new), sort_keys=False), encoding="utf-8")
    admin.run_tool([str(bins["configtxgen"]), "-profile", name, "-outputBlock", str(new.block_file(name)),
                    "-channelID", name, "-configPath", str(cfg_dir)], env={"FABRIC_CFG_PATH": str(cfg_dir)})
    for node in new.orderers:
        if node.host in running:
            runner._idempotent(admin.osnadmin_join, new, bins["osnadmin"], node, name)
    for member in members:
        for peer in new.peers_of(member):
            if peer.host in running:
                runner._idempotent(admin.peer_join, new, bins["peer"], peer, name)
    orgoverlay.save(layout.out, orgoverlay.load(layout.out).with_event(
        orgoverlay.Event("channel", channel=name, members=tuple(members))))
    channel = next(c for c in new.consortium.channels if c.name == name)
    sequence = cclifecycle.deploy(new, bins["peer"], channel, "qcchain", pkg)
    render_profiles(new, members)
    procs.ops_log(layout.out, "add-channel", name, kind="channel", result="ok", members=members, sequence=sequence)
    return new


def _approve_for(new: Layout, bins: dict[str, Path], org: Org, channel: Channel, pkg: cclifecycle.Package) -> None:
    for peer in new.peers_of(org.name):
        cclifecycle._install(new, bins["peer"], org, peer, pkg)
    seq = cclifecycle.committed_sequence(new, bins["peer"], channel, "qcchain")
    version = _approved(new, bins["peer"], channel.name).get("version", "1.0")
    common = ["--channelID", channel.name, "--name", "qcchain", "--version", version, "--sequence", str(seq),
              *cclifecycle._policy_args(new, channel, "qcchain"), *admin.orderer_args(new)]
    cclifecycle._approve(new, bins["peer"], org.name, pkg, common)


def join_channel(layout: Layout, org_name: str, channel_name: str, signing: Signing = Signing("test")) -> Layout:
    """Put the member org ``org_name`` on the existing channel ``channel_name`` (see the module docstring);
    returns the new layout.

    Raises:
        MembershipError: no such org or channel, or the org is already on it. UpdatesWritten: ``propose``
        mode. UnderSigned, ConfigUpdateError, ToolError: the config update was refused or a step failed.
        Nothing is saved before the config update went through.
    """
    new = _relayout(layout, joined_model(layout.consortium, channel_name, org_name))
    org = layout.consortium.org(org_name)
    bins = tool_paths()
    config, _ = configupdate.fetch_config(layout, bins, channel_name, running_orderer(layout),
                                          latest_block_path(layout, channel_name))
    if org.msp_id not in orgupdate.app_orgs(config):
        group = orgupdate.print_org(new, bins, org, layout.org_dir(org) / "msp")
        _updates(layout, bins, {channel_name: lambda cfg: orgupdate.with_org(cfg, org.msp_id, group)}, signing,
                 f"join {org.msp_id} to {channel_name}")
    orgoverlay.save(layout.out, orgoverlay.load(layout.out).with_event(
        orgoverlay.Event("channel-join", channel=channel_name, org=org_name)))
    running = runner.running(layout.out)
    for peer in new.peers_of(org_name):
        if peer.host in running:
            runner._idempotent(admin.peer_join, new, bins["peer"], peer, channel_name)
    channel = next(c for c in new.consortium.channels if c.name == channel_name)
    if any(cc.name == "qcchain" for cc in channel.chaincodes) and \
            cclifecycle.committed_sequence(new, bins["peer"], channel, "qcchain") > 0:
        _approve_for(new, bins, org, channel, _package(layout, bins))
    render_profiles(new, [org_name])
    procs.ops_log(layout.out, "join-channel", f"{org.msp_id}@{channel_name}", kind="channel", result="ok")
    return new
