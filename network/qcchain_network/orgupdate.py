"""Channel config updates that add or remove an application organisation, signed offline by org admins.

Pure part: edit the decoded ``common.Config`` (``channel_group.groups.Application.groups[<MSP>]``), read
how many org admins the Application group's ``Admins`` policy needs (``MAJORITY Admins`` of n orgs:
n // 2 + 1; ``ANY``: 1; ``ALL``: n) and which orgs signed an update envelope. Tools part: the org group is
Fabric's own (``configtxgen -printOrg``: MSP with NodeOUs, Readers/Writers/Admins/Endorsement policies,
AnchorPeers); the update is computed with ``configtxlator`` and wrapped in an envelope; each admin signs
it with ``peer channel signconfigtx`` (its own key, possibly on its own host); :func:`submit` refuses an
under-signed envelope before anything reaches the orderer, then ``peer channel update`` adds the
submitter's signature and sends it.
"""

from __future__ import annotations

import copy
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import yaml

from . import admin, configupdate
from .configupdate import ConfigUpdateError
from .derive import Layout, OrdererNode
from .render.configtx import _org as configtx_org
from qcchain_consortium.consortium import Org

log = logging.getLogger(__name__)


class UnderSigned(ConfigUpdateError):
    """The envelope lacks signatures the channel's Admins policy requires (names who signed, how many needed)."""


def _application(config: dict[str, Any]) -> dict[str, Any]:
    try:
        return dict(config["channel_group"]["groups"]["Application"])
    except (KeyError, TypeError):
        raise ConfigUpdateError("not an application channel config: no channel_group.groups.Application") from None


def app_orgs(config: dict[str, Any]) -> list[str]:
    """MSP IDs of the channel's application orgs."""
    return sorted(_application(config).get("groups", {}))


def with_org(config: dict[str, Any], msp_id: str, group: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with the org group added (pure).

    Raises:
        ConfigUpdateError: the org is already in the channel.
    """
    if msp_id in app_orgs(config):
        raise ConfigUpdateError(f"{msp_id} is already an organisation of this channel")
    new = copy.deepcopy(config)
    new["channel_group"]["groups"]["Application"].setdefault("groups", {})[msp_id] = group
    return new


def without_org(config: dict[str, Any], msp_id: str) -> dict[str, Any]:
    """A copy of ``config`` without the org group (pure).

    Raises:
        ConfigUpdateError: the org is not in the channel, or it is the last one.
    """
    orgs = app_orgs(config)
    if msp_id not in orgs:
        raise ConfigUpdateError(f"{msp_id} is not an organisation of this channel")
    if len(orgs) == 1:
        raise ConfigUpdateError(f"{msp_id} is the channel's last organisation")
    new = copy.deepcopy(config)
    del new["channel_group"]["groups"]["Application"]["groups"][msp_id]
    return new


def admins_needed(config: dict[str, Any]) -> int:
    """How many org admins the Application group's ``Admins`` (its mod_policy) needs.

    Raises:
        ConfigUpdateError: the policy is not an implicit-meta rule over the orgs' ``Admins``.
    """
    app = _application(config)
    policy = app.get("policies", {}).get("Admins", {}).get("policy", {})
    value = policy.get("value", {})
    if policy.get("type") != 3 or value.get("sub_policy") != "Admins":
        raise ConfigUpdateError("the channel's Application Admins policy is not an ImplicitMeta rule over Admins")
    n = len(app_orgs(config))
    rule = value.get("rule", "ANY")
    return {"ANY": 1, "ALL": n, "MAJORITY": n // 2 + 1}.get(str(rule), n)


def signers(envelope: dict[str, Any]) -> list[str]:
    """MSP IDs that signed a decoded config update envelope (``common.Envelope``), in order, distinct."""
    out: list[str] = []
    sigs = envelope.get("payload", {}).get("data", {}).get("signatures", []) or []
    for sig in sigs:
        msp = sig.get("signature_header", {}).get("creator", {}).get("mspid", "")
        if msp and msp not in out:
            out.append(msp)
    return out


def check_signed(envelope: dict[str, Any], channel_orgs: list[str], needed: int, submitter: str,
                 channel: str) -> list[str]:
    """The app-org signers counted (with the submitter's own signature to come).

    Raises:
        UnderSigned: fewer than ``needed`` of ``channel_orgs`` signed.
    """
    counted = [m for m in signers(envelope) if m in channel_orgs]
    if submitter in channel_orgs and submitter not in counted:
        counted.append(submitter)
    if len(counted) < needed:
        raise UnderSigned(f"refused: the config update of {channel} is signed by {len(counted)} org admin(s) "
                          f"({', '.join(counted) or 'none'}); its Admins policy needs {needed} of "
                          f"{len(channel_orgs)} — collect more signatures (`network.sh sign-update`)")
    return counted


# ----------------------------------------------------------------- Fabric tools
def print_org(layout: Layout, bins: dict[str, Path], org: Org, msp_dir: Path) -> dict[str, Any]:
    """The org's channel config group, from ``configtxgen -printOrg`` (anchor peer: its first peer).

    Raises:
        ToolError: configtxgen failed.
    """
    definition = configtx_org(layout, org)
    definition["MSPDir"] = str(msp_dir)
    with tempfile.TemporaryDirectory(prefix="printorg-") as tmp:
        (Path(tmp) / "configtx.yaml").write_text(yaml.safe_dump({"Organizations": [definition]}), encoding="utf-8")
        text = admin.run_tool([str(bins["configtxgen"]), "-printOrg", org.msp_id, "-configPath", tmp])
    doc, _ = json.JSONDecoder().raw_decode(text[text.index("{"):])  # log lines may follow the JSON
    return dict(doc)


def make_envelope(layout: Layout, bins: dict[str, Path], channel: str, original: dict[str, Any],
                  modified: dict[str, Any], out: Path) -> Path:
    """Write the unsigned config update envelope from ``original`` to ``modified``; returns ``out``.

    Raises:
        ToolError: a configtxlator step failed.
    """
    with tempfile.TemporaryDirectory(prefix="orgupd-") as tmp:
        work = Path(tmp)
        for name, doc in (("original", original), ("modified", modified)):
            (work / f"{name}.json").write_text(json.dumps(doc), encoding="utf-8")
            configupdate._translate(bins, "proto_encode", "common.Config", work / f"{name}.json", work / f"{name}.pb")
        admin.run_tool([str(bins["configtxlator"]), "compute_update", "--channel_id", channel, "--original",
                        str(work / "original.pb"), "--updated", str(work / "modified.pb"), "--output",
                        str(work / "update.pb")])
        configupdate._translate(bins, "proto_decode", "common.ConfigUpdate", work / "update.pb", work / "update.json")
        update = json.loads((work / "update.json").read_text(encoding="utf-8"))
        envelope = {"payload": {"header": {"channel_header": {"channel_id": channel, "type": 2}},
                                "data": {"config_update": update}}}
        (work / "envelope.json").write_text(json.dumps(envelope), encoding="utf-8")
        out.parent.mkdir(parents=True, exist_ok=True)
        configupdate._translate(bins, "proto_encode", "common.Envelope", work / "envelope.json", out)
    return out


def decode_envelope(bins: dict[str, Path], path: Path) -> dict[str, Any]:
    """The decoded ``common.Envelope`` of an update file.

    Raises:
        ToolError: configtxlator cannot decode it.
    """
    with tempfile.TemporaryDirectory(prefix="orgenv-") as tmp:
        decoded = Path(tmp) / "envelope.json"
        configupdate._translate(bins, "proto_decode", "common.Envelope", path, decoded)
        return dict(json.loads(decoded.read_text(encoding="utf-8")))


def sign(layout: Layout, bins: dict[str, Path], path: Path, org: Org, msp_dir: Path | None = None) -> None:
    """Add ``org``'s Admin signature to the envelope file (``peer channel signconfigtx``).

    Raises:
        ToolError: the peer CLI failed.
    """
    env = {"FABRIC_CFG_PATH": str(layout.out / "config"), "FABRIC_LOGGING_SPEC": "warning",
           "CORE_PEER_LOCALMSPID": org.msp_id, "CORE_PEER_MSPCONFIGPATH": str(msp_dir or layout.user_msp(org))}
    admin.run_tool([str(bins["peer"]), "channel", "signconfigtx", "-f", str(path)], env=env)


def submit(layout: Layout, bins: dict[str, Path], channel: str, path: Path, submitter: Org, via: OrdererNode,
           needed: int, channel_orgs: list[str]) -> list[str]:
    """Check the signatures, then ``peer channel update`` as ``submitter``'s Admin; returns the signers.

    Raises:
        UnderSigned: not enough signatures (nothing is sent). ToolError: the orderer refused it.
    """
    counted = check_signed(decode_envelope(bins, path), channel_orgs, needed, submitter.msp_id, channel)
    env = {"FABRIC_CFG_PATH": str(layout.out / "config"), "FABRIC_LOGGING_SPEC": "warning",
           "CORE_PEER_LOCALMSPID": submitter.msp_id, "CORE_PEER_MSPCONFIGPATH": str(layout.user_msp(submitter)),
           "CORE_PEER_TLS_ENABLED": "true"}
    try:
        admin.run_tool([str(bins["peer"]), "channel", "update", "-f", str(path), "-c", channel]
                       + admin.orderer_args(layout, via), env=env)
    except admin.ToolError as exc:
        text = " ".join(str(exc).split())
        raise admin.ToolError(f"config update of {channel} refused: {text[:400]}") from None
    log.info("org config update submitted on %s (%d signers)", channel, len(counted))
    return counted
