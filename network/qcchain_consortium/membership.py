"""Members joining and leaving a running consortium (T-5.1), as a pure change of the model.

A joining organisation describes itself in an *org file* (YAML or JSON)::

    org: {name: Inspection2, msp_id: Inspection2MSP, role: inspection_body,
          domain: inspection2.qcchain.example, peers: 1, full_name: ..., credit_code: ...}
    channels: [qcchannel]      # existing channels it joins (default: every channel all members are on)
    own_channel: true          # a bilateral channel <name lower>-channel with the regulator (default true)

:func:`parse_org_file` validates it (the consortium schema's ``org`` definition plus the credit code);
:func:`admit` folds a joined org into a :class:`~qcchain_consortium.consortium.Consortium` and
:func:`retire` takes one out. Both keep the port plan of the running network unchanged: a joined org's
peers are not in the base plan (``Consortium.joined``; the network tools place them above it) and a
retired org keeps its ports reserved (``Consortium.retired``), so no running process ever moves.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any

import jsonschema

from qcchain_model.creditcode import validate_credit_code

from .consortium import ChaincodeDef, Channel, CollectionDef, Consortium, Org
from .errors import NetworkError
from .hosts import host_error
from .policy import members_policy
from .redefine import derived_policy_name, members_rule, redefine_channel
from .sources import load_schema

log = logging.getLogger(__name__)

__all__ = ["JoiningOrg", "MembershipError", "parse_org_file", "collisions", "admit", "retire", "own_channel_name",
           "regulator_of", "new_channel", "join_channel"]


class MembershipError(NetworkError, ValueError):
    """An org file is invalid, or a join/leave is impossible (one line naming what)."""


@dataclass(frozen=True)
class JoiningOrg:
    """A validated org file: the org, the existing channels it joins, whether it gets its own channel."""

    org: Org
    channels: tuple[str, ...] = ()
    own_channel: bool = True

    def to_json(self) -> dict[str, Any]:
        """The org file document (round-trips through :func:`parse_org_file`)."""
        org = {"name": self.org.name, "msp_id": self.org.msp_id, "role": self.org.role,
               "domain": self.org.domain, "peers": self.org.peers}
        if self.org.full_name:
            org["full_name"] = self.org.full_name
        if self.org.credit_code:
            org["credit_code"] = self.org.credit_code
        if self.org.host:
            org["host"] = self.org.host
        return {"org": org, "channels": list(self.channels), "own_channel": self.own_channel}


def parse_org_file(doc: Any, source: str = "org file") -> JoiningOrg:
    """Validate an org file document.

    Raises:
        MembershipError: not the shape above, a schema violation of ``org`` (names the first), a bad
        credit code, or a channel listed twice.
    """
    if not isinstance(doc, dict) or set(doc) - {"org", "channels", "own_channel"} or "org" not in doc:
        raise MembershipError(f"{source}: expected {{org: {{...}}, channels: [...], own_channel: true|false}}")
    schema = load_schema()
    validator = jsonschema.Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/org"})
    errors = sorted(validator.iter_errors(doc["org"]), key=lambda e: list(e.absolute_path))
    if errors:
        where = ".".join(str(p) for p in errors[0].absolute_path) or "org"
        raise MembershipError(f"{source}: org.{where}: {errors[0].message}".replace("org.org", "org"))
    raw = doc["org"]
    if "base_port" in raw:
        raise MembershipError(f"{source}: org.base_port: a joining org's ports are placed by the network tools")
    if raw.get("host") is not None and host_error(raw["host"]):
        raise MembershipError(f"{source}: org.host: {host_error(raw['host'])}")
    if not raw.get("credit_code"):
        raise MembershipError(f"{source}: org.credit_code: a member needs its unified social credit code")
    try:
        validate_credit_code(raw["credit_code"])
    except ValueError as exc:
        raise MembershipError(f"{source}: org.credit_code: {exc}") from None
    channels = doc.get("channels", [])
    if not isinstance(channels, list) or not all(isinstance(c, str) and c for c in channels) \
            or len(set(channels)) != len(channels):
        raise MembershipError(f"{source}: channels: must list distinct channel names")
    own = doc.get("own_channel", True)
    if not isinstance(own, bool):
        raise MembershipError(f"{source}: own_channel: must be true or false")
    org = Org(name=raw["name"], msp_id=raw["msp_id"], role=raw["role"], domain=raw["domain"],
              peers=raw.get("peers", 1), full_name=raw.get("full_name", ""), credit_code=raw["credit_code"],
              host=raw.get("host"))
    return JoiningOrg(org, tuple(channels), own)


def own_channel_name(org: Org) -> str:
    """The bilateral channel of ``org`` with the regulator (``<name lower>-channel``)."""
    return f"{org.name.lower()}-channel"


def regulator_of(consortium: Consortium) -> Org:
    """The regulator member.

    Raises:
        MembershipError: the consortium has no regulator.
    """
    for org in consortium.orgs:
        if org.role == "regulator":
            return org
    raise MembershipError("the consortium has no regulator to share a bilateral channel with")


def collisions(consortium: Consortium, org: Org) -> list[str]:
    """What ``org`` would clash with: name, MSP ID or domain of a member, a retired member or the orderer
    org (a retired MSP ID is never reused), or a channel name. Empty when none."""
    out = []
    others: list[Any] = list(consortium.orgs) + list(consortium.retired) + [consortium.orderer]
    for attr, what in (("name", "org name"), ("msp_id", "MSP ID"), ("domain", "domain")):
        for other in others:
            if getattr(other, attr).lower() == getattr(org, attr).lower():
                retired = " (a retired member; its identifiers are never reused)" if other in consortium.retired else ""
                out.append(f"{what} {getattr(org, attr)!r} is already used by {other.name}{retired}")
    if any(ch.name == own_channel_name(org) for ch in consortium.channels):
        out.append(f"channel {own_channel_name(org)!r} already exists")
    return out


def default_channels(consortium: Consortium) -> tuple[str, ...]:
    """The channels every member is on (the consortium-wide ones)."""
    names = {o.name for o in consortium.orgs}
    return tuple(ch.name for ch in consortium.channels if names <= set(ch.members))


def _with_member(channel: Channel, name: str) -> Channel:
    # The chaincode definitions are recomputed over the new members by the callers
    # (:func:`qcchain_consortium.redefine.redefine_channel`); on Fabric that is a new definition sequence.
    return replace(channel, members=channel.members + [name])


def _redefined(consortium: Consortium, channels: list[str]) -> Consortium:
    for name in channels:
        consortium = redefine_channel(consortium, name)
    return consortium


def _bilateral(consortium: Consortium, org: Org, regulator: Org) -> Channel:
    template = next((cc for ch in consortium.channels for cc in ch.chaincodes if cc.name == "qcchain"), None)
    rule = f"AND('{org.msp_id}.peer', '{regulator.msp_id}.peer')"
    members = [org.name, regulator.name]
    colls = [CollectionDef(c.name, members_policy([org.msp_id, regulator.msp_id]), c.required_peer_count,
                           c.max_peer_count, c.block_to_live, c.member_only_read, c.member_only_write, members)
             for c in (template.collections if template else [])]
    cc = ChaincodeDef("qcchain", rule, colls, f"{org.name.lower()}_with_regulator")
    return Channel(own_channel_name(org), members, [cc])


def admit(consortium: Consortium, joining: JoiningOrg) -> Consortium:
    """``consortium`` with ``joining`` as a member: in its channels (default :func:`default_channels`) and,
    unless disabled, in a new bilateral channel with the regulator (endorsement ``AND(org, regulator)``,
    the qcchain chaincode's collections over both); the chaincode definitions of the channels it joins are
    recomputed over their new members (:func:`qcchain_consortium.redefine.redefine_channel`) (pure).

    Raises:
        MembershipError: a collision (:func:`collisions`), an unknown channel, or no regulator.
    """
    org = joining.org
    clashes = collisions(consortium, org)
    if clashes:
        raise MembershipError(f"{org.msp_id} cannot join: {'; '.join(clashes)}")
    wanted = joining.channels or default_channels(consortium)
    known = {ch.name for ch in consortium.channels}
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise MembershipError(f"{org.msp_id} cannot join unknown channel(s) {', '.join(unknown)}")
    channels = [_with_member(ch, org.name) if ch.name in wanted else ch for ch in consortium.channels]
    if joining.own_channel:
        channels.append(_bilateral(consortium, org, regulator_of(consortium)))
    return _redefined(replace(consortium, orgs=consortium.orgs + [org], channels=channels,
                              joined=consortium.joined + (org.name,)), list(wanted))


def retire(consortium: Consortium, msp_id: str) -> Consortium:
    """``consortium`` without the member ``msp_id``: out of every channel's members (its bilateral channel
    stays, with the regulator, so its history remains readable) and kept in ``retired`` so its ports stay
    reserved and its identifiers are never reused; the chaincode definitions of the channels it was on are
    recomputed over the members left (:func:`qcchain_consortium.redefine.redefine_channel`) (pure).

    Raises:
        MembershipError: no such member, or it is the regulator (every bilateral channel needs it).
    """
    org = next((o for o in consortium.orgs if o.msp_id == msp_id), None)
    if org is None:
        raise MembershipError(f"{msp_id} is not a member of consortium {consortium.name!r}")
    if org.role == "regulator":
        raise MembershipError(f"{msp_id} is the regulator: every bilateral channel needs it, it cannot leave")
    channels = []
    for ch in consortium.channels:
        if org.name not in ch.members:
            channels.append(ch)
            continue
        left = [m for m in ch.members if m != org.name]
        ccs = [replace(cc, collections=[replace(c, members=[m for m in c.members if m != org.name])
                                        for c in cc.collections]) for cc in ch.chaincodes]
        channels.append(replace(ch, members=left, chaincodes=ccs))
    frozen = _frozen(consortium)
    orgs = [frozen(o) for o in consortium.orgs if o.msp_id != msp_id]
    left_on = [ch.name for ch in consortium.channels if org.name in ch.members]
    return _redefined(replace(consortium, orgs=orgs, channels=channels, retired=consortium.retired + (frozen(org),),
                              orderer=replace(consortium.orderer, base_port=consortium.ports().orderers[0].listen)),
                      left_on)


def _frozen(consortium: Consortium) -> Any:
    """Org -> the same org with its current first peer port as explicit ``base_port`` (base-plan orgs only),
    so the plan no longer depends on the order of the orgs."""
    plan = consortium.ports()

    def freeze(org: Org) -> Org:
        block = plan.peers.get((org.name, 0))
        return org if block is None or org.name in consortium.joined else replace(org, base_port=block.listen)
    return freeze


CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9.-]{0,248}$")


def new_channel(consortium: Consortium, name: str, members: list[str]) -> Consortium:
    """``consortium`` with a new channel ``name`` for the member orgs ``members`` (names) (pure). Its qcchain
    chaincode follows the consortium's: the same endorsement rule when it is implicit-meta (the channel's
    own majority), otherwise ``AND`` of a peer of every member (``OutOf`` majority beyond two); the same
    collections, over the channel's members.

    Raises:
        MembershipError: a bad or existing channel name, fewer than two members, an unknown or repeated member.
    """
    if not CHANNEL_NAME.match(name):
        raise MembershipError(f"channel name {name!r}: lowercase letters, digits, '.', '-', starting with a letter")
    if any(ch.name == name for ch in consortium.channels):
        raise MembershipError(f"channel {name!r} already exists")
    known = {o.name: o for o in consortium.orgs}
    unknown = [m for m in members if m not in known]
    if unknown:
        raise MembershipError(f"channel {name!r}: {', '.join(unknown)} not a member org of {consortium.name!r}")
    if len(members) < 2 or len(set(members)) != len(members):
        raise MembershipError(f"channel {name!r}: needs two or more distinct member orgs")
    msps = [known[m].msp_id for m in members]
    template = next((cc for ch in consortium.channels for cc in ch.chaincodes if cc.name == "qcchain"), None)
    rule = template.endorsement_policy if template is not None and template.uses_channel_policy \
        else members_rule(msps)
    colls = [CollectionDef(c.name, members_policy(msps), c.required_peer_count, c.max_peer_count, c.block_to_live,
                           c.member_only_read, c.member_only_write, list(members))
             for c in (template.collections if template else [])]
    cc = ChaincodeDef("qcchain", rule, colls, derived_policy_name(name))
    return replace(consortium, channels=consortium.channels + [Channel(name, list(members), [cc])])


def join_channel(consortium: Consortium, channel: str, org_name: str) -> Consortium:
    """``consortium`` with the member ``org_name`` added to the existing ``channel``, its chaincode
    definitions recomputed over the new members (:func:`qcchain_consortium.redefine.redefine_channel`).

    Raises:
        MembershipError: no such channel or org, or the org is already on it.
    """
    if org_name not in {o.name for o in consortium.orgs}:
        raise MembershipError(f"{org_name!r} is not a member org of {consortium.name!r}")
    target = next((ch for ch in consortium.channels if ch.name == channel), None)
    if target is None:
        raise MembershipError(f"no channel {channel!r} in {consortium.name!r}")
    if org_name in target.members:
        raise MembershipError(f"{org_name} is already on channel {channel!r}")
    return redefine_channel(replace(consortium, channels=[_with_member(ch, org_name) if ch.name == channel else ch
                                                          for ch in consortium.channels]), channel)
