"""Channels at run time as a change of the model (issue 18): a new channel for a set of members, an
existing org joining an existing channel, both kept in ``orgs.json`` and folded by ``load_layout``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qcchain_consortium.consortium import load_consortium
from qcchain_consortium.membership import MembershipError, join_channel, new_channel
from qcchain_consortium import orgoverlay
from qcchain_network.derive import derive
from qcchain_network.render.configtx import configtx


def test_new_channel_follows_the_consortium_chaincode() -> None:
    base = load_consortium(None)
    names = [o.name for o in base.orgs]
    two = new_channel(base, "qc2", names[:2])
    ch = two.channels[-1]
    assert ch.name == "qc2" and ch.members == names[:2] and [cc.name for cc in ch.chaincodes] == ["qcchain"]
    cc = ch.chaincodes[0]
    msps = [base.org(n).msp_id for n in names[:2]]
    template = next(c for c in base.channels[0].chaincodes if c.name == "qcchain")
    if template.uses_channel_policy:
        assert cc.endorsement_policy == template.endorsement_policy
    else:
        assert cc.endorsement_policy == f"AND('{msps[0]}.peer', '{msps[1]}.peer')"
    assert all(c.members == names[:2] and all(m in c.policy for m in msps) for c in cc.collections)
    assert len(cc.collections) == len(template.collections)
    # the derived network renders it (channel block name, profiles) without moving any port
    new, old = derive(two, Path("/tmp/x")), derive(base, Path("/tmp/x"))
    assert [(n.host, n.listen) for n in new.peers + new.orderers] == [(n.host, n.listen) for n in old.peers + old.orderers]
    profile = configtx(new)["Profiles"]["qc2"]
    assert sorted(o["Name"] for o in profile["Application"]["Organizations"]) == sorted(msps)


@pytest.mark.parametrize(("name", "members", "words"), [
    ("QC2", None, "lowercase"), ("qcchannel", None, "already exists"), ("qc2", ["Nobody", "Regulator"], "Nobody"),
    ("qc2", ["Regulator"], "two or more"), ("qc2", ["Regulator", "Regulator"], "two or more")])
def test_new_channel_refusals(name: str, members: list[str] | None, words: str) -> None:
    base = load_consortium(None)
    with pytest.raises(MembershipError) as err:
        new_channel(base, name, members or [o.name for o in base.orgs][:2])
    assert words in str(err.value) and "\n" not in str(err.value)


def test_join_channel_and_refusals() -> None:
    base = load_consortium(None)
    names = [o.name for o in base.orgs]
    two = new_channel(base, "qc2", names[:2])
    three = join_channel(two, "qc2", names[2])
    assert three.channels[-1].members == names[:3]
    for channel, org, words in (("qc2", names[0], "already on"), ("nope", names[2], "no channel"),
                                ("qc2", "Nobody", "not a member org")):
        with pytest.raises(MembershipError, match=words):
            join_channel(two, channel, org)


def test_overlay_round_trip_and_fold(tmp_path: Path) -> None:
    base = load_consortium(None)
    names = [o.name for o in base.orgs]
    ovl = orgoverlay.OrgOverlay().with_event(orgoverlay.Event("channel", channel="qc2", members=tuple(names[:2])))
    ovl = ovl.with_event(orgoverlay.Event("channel-join", channel="qc2", org=names[2]))
    orgoverlay.save(tmp_path, ovl)
    loaded = orgoverlay.load(tmp_path)
    assert [e.to_json() for e in loaded.events] == [e.to_json() for e in ovl.events]
    assert orgoverlay.fold(base, loaded).channels[-1].members == names[:3]
    for bad, words in (({"action": "channel", "channel": "qc3", "members": "x"}, "members"),
                       ({"action": "channel-join", "channel": "qc2"}, "org"),
                       ({"action": "grow"}, "action must be")):
        (tmp_path / "orgs.json").write_text(json.dumps({"events": [bad]}))
        with pytest.raises(orgoverlay.OrgOverlayError, match=words):
            orgoverlay.load(tmp_path)
    (tmp_path / "orgs.json").write_text(json.dumps({"events": [{"action": "channel-join", "channel": "zz",
                                                                 "org": names[0]}]}))
    with pytest.raises(orgoverlay.OrgOverlayError, match=r"events\[0\]: no channel 'zz'"):
        orgoverlay.fold(base, orgoverlay.load(tmp_path))
