"""Channels at run time (T-5.1, T-8.2 b): a new channel for a set of member orgs, and an existing org's
peers joining an existing channel.

Both are governed on chain first (:mod:`.changate`): an executed ``channel_create`` for the channel with
exactly its members, or ``channel_join`` for the org and channel, is required before anything is made.

``add_channel``: the channel is added to the consortium model (:func:`qcchain_consortium.membership.new_channel`:
the qcchain chaincode's endorsement rule and collections over its members), its genesis block is made
from the rendered ``configtx.yaml`` (``configtxgen``), the orderers join it (``osnadmin``), every member's
peers running here join, the qcchain chaincode (the network's committed CCaaS package) is installed,
approved by every member and committed, and the event is saved in ``orgs.json`` so ``load_layout`` sees it.

``join_channel``: when the org's MSP is not yet in the channel's config, a config update adding its org
group (anchor peer included) signed by as many org admins as the channel's ``Admins`` policy needs
(offline through an update directory, or by the test admins — as for ``add-org``); the event is saved; its
peers running here join; the committed qcchain definition follows (:mod:`.ccredefine`): a new sequence
when the model widened it (``members: channel`` collections, a run-time channel's derived endorsement
rule), approved by every member here and committed, else the committed one approved for the org.
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml

from . import admin, ccredefine, cclifecycle, changate, configupdate, orgupdate, overlay, procs, runner
from qcchain_consortium import orgoverlay
from .derive import Layout, apply_overlay, derive
from .errors import NetworkError
from .nodeops import latest_block_path, running_orderer, tool_paths
from .orgops import Signing, _updates
from .render import render_profiles
from .render.configtx import configtx
from qcchain_consortium.consortium import Consortium
from qcchain_consortium.membership import join_channel as joined_model
from qcchain_consortium.membership import new_channel

log = logging.getLogger(__name__)

__all__ = ["ChannelOpError", "add_channel", "join_channel"]


class ChannelOpError(NetworkError, RuntimeError):
    """A channel could not be added or joined (names the channel and the step)."""


def _relayout(layout: Layout, consortium: Consortium) -> Layout:
    base = derive(consortium, layout.out, layout.log_spec, homes=layout.org_homes)
    return apply_overlay(base, overlay.load(layout.out))


def add_channel(layout: Layout, name: str, members: list[str], gate: str = "check",
                proposal_out: Path | None = None) -> Layout:
    """Create channel ``name`` for the member orgs ``members`` (names) on the running network, with the
    qcchain chaincode deployed on it, once governance decided it (``channel_create``, :mod:`.changate`;
    ``gate``: ``check`` / ``propose`` / ``test-keys``); returns the new layout.

    Raises:
        MembershipError: a bad or existing name, unknown or too few members. DefinitionError: qcchain not
        deployed yet. NotDecided, ChannelProposalWritten: governance has not decided it. ToolError,
        DeployError: a Fabric step failed (the channel may then exist without the chaincode: run
        ``network.sh deploy``). Nothing is made before those checks passed.
    """
    new = _relayout(layout, new_channel(layout.consortium, name, members))
    bins = tool_paths()
    pkg = ccredefine.network_package(layout, bins)  # refused before anything is made
    proposal = changate.require_create(layout, name, [layout.consortium.org(m).msp_id for m in members], gate,
                                       proposal_out)
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
    procs.ops_log(layout.out, "add-channel", name, kind="channel", result="ok", members=members, sequence=sequence,
                  channel_proposal=proposal)
    return new


def join_channel(layout: Layout, org_name: str, channel_name: str, signing: Signing = Signing("test"),
                 gate: str = "check", proposal_out: Path | None = None) -> Layout:
    """Put the member org ``org_name`` on the existing channel ``channel_name`` (see the module docstring)
    once governance decided it (``channel_join``, :mod:`.changate`); returns the new layout.

    Raises:
        MembershipError: no such org or channel, or the org is already on it. NotDecided,
        ChannelProposalWritten: governance has not decided it. UpdatesWritten: ``propose`` mode.
        UnderSigned, ConfigUpdateError, ToolError: the config update was refused or a step failed.
        Nothing is saved before the config update went through.
    """
    new = _relayout(layout, joined_model(layout.consortium, channel_name, org_name))
    org = layout.consortium.org(org_name)
    proposal = changate.require_join(layout, channel_name, org.msp_id, gate, proposal_out)
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
    definitions = ccredefine.follow(layout, new, bins, [channel_name], [org_name])
    render_profiles(new, [org_name])
    procs.ops_log(layout.out, "join-channel", f"{org.msp_id}@{channel_name}", kind="channel", result="ok",
                  definitions=definitions, channel_proposal=proposal)
    return new
