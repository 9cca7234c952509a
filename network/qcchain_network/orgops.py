"""Organisations joining and leaving a running Fabric network (T-5.1, T-8.2 b), governed on chain.

``add_org``: the org file and public bundle are checked (collisions, no private key, no foreign CA) →
governance must have admitted the member bound to the CA and TLS CA of its material (:mod:`.membergate`,
``ca_cert_sha256`` / ``tls_ca_cert_sha256`` on chain) and its peers (node registry) → for each
channel it joins, the org group (``configtxgen -printOrg``, with its anchor peer) is added by a config
update signed by as many org admins as the channel's ``Admins`` policy needs (:mod:`.orgupdate`; signed
offline through an update directory, or by the test admins) → its bilateral channel with the regulator
is created (genesis block, orderers join) → the membership and node overlays are saved, connection
profiles rendered → when the org runs here (``home``): its peers start and join → the committed qcchain
definition follows the new membership (:mod:`.ccredefine`): where the model widened it (``members:
channel`` collections, a run-time channel's derived rule) a new sequence approved by every member here —
the new org too when it runs here — and committed; otherwise the new org approves the committed one →
qcchain is committed on its own channel. ``remove_org`` is the reverse (``member_remove`` first; the
definitions narrowed the same way; its bilateral channel stays, with the regulator).
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import admin, ccredefine, cclifecycle, configupdate, membergate, orgmaterial, orgupdate, overlay, procs
from qcchain_consortium import orgoverlay
from . import runner, testadmins
from .derive import Layout, apply_overlay, derive
from .errors import NetworkError
from .nodeops import latest_block_path, running_orderer, tool_paths
from .noderecord import read_record
from .registry import Registry, active_match
from .render import render_profiles
from .render.configtx import configtx
from .render.processes import env_text, peer_env
from qcchain_consortium.consortium import Org
from qcchain_consortium.membership import JoiningOrg, admit, own_channel_name, retire

log = logging.getLogger(__name__)

UPDATE_META = "update.json"


class OrgOpError(NetworkError, RuntimeError):
    """An organisation could not be added or removed (names the org and the step)."""


@dataclass(frozen=True)
class Signing:
    """How config updates get their admin signatures: ``test`` (the test admins sign and it is submitted),
    ``propose`` (write them to ``directory`` and stop) or ``execute`` (submit the signed ones of ``directory``)."""

    mode: str
    directory: Path | None = None


class UpdatesWritten(NetworkError):
    """``--propose``: the config updates were written for the admins to sign (names the directory)."""


def _all_bins() -> dict[str, Path]:
    return tool_paths()


def _staged(layout: Layout, joining: JoiningOrg, home: Path | None) -> tuple[Layout, overlay.Overlay]:
    """The layout with the org joined and its peers placed in overlay slots (pure but for reading nodes.json)."""
    consortium = admit(layout.consortium, joining)
    ovl = overlay.load(layout.out)
    for i in range(joining.org.peers):
        ovl = ovl.with_added(overlay.Added("peer", i, f"peer{i}.{joining.org.domain}", ovl.next_slot(),
                                           joining.org.name))
    homes = dict(layout.org_homes)
    if home is not None:
        homes[joining.org.name] = home
    else:  # it runs elsewhere: the consortium's copy of its public material
        homes[joining.org.name] = layout.out / orgmaterial.IMPORTED
    base = derive(consortium, layout.out, layout.log_spec, homes=homes)
    return apply_overlay(base, ovl), ovl


def _admins(layout: Layout, channel_orgs: list[str], needed: int, submitter: Org) -> list[Org]:
    """The test admins who sign before the submitter (the submitter's own signature counts too)."""
    others = [o for o in layout.consortium.orgs if o.msp_id in channel_orgs and o.msp_id != submitter.msp_id]
    return others[:max(0, needed - 1)]


def _submitter(layout: Layout, channel_orgs: list[str]) -> Org:
    return next((o for o in layout.consortium.orgs if o.role == "regulator" and o.msp_id in channel_orgs),
                next(o for o in layout.consortium.orgs if o.msp_id in channel_orgs))


def _updates(layout: Layout, bins: dict[str, Path], changes: dict[str, Any], signing: Signing, what: str) -> None:
    """Make, sign and submit one config update per channel. ``changes``: channel -> fn(config) -> config.

    Raises:
        UpdatesWritten: ``propose`` mode. UnderSigned, ConfigUpdateError, ToolError: refused; in ``test``
        and ``execute`` mode every envelope is checked before the first is submitted.
    """
    via = running_orderer(layout)
    with tempfile.TemporaryDirectory(prefix="orgops-") as tmp:
        directory = signing.directory if signing.mode in ("propose", "execute") else Path(tmp)
        assert directory is not None
        plans: dict[str, tuple[int, list[str]]] = {}
        if signing.mode == "execute":
            meta = json.loads((directory / UPDATE_META).read_text(encoding="utf-8"))
            if meta.get("what") != what:
                raise OrgOpError(f"{directory} holds the updates for {meta.get('what')!r}, not {what!r}")
            plans = {ch: (int(v["needed"]), list(v["orgs"])) for ch, v in meta["channels"].items()}
        else:
            for channel, change in changes.items():
                config, _ = configupdate.fetch_config(layout, bins, channel, via, latest_block_path(layout, channel))
                modified = change(config)
                orgupdate.make_envelope(layout, bins, channel, config, modified, directory / f"{channel}.pb")
                plans[channel] = (orgupdate.admins_needed(config), orgupdate.app_orgs(config))
            directory.mkdir(parents=True, exist_ok=True)
            (directory / UPDATE_META).write_text(json.dumps({"what": what, "channels": {
                ch: {"needed": n, "orgs": orgs} for ch, (n, orgs) in plans.items()}}, indent=2), encoding="utf-8")
        if signing.mode == "propose":
            raise UpdatesWritten(f"wrote {len(plans)} config update(s) for {what} to {directory}: each org admin "
                                 f"signs them (`network.sh sign-update {directory} --org NAME`), then run this "
                                 f"command again with --execute {directory}")
        submitters = {}
        for channel, (needed, orgs) in plans.items():
            submitter = _submitter(layout, orgs)
            if signing.mode == "test":
                for org in _admins(layout, orgs, needed, submitter):
                    orgupdate.sign(layout, bins, directory / f"{channel}.pb", org)
            envelope = orgupdate.decode_envelope(bins, directory / f"{channel}.pb")
            orgupdate.check_signed(envelope, orgs, needed, submitter.msp_id, channel)
            submitters[channel] = submitter
        for channel, (needed, orgs) in plans.items():
            orgupdate.submit(layout, bins, channel, directory / f"{channel}.pb", submitters[channel], via,
                             needed, orgs)


def sign_updates(layout: Layout, directory: Path, org_name: str) -> list[str]:
    """Add ``org_name``'s Admin signature to every update of ``directory``; returns the channels signed.

    Raises:
        KeyError: no such org. OrgOpError: not an update directory. ToolError: signing failed.
    """
    org = layout.consortium.org(org_name)
    try:
        meta = json.loads((directory / UPDATE_META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OrgOpError(f"{directory}: not a config update directory ({exc})") from None
    bins = _all_bins()
    for channel in meta["channels"]:
        orgupdate.sign(layout, bins, directory / f"{channel}.pb", org)
    return list(meta["channels"])


def _admit_nodes(layout: Layout, new: Layout, org: Org, mode: str) -> None:
    records = [read_record(p.host, org.msp_id, "peer", p.tls_dir, p.msp_dir) for p in new.peers_of(org.name)]
    registry = Registry(layout, "check")
    missing = [r for r in records if active_match(registry.lookup(str(r["node_id"])), r)]
    if missing and mode == "test-keys":
        testadmins.admit(layout, missing, reason=f"peers of joining member {org.msp_id}", create_keys=False)
        missing = [r for r in records if active_match(registry.lookup(str(r["node_id"])), r)]
    if missing:
        raise OrgOpError(f"refused: peer {missing[0]['node_id']} of {org.msp_id} is not admitted in the node "
                         "registry (admit it with a node_admit proposal first)")


def _create_channel(new: Layout, bins: dict[str, Path], channel: str) -> None:
    cfg_dir = new.out / "configtx"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    (cfg_dir / "configtx.yaml").write_text(yaml.safe_dump(configtx(new), sort_keys=False), encoding="utf-8")
    admin.run_tool([str(bins["configtxgen"]), "-profile", channel, "-outputBlock", str(new.block_file(channel)),
                    "-channelID", channel, "-configPath", str(cfg_dir)], env={"FABRIC_CFG_PATH": str(cfg_dir)})
    for node in new.orderers:
        runner._idempotent(admin.osnadmin_join, new, bins["osnadmin"], node, channel)
    members = next(c.members for c in new.consortium.channels if c.name == channel)
    for org in new.consortium.orgs:
        if org.role == "regulator" and org.name in members:  # the joining org's own peers join in _run_here
            for peer in new.peers_of(org.name):
                runner._idempotent(admin.peer_join, new, bins["peer"], peer, channel)


def _run_here(new: Layout, bins: dict[str, Path], org: Org, channels: list[str], own: str) -> None:
    """Start the org's peers and join them to its channels and its own channel."""
    for peer in new.peers_of(org.name):
        peer.env_file.parent.mkdir(parents=True, exist_ok=True)
        peer.env_file.write_text(env_text(peer_env(new, peer)), encoding="utf-8")
        runner.start_node(new, peer.host)
        for channel in channels + ([own] if own else []):
            runner._idempotent(admin.peer_join, new, bins["peer"], peer, channel)


def add_org(layout: Layout, joining: JoiningOrg, bundle: Path, home: Path | None = None,
            gate: str = "check", signing: Signing = Signing("test"), proposal_out: Path | None = None) -> Layout:
    """Add ``joining`` to the running network (see the module docstring); returns the new layout.

    Raises:
        MembershipError: collision or unknown channel. MaterialError: unsafe bundle. NotDecided,
        MemberProposalWritten: governance has not admitted it. OrgOpError: its peers not admitted, or a step
        failed. UpdatesWritten: ``propose`` mode. UnderSigned, ToolError: a config update was refused.
        Nothing is saved before every channel update went through. DefinitionError, DeployError: the
        qcchain definition could not follow (the org has joined; the previous definition stays committed).
    """
    org = joining.org
    new, ovl = _staged(layout, joining, home)  # raises on collisions / unknown channels before anything
    org_dir = orgmaterial.check_public(bundle, joining, layout)
    bins = _all_bins()
    fingerprints = orgmaterial.member_fingerprints(org_dir / "msp")
    proposal = membergate.require(layout, org, "admit", gate, proposal_out, fingerprints=fingerprints)
    public = orgmaterial.import_public(org_dir, layout, org.domain)
    _admit_nodes(layout, new, org, gate)
    group = orgupdate.print_org(new, bins, org, public / "msp")
    joined = [ch.name for ch in new.consortium.channels if org.name in ch.members and ch.name != own_channel_name(org)]
    _updates(layout, bins, {ch: (lambda cfg, g=group: orgupdate.with_org(cfg, org.msp_id, g)) for ch in joined},
             signing, f"add {org.msp_id}")
    own = own_channel_name(org) if joining.own_channel else ""
    if own:
        _create_channel(new, bins, own)
    events = orgoverlay.load(layout.out).with_event(
        orgoverlay.Event("join", joining, str(home) if home is not None else None))
    orgoverlay.save(layout.out, events)
    overlay.save(layout.out, ovl)
    if home is not None:
        _run_here(new, bins, org, joined, own)
    definitions = ccredefine.follow(layout, new, bins, joined, [org.name])  # widened where the model says so
    if home is not None:
        if own and definitions:  # qcchain is deployed: commit it on the org's own channel too
            cclifecycle.deploy(new, bins["peer"], next(c for c in new.consortium.channels if c.name == own),
                               "qcchain", ccredefine.network_package(layout, bins))
        render_profiles(new, [org.name])
    render_profiles(new, [o.name for o in new.consortium.orgs if o.role == "regulator"])
    procs.ops_log(layout.out, "add-org", org.msp_id, kind="org", result="ok", member_proposal=proposal,
                  channels=joined + ([own] if own else []), home=str(home) if home else None,
                  definitions=definitions)
    return new


def remove_org(layout: Layout, msp_id: str, gate: str = "check", signing: Signing = Signing("test"),
               proposal_out: Path | None = None) -> Layout:
    """Take ``msp_id`` out of every channel it is on (its bilateral channel keeps the regulator, so history
    stays readable); stop its peers run here; returns the new layout.

    Raises:
        MembershipError: not a member, or the regulator. NotDecided, MemberProposalWritten: governance has
        not removed it. UpdatesWritten, UnderSigned, ToolError, DefinitionError, DeployError: as for
        :func:`add_org`.
    """
    consortium = retire(layout.consortium, msp_id)
    org = next(o for o in layout.consortium.orgs if o.msp_id == msp_id)
    proposal = membergate.require(layout, org, "remove", gate, proposal_out)
    bins = _all_bins()
    channels = [ch.name for ch in layout.consortium.channels if org.name in ch.members]
    _updates(layout, bins, {ch: (lambda cfg: orgupdate.without_org(cfg, msp_id)) for ch in channels},
             signing, f"remove {msp_id}")
    running = runner.running(layout.out)
    ovl = overlay.load(layout.out)
    base_hosts = {p.host for p in derive(layout.consortium, layout.out, layout.log_spec, homes=layout.org_homes).peers}
    for peer in layout.peers_of(org.name):
        if peer.host in running:
            runner.stop_node(layout, peer.host)
        ovl = ovl.without(peer.host, base_hosts)
    orgoverlay.save(layout.out, orgoverlay.load(layout.out).with_event(orgoverlay.Event("leave", msp_id=msp_id)))
    overlay.save(layout.out, ovl)
    new = apply_overlay(derive(consortium, layout.out, layout.log_spec, homes=layout.org_homes), ovl)
    definitions = ccredefine.follow(layout, new, bins, channels, [])  # narrowed where the model says so
    render_profiles(new, [o.name for o in new.consortium.orgs if o.role == "regulator"])
    procs.ops_log(layout.out, "remove-org", msp_id, kind="org", result="ok", member_proposal=proposal,
                  channels=channels, definitions=definitions)
    return new
