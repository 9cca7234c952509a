"""The consortium model: the default file, and every kind of problem reported at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from qcchain_consortium.consortium import load_consortium
from qcchain_network.errors import ConsortiumError, ConsortiumFileNotFound

Edit = Callable[[str, Callable[[Any], None]], Path]


def test_default_consortium_matches_interfaces() -> None:
    c = load_consortium()
    assert [(o.name, o.msp_id, o.role) for o in c.orgs] == [
        ("Inspection", "InspectionMSP", "inspection_body"), ("Regulator", "RegulatorMSP", "regulator"),
        ("UsingUnit", "UsingUnitMSP", "using_unit"), ("Manufacturer", "ManufacturerMSP", "manufacturer"),
        ("Maintenance", "MaintenanceMSP", "maintenance_unit")]
    assert all(o.domain == f"{o.name.lower()}.qcchain.example" for o in c.orgs)
    assert (c.orderer.msp_id, c.orderer.consensus, c.orderer.nodes) == ("OrdererMSP", "raft", 3)
    names = [ch.name for ch in c.channels]
    assert names == ["qcchannel", "inspection-channel", "usingunit-channel", "manufacturer-channel",
                     "maintenance-channel"]
    qc = c.channels[0]
    assert len(qc.members) == 5 and qc.chaincodes[0].name == "qcchain"
    assert qc.chaincodes[0].endorsement_policy == "MAJORITY Endorsement"
    insp = c.channels[1]
    assert insp.members == ["Inspection", "Regulator"]
    assert insp.chaincodes[0].endorsement_policy == "AND('InspectionMSP.peer', 'RegulatorMSP.peer')"
    coll = insp.chaincodes[0].collections[0]
    assert coll.name == "collectionL3" and coll.members == ["Inspection", "Regulator"]
    assert coll.policy == "OR('InspectionMSP.member', 'RegulatorMSP.member')"
    assert coll.member_only_read and coll.member_only_write
    assert all(ch.chaincodes[0].collections[0].name == "collectionL3" for ch in c.channels)


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(ConsortiumFileNotFound) as info:
        load_consortium(tmp_path / "nope.yaml")
    assert isinstance(info.value, FileNotFoundError) and "nope.yaml" in str(info.value)


def test_yaml_syntax_error_names_line(workspace: Path) -> None:
    path = workspace / "network" / "consortium.yaml"
    path.write_text("name: x\norgs: [\n")
    with pytest.raises(ConsortiumError, match=r"consortium.yaml: \$: not valid YAML \(line 3"):
        load_consortium(path)


def test_schema_errors_all_at_once(edit: Edit) -> None:
    def mutate(d: Any) -> None:
        d["orgs"][0]["role"] = "boss"
        d["orgs"][1]["peers"] = 0
        d["orderer"]["consensus"] = "pow"
        d["channels"][0]["colour"] = "red"
        del d["orgs"][2]["msp_id"]

    with pytest.raises(ConsortiumError) as info:
        load_consortium(edit("network/consortium.yaml", mutate))
    paths = {p.path for p in info.value.problems}
    assert {"$.orgs[0].role", "$.orgs[1].peers", "$.orderer.consensus", "$.channels[0]", "$.orgs[2]"} <= paths
    assert all(p.file.endswith("consortium.yaml") for p in info.value.problems)
    assert isinstance(info.value, ValueError)
    assert "unknown field(s)" in str(info.value) and "'colour'" in str(info.value)


def test_semantic_errors_all_at_once(edit: Edit) -> None:
    def mutate(d: Any) -> None:
        d["orgs"][1]["msp_id"] = "InspectionMSP"                        # duplicate MSP ID
        d["channels"][1]["members"] = ["Inspection", "Nobody"]           # unknown org
        d["channels"][2]["chaincodes"][0]["endorsement_policy"] = "nope"  # unknown policy
        d["channels"][3]["chaincodes"][0]["collections"] = ["collectionX"]
        d["channels"][4]["name"] = "qcchannel"                            # duplicate channel
        d["orderer"].update(consensus="bft", nodes=3)

    with pytest.raises(ConsortiumError) as info:
        load_consortium(edit("network/consortium.yaml", mutate))
    text = str(info.value)
    for needle in ("$.orgs[1].msp_id: duplicate MSP ID 'InspectionMSP'",
                   "$.channels[1].members[1]: unknown org 'Nobody'",
                   "$.channels[2].chaincodes[0].endorsement_policy: unknown endorsement policy 'nope'",
                   "$.channels[3].chaincodes[0].collections[0]: unknown collection 'collectionX'",
                   "$.channels[4].name: duplicate channel name 'qcchannel'",
                   "$.orderer.nodes: bft needs at least 4 nodes"):
        assert needle in text, text


def test_policy_naming_org_outside_channel(edit: Edit) -> None:
    path = edit("network/consortium.yaml",
                lambda d: d["channels"][1]["chaincodes"][0].update(endorsement_policy="usingunit_with_regulator"))
    with pytest.raises(ConsortiumError, match="names UsingUnitMSP, not a member of the channel"):
        load_consortium(path)


def test_bad_policy_syntax_in_policy_file(edit: Edit) -> None:
    edit("policies/endorsement.yaml",
         lambda d: d["policies"]["inspection_with_regulator"].update(rule="AND('InspectionMSP.peer', "))
    with pytest.raises(ConsortiumError) as info:
        load_consortium(edit("network/consortium.yaml", lambda d: None))
    (problem,) = info.value.problems
    assert problem.file.endswith("endorsement.yaml")
    assert problem.path == "$.policies.inspection_with_regulator.rule"
    assert "bad policy syntax" in problem.message


def test_port_clash(edit: Edit) -> None:
    path = edit("network/consortium.yaml", lambda d: d["orgs"][1].update(base_port=7060))
    with pytest.raises(ConsortiumError, match="port clash: port 7060 is used by both orderer1 and peer0 of Regulator"):
        load_consortium(path)


def test_bft_four_nodes_ok(edit: Edit) -> None:
    c = load_consortium(edit("network/consortium.yaml", lambda d: d["orderer"].update(consensus="bft", nodes=4)))
    assert (c.orderer.consensus, c.orderer.nodes) == ("bft", 4)
    assert [b.listen for b in c.ports().orderers] == [7050, 7060, 7070, 7080]


def test_credit_code_check_character_is_validated(edit: Edit) -> None:
    def bad(doc: Any) -> None:
        code = doc["orgs"][0]["credit_code"]
        doc["orgs"][0]["credit_code"] = code[:17] + ("0" if code[17] != "0" else "1")

    with pytest.raises(ConsortiumError) as err:
        load_consortium(edit("network/consortium.yaml", bad))
    assert "$.orgs[0].credit_code" in str(err.value) and "check character" in str(err.value)
