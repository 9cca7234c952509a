"""Chaincode definitions recomputed over a channel's members when an org joins or leaves (pure model side of
the new definition sequence): ``members: channel`` collections widen and narrow, named endorsement rules
stay as written, a run-time channel's derived rule follows its members, explicit collection lists do not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from qcchain_consortium.consortium import Consortium, load_consortium
from qcchain_consortium.errors import ConsortiumError
from qcchain_consortium.membership import admit, join_channel, new_channel, parse_org_file, retire
from qcchain_consortium.redefine import changed_channels, members_rule, redefine_channel

ROOT = Path(__file__).resolve().parents[2]
ORG = {"org": {"name": "Inspection2", "msp_id": "Inspection2MSP", "role": "inspection_body",
               "domain": "inspection2.qcchain.example", "peers": 1, "full_name": "Second Inspection Institute",
               "credit_code": "12100000400022657P"}}


def _cc(consortium: Consortium, channel: str) -> Any:
    return next(c for c in consortium.channels if c.name == channel).chaincodes[0]


def test_join_widens_channel_collections_and_keeps_named_rules() -> None:
    base = load_consortium()
    joined = admit(base, parse_org_file(ORG))
    cc = _cc(joined, "qcchannel")
    assert cc.endorsement_policy == "MAJORITY Endorsement"  # implicit-meta: follows the channel by itself
    (l3,) = cc.collections
    assert "'Inspection2MSP.member'" in l3.policy and l3.members[-1] == "Inspection2"
    assert l3.policy == "OR(" + ", ".join(f"'{o.msp_id}.member'" for o in joined.orgs) + ")"
    assert changed_channels(base, joined, "qcchain") == ["qcchannel"]  # the bilateral ones are unchanged
    # leaving narrows it back: policy and members, not the members alone
    left = retire(joined, "Inspection2MSP")
    assert _cc(left, "qcchannel").collections[0].policy == _cc(base, "qcchannel").collections[0].policy
    # its bilateral channel keeps only the regulator: changed in the model, left as it is on Fabric
    assert changed_channels(joined, left, "qcchain") == ["qcchannel", "inspection2-channel"]


def test_leave_narrows_the_collection_policy() -> None:
    base = load_consortium()
    left = retire(base, "ManufacturerMSP")
    l3 = _cc(left, "qcchannel").collections[0]
    assert "ManufacturerMSP" not in l3.policy and "Manufacturer" not in l3.members
    assert "qcchannel" in changed_channels(base, left, "qcchain")


def test_runtime_channel_rule_follows_its_members() -> None:
    base = admit(load_consortium(), parse_org_file(ORG))
    two = new_channel(base, "qc2", ["Regulator", "Inspection"])
    assert _cc(two, "qc2").endorsement_policy == "MAJORITY Endorsement"  # the consortium's rule is implicit-meta
    small = _signature_consortium()
    two = new_channel(admit(small, parse_org_file(ORG)), "qc2", ["Regulator", "Inspection"])
    assert _cc(two, "qc2").endorsement_policy == "AND('RegulatorMSP.peer', 'InspectionMSP.peer')"
    three = join_channel(two, "qc2", "Inspection2")
    cc = _cc(three, "qc2")
    assert cc.endorsement_policy == members_rule(["RegulatorMSP", "InspectionMSP", "Inspection2MSP"]) \
        == "OutOf(2, 'RegulatorMSP.peer', 'InspectionMSP.peer', 'Inspection2MSP.peer')"
    assert cc.collections[0].members == ["Regulator", "Inspection", "Inspection2"]
    assert changed_channels(two, three, "qcchain") == ["qc2"]
    back = retire(three, "Inspection2MSP")
    assert _cc(back, "qc2").endorsement_policy == "AND('RegulatorMSP.peer', 'InspectionMSP.peer')"


def test_named_signature_rule_is_kept(tmp_path: Path) -> None:
    small = _signature_consortium()
    joined = admit(small, parse_org_file(ORG))
    cc = _cc(joined, "qcchannel")
    assert cc.endorsement_policy == "AND('InspectionMSP.peer', 'RegulatorMSP.peer')"  # as the file says
    assert "'Inspection2MSP.member'" in cc.collections[0].policy


def test_explicit_collection_members_are_not_widened(tmp_path: Path) -> None:
    colls = yaml.safe_load((ROOT / "policies" / "collections.yaml").read_text())
    colls["collections"]["collectionIR"] = {**colls["collections"]["collectionL3"], "members": ["Inspection", "Regulator"]}
    (tmp_path / "collections.yaml").write_text(yaml.safe_dump(colls))
    doc = yaml.safe_load((ROOT / "network" / "consortium.yaml").read_text())
    doc["channels"][0]["chaincodes"][0]["collections"].append("collectionIR")
    doc["policies"] = {"endorsement": str(ROOT / "policies" / "endorsement.yaml"),
                       "collections": str(tmp_path / "collections.yaml")}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(doc))
    base = load_consortium(tmp_path / "c.yaml")
    joined = admit(base, parse_org_file(ORG))
    l3, ir = _cc(joined, "qcchannel").collections
    assert "Inspection2MSP" in l3.policy  # members: channel
    assert ir == _cc(base, "qcchannel").collections[1]  # its own list: not widened


def test_unusable_policy_file_and_unknown_channel(tmp_path: Path) -> None:
    base = load_consortium()
    with pytest.raises(KeyError, match="nochannel"):
        redefine_channel(base, "nochannel")
    (tmp_path / "collections.yaml").write_text("collections: [not, a, map]\n")
    broken = Consortium(base.name, base.orgs, base.orderer, base.channels, policy_files={
        **base.policy_files, "collections": ("x", tmp_path / "collections.yaml")})
    with pytest.raises(ConsortiumError):
        redefine_channel(broken, "qcchannel")


def _signature_consortium() -> Consortium:
    """The small consortium of the Fabric tests: qcchannel's qcchain endorsed by AND(Inspection, Regulator)."""
    doc = yaml.safe_load((ROOT / "tests" / "integration" / "small-consortium.yaml").read_text())
    doc["policies"] = {k: str((ROOT / "tests" / "integration" / v).resolve()) for k, v in doc["policies"].items()}
    doc["channels"][0]["chaincodes"] = doc["channels"][0]["chaincodes"][:1]
    for org, code in zip(doc["orgs"], ("12100000400011546Y", "11100000000013127D")):
        org["credit_code"] = code
    path = ROOT / "tests" / "integration" / "small-consortium.yaml"
    from qcchain_consortium.consortium import _build

    problems: list[Any] = []
    built = _build(doc, path, problems)
    assert not problems, problems
    return built
