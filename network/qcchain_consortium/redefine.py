"""Chaincode definitions recomputed over a channel's current members (T-5.1): what a new definition
sequence commits when an org joins or leaves a channel, where the consortium's policy files say that the
definition follows the membership (pure, but for re-reading the two policy files).

* Collections: a collection of ``policies/collections.yaml`` with ``members: channel`` covers every member
  of the channel (distribution policy ``OR('<MSP>.member', ...)`` over them); one with a list of org names
  keeps those of the list that are on the channel; a collection not in the file is kept as it is.
* Endorsement: a rule named in ``policies/endorsement.yaml`` is kept as written — an implicit-meta rule
  (``MAJORITY Endorsement``) follows the channel's members by itself, a signature policy names the orgs
  that must endorse; the rule of a channel made at run time (``add-channel``, policy name
  ``<channel>_members``, not in the file) is derived again over the members (:func:`members_rule`); any
  other rule (a bilateral channel's ``AND(org, regulator)``) is kept.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from .consortium import ChaincodeDef, Channel, CollectionDef, Consortium
from .errors import ConsortiumError, Problem
from .policy import is_implicit_meta, members_policy
from .sources import load_collections, load_endorsement

log = logging.getLogger(__name__)

__all__ = ["members_rule", "derived_policy_name", "redefine_channel", "changed_channels"]


def members_rule(msp_ids: list[str]) -> str:
    """The endorsement rule of a channel made at run time: ``AND`` of a peer of both members, ``OutOf``
    a majority of the members' peers beyond two."""
    if len(msp_ids) == 2:
        return f"AND('{msp_ids[0]}.peer', '{msp_ids[1]}.peer')"
    return f"OutOf({len(msp_ids) // 2 + 1}, " + ", ".join(f"'{m}.peer'" for m in msp_ids) + ")"


def derived_policy_name(channel: str) -> str:
    """The policy name of the qcchain chaincode on a channel made at run time."""
    return f"{channel.replace('-', '_').replace('.', '_')}_members"


def _policy_files(consortium: Consortium) -> tuple[dict[str, str | None], dict[str, dict]]:
    """(endorsement rules, collection specs) of the consortium's policy files (empty when it names none).

    Raises:
        ConsortiumError: a policy file is unreadable or invalid.
    """
    problems: list[Problem] = []
    rules: dict[str, str | None] | None = {}
    colls: dict[str, dict] | None = {}
    if "endorsement" in consortium.policy_files:
        rules = load_endorsement(consortium.policy_files["endorsement"][1], problems)
    if "collections" in consortium.policy_files:
        colls = load_collections(consortium.policy_files["collections"][1], problems)
    if problems or rules is None or colls is None:
        raise ConsortiumError(problems or [Problem(str(consortium.source), "$.policies", "policy files unusable")])
    return rules, colls


def _collection(coll: CollectionDef, spec: dict | None, members: list[str], msp: dict[str, str]) -> CollectionDef:
    if spec is None:
        return coll
    chosen = list(members) if spec["members"] == "channel" else [m for m in spec["members"] if m in members]
    return replace(coll, policy=members_policy([msp[m] for m in chosen]), members=chosen)


def _chaincode(cc: ChaincodeDef, channel: Channel, rules: dict[str, str | None], colls: dict[str, dict],
               msp: dict[str, str]) -> ChaincodeDef:
    rule = cc.endorsement_policy
    if cc.policy_name not in rules and cc.policy_name == derived_policy_name(channel.name) \
            and not is_implicit_meta(rule) and len(channel.members) >= 2:
        rule = members_rule([msp[m] for m in channel.members])
    return replace(cc, endorsement_policy=rule,
                   collections=[_collection(c, colls.get(c.name), channel.members, msp) for c in cc.collections])


def redefine_channel(consortium: Consortium, channel_name: str) -> Consortium:
    """``consortium`` with the chaincode definitions of ``channel_name`` recomputed over its members (see
    the module docstring); other channels are unchanged.

    Raises:
        KeyError: no such channel. ConsortiumError: the policy files are unusable.
    """
    if not any(ch.name == channel_name for ch in consortium.channels):
        raise KeyError(f"no channel {channel_name!r} in consortium {consortium.name!r}")
    rules, colls = _policy_files(consortium)
    msp = {o.name: o.msp_id for o in consortium.orgs}
    channels = [replace(ch, chaincodes=[_chaincode(cc, ch, rules, colls, msp) for cc in ch.chaincodes])
                if ch.name == channel_name else ch for ch in consortium.channels]
    return replace(consortium, channels=channels)


def changed_channels(before: Consortium, after: Consortium, chaincode: str) -> list[str]:
    """Channels of both models whose ``chaincode`` definition (endorsement rule or collection policies)
    differs: those that need a new definition sequence."""
    def key(ch: Channel) -> tuple[str, tuple[tuple[str, str], ...]] | None:
        cc = next((c for c in ch.chaincodes if c.name == chaincode), None)
        return None if cc is None else (cc.endorsement_policy, tuple((c.name, c.policy) for c in cc.collections))
    old = {ch.name: key(ch) for ch in before.channels}
    return [ch.name for ch in after.channels if ch.name in old and old[ch.name] is not None
            and key(ch) is not None and key(ch) != old[ch.name]]
