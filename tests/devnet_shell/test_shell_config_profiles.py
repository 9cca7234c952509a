"""Devnet config from the consortium; connection profiles in the INTERFACES.md format."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from qcchain_devnet.config import ConfigError, config_from_consortium, default_config, load_devnet_config
from qcchain_devnet.material import ensure_material
from qcchain_devnet.profiles import profile_path, read_devnet_json, write_devnet_json, write_profiles


def test_default_config_has_the_five_roles_and_qcchannel() -> None:
    cfg = default_config()
    assert [o.msp_id for o in cfg.orgs] == ["InspectionMSP", "RegulatorMSP", "UsingUnitMSP",
                                             "ManufacturerMSP", "MaintenanceMSP"]
    assert {o.role for o in cfg.orgs} == {"inspection_body", "regulator", "using_unit", "manufacturer",
                                          "maintenance_unit"}
    channel = cfg.channels[0]
    assert channel.name == "qcchannel" and len(channel.members) == 5
    assert channel.chaincodes[0].name == "qcchain"
    assert channel.chaincodes[0].endorsement_policy == "MAJORITY Endorsement"
    assert cfg.org("RegulatorMSP").name == "Regulator"
    with pytest.raises(ConfigError, match="Nobody"):
        cfg.org("Nobody")


def _consortium(members: list[str]) -> SimpleNamespace:
    org = SimpleNamespace(name="Alpha", msp_id="AlphaMSP", role="regulator", domain="alpha.example", peers=1)
    org2 = SimpleNamespace(name="Beta", msp_id="BetaMSP", role="manufacturer", domain="beta.example", peers=2)
    coll = SimpleNamespace(name="c1", policy="OR('AlphaMSP.member')", members=["Alpha"], required_peer_count=0,
                           max_peer_count=1, block_to_live=0, member_only_read=True, member_only_write=True)
    cc = SimpleNamespace(name="qcchain", endorsement_policy="AND('AlphaMSP.peer','BetaMSP.peer')",
                         collections=[coll])
    return SimpleNamespace(name="demo", orgs=[org, org2],
                           orderer=SimpleNamespace(name="Orderer", msp_id="OrdererMSP", domain="example"),
                           channels=[SimpleNamespace(name="ch1", members=members, chaincodes=[cc])])


def test_config_from_consortium_derives_everything() -> None:
    cfg = config_from_consortium(_consortium(["Alpha", "Beta"]))
    assert cfg.org("Beta").peer_hosts == ["peer0.beta.example", "peer1.beta.example"]
    assert cfg.channels[0].chaincodes[0].collections[0].members == ("Alpha",)
    assert cfg.chaincode_names() == ["qcchain"]


def test_config_from_consortium_names_an_unknown_member() -> None:
    with pytest.raises(ConfigError, match="Gamma"):
        config_from_consortium(_consortium(["Alpha", "Gamma"]))


def test_config_from_consortium_missing_field() -> None:
    broken = _consortium(["Alpha"])
    del broken.orderer
    with pytest.raises(ConfigError, match="orderer"):
        config_from_consortium(broken)


def test_load_devnet_config_without_a_path_always_gives_a_usable_config() -> None:
    cfg = load_devnet_config()
    assert cfg.orgs and cfg.channels and cfg.chaincode_names()


def test_default_config_is_the_project_consortium_not_a_copy() -> None:
    from qcchain_consortium.consortium import load_consortium
    project = load_consortium()
    assert default_config() == config_from_consortium(project)
    assert [c.name for c in default_config().channels] == [c.name for c in project.channels]


def test_load_devnet_config_invalid_file_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    bad = tmp_path / "consortium.yaml"
    bad.write_text("name: x\norgs: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid consortium"):
        load_devnet_config(bad)


def test_load_devnet_config_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_devnet_config(tmp_path / "nope.yaml")


def test_profiles_have_the_interfaces_format(tmp_path: Path) -> None:
    cfg = default_config().with_endpoint("127.0.0.1", 17051)
    tls = ensure_material(tmp_path / "crypto-config", cfg)
    paths = write_profiles(tmp_path, cfg, tmp_path / "crypto-config", tls)
    assert paths[0] == tmp_path / "connection-profiles" / "connection-inspection.json"
    assert len(paths) == 5 and all(p.is_file() for p in paths)
    prof = json.loads(profile_path(tmp_path, "UsingUnit").read_text())
    assert prof["name"] == "qcchain-devnet-usingunit" and prof["version"] == "1.0.0"
    assert prof["client"] == {"organization": "UsingUnit"}
    org = prof["organizations"]["UsingUnit"]
    assert org["mspid"] == "UsingUnitMSP"
    assert org["peers"] == ["peer0.usingunit.qcchain.example"]
    for user in ("Admin", "User1"):
        msp = Path(org["users"][user]["mspConfigPath"])
        assert msp.is_absolute() and (msp / "signcerts").is_dir() and (msp / "keystore/priv_sk").is_file()
    peer = prof["peers"]["peer0.usingunit.qcchain.example"]
    assert peer["url"] == "grpcs://127.0.0.1:17051"
    assert peer["tlsCACerts"]["pem"] == tls.ca_cert.read_text()
    assert peer["grpcOptions"] == {"ssl-target-name-override": "peer0.usingunit.qcchain.example",
                                   "hostnameOverride": "peer0.usingunit.qcchain.example"}
    assert prof["channels"] == {name: {"peers": {"peer0.usingunit.qcchain.example": {}}, "chaincodes": ["qcchain"]}
                                for name in ("qcchannel", "usingunit-channel")}


def test_profiles_only_list_channels_the_org_is_in(tmp_path: Path) -> None:
    cfg = config_from_consortium(_consortium(["Alpha"]))
    tls = ensure_material(tmp_path / "cc", cfg)
    write_profiles(tmp_path, cfg, tmp_path / "cc", tls)
    assert json.loads(profile_path(tmp_path, "Alpha").read_text())["channels"].keys() == {"ch1"}
    assert json.loads(profile_path(tmp_path, "Beta").read_text())["channels"] == {}


def test_devnet_json_round_trip(tmp_path: Path) -> None:
    cfg = default_config().with_chaincode_servers({"qcchain": "127.0.0.1:9999"}, {"qcchain": "qcchain_1.0:ab"})
    tls = ensure_material(tmp_path / "cc", cfg)
    write_devnet_json(tmp_path, cfg, tls, pid=1234)
    info = read_devnet_json(tmp_path)
    assert info is not None
    assert info["pid"] == 1234 and info["endpoint"] == "127.0.0.1:7051"
    assert info["chaincode_servers"]["qcchain"] == {"address": "127.0.0.1:9999", "package_id": "qcchain_1.0:ab"}
    assert "development runtime" in info["runtime"]
    assert read_devnet_json(tmp_path / "absent") is None


def test_node_config_identities_validate_in_the_core_msp(tmp_path: Path) -> None:
    """The core's MSP accepts the generated identities with the right NodeOU roles."""
    from fabric_protos.msp import identities_pb2

    from qcchain_devnet.model import MSP
    from qcchain_devnet.profiles import node_config

    cfg = default_config()
    crypto = tmp_path / "cc"
    node = node_config(cfg.with_material(crypto, ensure_material(crypto, cfg)))
    assert [o.msp_id for o in node.orgs] == [o.msp_id for o in cfg.orgs]
    assert node.channels[0].members == tuple(o.msp_id for o in cfg.orgs)
    msp = MSP(node.orgs)
    for org in cfg.orgs:
        users = crypto / "peerOrganizations" / org.domain / "users"
        cases = {users / f"Admin@{org.domain}/msp": "admin", users / f"User1@{org.domain}/msp": "client"}
        cases[crypto / "peerOrganizations" / org.domain / "peers" / org.peer_hosts[0] / "msp"] = "peer"
        for msp_dir, role in cases.items():
            cert = next((msp_dir / "signcerts").glob("*.pem")).read_bytes()
            sid = identities_pb2.SerializedIdentity(mspid=org.msp_id, id_bytes=cert).SerializeToString()
            assert role in msp.deserialize(sid, "qcchannel").roles


def test_sdk_reads_the_profiles_and_identities(tmp_path: Path) -> None:
    from qcchain_gateway.msp import load_identity
    from qcchain_gateway.profile import load_profile

    cfg = default_config().with_endpoint("127.0.0.1", 17051)
    tls = ensure_material(tmp_path / "cc", cfg)
    for path in write_profiles(tmp_path, cfg, tmp_path / "cc", tls):
        prof = load_profile(path)
        org = prof.organizations[prof.organization]
        identity, signer = load_identity(org.users["User1"], org.msp_id)
        assert identity.msp_id == org.msp_id
        assert signer(b"\x00" * 32)
