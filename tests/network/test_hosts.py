"""Per-organisation host addresses: validation, the per-host port plan, and every rendered endpoint, TLS
SAN, profile and bundle endpoint using the org's own host (snapshot ``snapshots/multihost``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from qcchain_consortium.consortium import ConsortiumError, load_consortium
from qcchain_consortium.hosts import host_error
from qcchain_network.derive import derive
from qcchain_network.render import rendered_files
from test_render_snapshots import _check_snapshots

HOSTS = {"Inspection": "10.20.0.2", "Regulator": "10.20.0.3", "UsingUnit": "10.20.0.4",
         "Manufacturer": "10.20.0.5", "Maintenance": "node5.qcchain-hosts.example"}


def _spread(data: Any) -> None:
    data["network"]["host"] = "10.20.0.1"
    data["orderer"]["host"] = "10.20.0.10"
    for org in data["orgs"]:
        org["host"] = HOSTS[org["name"]]


Edit = Callable[[str, Callable[[Any], None]], Path]


def test_multihost_snapshot(tmp_path: Path, edit: Edit) -> None:
    out = tmp_path / "net"
    files = rendered_files(derive(load_consortium(edit("network/consortium.yaml", _spread)), out), ca=True)
    _check_snapshots("multihost", files, out)


def test_every_endpoint_is_the_orgs_own_host(tmp_path: Path, edit: Edit) -> None:
    layout = derive(load_consortium(edit("network/consortium.yaml", _spread)), tmp_path)
    assert {p.org: p.address for p in layout.peers} == HOSTS
    assert {n.address for n in layout.orderers} == {"10.20.0.10"}
    # ports start again at base_port on each host; the orderers' host has its three blocks
    assert {p.listen for p in layout.peers} == {7050}
    assert [n.listen for n in layout.orderers] == [7050, 7060, 7070]
    assert layout.chaincode_ports == {"qcchain": 7050}  # on network.host, alone there
    files = rendered_files(layout)
    for peer in layout.peers:
        env = files[peer.env_file]
        for key in ("LISTENADDRESS", "_ADDRESS", "CHAINCODEADDRESS", "EXTERNALENDPOINT"):
            lines = [ln for ln in env.splitlines() if key in ln and "OPERATIONS" not in ln]
            assert lines and all(f"'{peer.address}:" in ln for ln in lines), (peer.host, key)
        assert f"CORE_OPERATIONS_LISTENADDRESS='{peer.address}:" in env
        assert f"CORE_PEER_GOSSIP_BOOTSTRAP='{peer.address}:{peer.listen}'" in env
    for node in layout.orderers:
        env = files[node.env_file]
        assert "ORDERER_GENERAL_LISTENADDRESS='10.20.0.10'" in env
        assert "ORDERER_ADMIN_LISTENADDRESS='10.20.0.10:" in env
        assert "ORDERER_OPERATIONS_LISTENADDRESS='10.20.0.10:" in env
    qc = yaml.safe_load(files[tmp_path / "configtx" / "configtx.yaml"])["Profiles"]["qcchannel"]
    assert {o["Name"]: o["AnchorPeers"][0]["Host"] for o in qc["Application"]["Organizations"]} == {
        f"{k}MSP": v for k, v in HOSTS.items()}
    assert qc["Orderer"]["Organizations"][0]["OrdererEndpoints"] == ["10.20.0.10:7050", "10.20.0.10:7060",
                                                                     "10.20.0.10:7070"]
    assert {c["Host"] for c in qc["Orderer"]["EtcdRaft"]["Consenters"]} == {"10.20.0.10"}
    crypto = yaml.safe_load(files[tmp_path / "crypto-config.yaml"])
    assert {s["SANS"][-1] for s in crypto["OrdererOrgs"][0]["Specs"]} == {"10.20.0.10"}
    assert {o["Name"]: o["Template"]["SANS"] for o in crypto["PeerOrgs"]} == {
        k: ["localhost", "127.0.0.1", v] for k, v in HOSTS.items()}
    peers = json.loads(files[tmp_path / "network.json"])["peers"]
    assert {p["host"]: p["address"] for p in peers} == {p.host: p.address for p in layout.peers}


def test_ca_enrolment_names_the_node_address(tmp_path: Path, edit: Edit) -> None:
    from qcchain_network.ca import enrollees
    from qcchain_network.derive import ca_nodes

    layout = derive(load_consortium(edit("network/consortium.yaml", _spread)), tmp_path)
    for node in ca_nodes(layout):
        for e in enrollees(layout, node):
            if e.server:
                assert e.hosts[-1] == ("10.20.0.10" if node.kind == "orderer" else HOSTS[node.org]), e.name


def test_profiles_and_bundles_use_the_hosts(tmp_path: Path, edit: Edit) -> None:
    from qcchain_network import bundles
    from qcchain_network.overlay import Overlay
    from qcchain_network.render.profiles import connection_profile

    layout = derive(load_consortium(edit("network/consortium.yaml", _spread)), tmp_path / "net")
    for peer in layout.peers:  # profiles read each peer's TLS CA certificate
        (peer.tls_dir).mkdir(parents=True)
        (peer.tls_dir / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    profile = connection_profile(layout, "Regulator")
    assert profile["peers"]["peer0.regulator.qcchain.example"]["url"] == "grpcs://10.20.0.3:7050"
    plan = bundles.plan(layout, "Inspection", tmp_path / "root", Overlay())
    endpoints = json.loads(str(plan[Path("endpoints.json")]))
    assert endpoints["addresses"]["orderer0.qcchain.example"] == "10.20.0.10"
    assert endpoints["addresses"]["peer0.manufacturer.qcchain.example"] == "10.20.0.5"
    env = str(plan[Path("env/peer0.inspection.qcchain.example.env")])
    assert "CORE_PEER_LISTENADDRESS='10.20.0.2:7050'" in env and str(tmp_path / "root") in env


def test_default_consortium_has_no_addresses_in_network_json(tmp_path: Path) -> None:
    layout = derive(load_consortium(), tmp_path)
    assert not layout.consortium.multi_host
    assert all("address" not in p for p in json.loads(rendered_files(layout)[tmp_path / "network.json"])["peers"])


@pytest.mark.parametrize("host, fragment", [
    ("10.20.0.300", "not a valid IPv4 address"), ("0.0.0.0", "unspecified, multicast or broadcast"),
    ("224.0.0.1", "unspecified, multicast or broadcast"), ("bad_host!", "neither an IPv4 address"),
    ("-x.example", "neither an IPv4 address")])
def test_bad_host_is_reported(edit: Edit, host: str, fragment: str) -> None:
    def mutate(data: Any) -> None:
        _spread(data)
        data["orgs"][1]["host"] = host

    with pytest.raises(ConsortiumError) as exc:
        load_consortium(edit("network/consortium.yaml", mutate))
    assert "$.orgs[1].host" in str(exc.value) and fragment in str(exc.value)


def test_host_syntax() -> None:
    assert host_error("10.1.2.3") is None and host_error("peer-a.example.org") is None
    assert host_error("localhost") is None and host_error("a" * 64) is not None


def test_loopback_mixed_with_other_hosts_is_reported(edit: Edit) -> None:
    def mutate(data: Any) -> None:
        _spread(data)
        del data["orgs"][2]["host"]  # UsingUnit falls back to network.host...
        data["network"]["host"] = "127.0.0.1"  # ...which is loopback, as are the chaincode servers

    with pytest.raises(ConsortiumError) as exc:
        load_consortium(edit("network/consortium.yaml", mutate))
    text = str(exc.value)
    assert "UsingUnit is on loopback host '127.0.0.1'" in text and "$.network.host" in text
    assert "2 problems" in text


def test_same_host_ports_never_clash_but_explicit_ones_are_reported(edit: Edit) -> None:
    def shared(data: Any) -> None:
        _spread(data)
        data["orgs"][1]["host"] = data["orgs"][0]["host"]  # Inspection and Regulator on one host

    layout = derive(load_consortium(edit("network/consortium.yaml", shared)), Path("/tmp/x"))
    ports = [(p.address, port) for p in layout.peers for port in (p.listen, p.chaincode, p.operations)]
    assert len(ports) == len(set(ports))
    assert [p.listen for p in layout.peers[:2]] == [7050, 7060]

    def clash(data: Any) -> None:
        shared(data)
        data["orgs"][1]["base_port"] = 7050

    with pytest.raises(ConsortiumError) as exc:
        load_consortium(edit("network/consortium.yaml", clash))
    assert "port 10.20.0.2:7050 is used by both peer0 of Inspection and peer0 of Regulator" in str(exc.value)
