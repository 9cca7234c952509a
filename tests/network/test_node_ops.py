"""Pure parts of adding/removing nodes: the node overlay, cryptogen extend input, consenter edits of real
decoded channel configs (etcdraft from the spec's Fabric v3.1.5 genesis block, BFT from a configtxgen block
of this project), the fault-tolerance minimum, the registry verdicts and the CLI's clear errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from qcchain_network import configupdate, overlay
from qcchain_network.__main__ import main
from qcchain_consortium.consortium import load_consortium
from qcchain_network.derive import apply_overlay, derive
from qcchain_network.netdir import load_layout
from qcchain_network.noderecord import cert_sha256, read_record
from qcchain_network.nodeops import extend_config, next_index
from qcchain_network.nodeverify import check_consenters
from qcchain_network.registry import Registry, RegistryError, active_match

ROOT = Path(__file__).resolve().parents[2]
SPEC_GENESIS = Path("/work/shared/spec/fabric-v3.1.5-blocks/genesis.json")
BFT_CONFIG = Path(__file__).parent / "data" / "bft-config.json"
SMALL = ROOT / "tests" / "integration" / "small-consortium.yaml"


def _raft_config() -> dict:
    if not SPEC_GENESIS.is_file():
        pytest.skip(f"{SPEC_GENESIS} not present")
    return json.loads(SPEC_GENESIS.read_text())["data"]["data"][0]["payload"]["data"]["config"]


def _bft_config() -> dict:
    return json.loads(BFT_CONFIG.read_text())


def _pem(n: int) -> bytes:
    return f"-----BEGIN CERTIFICATE-----\nfake{n}\n-----END CERTIFICATE-----\n".encode()


# ------------------------------------------------------------------ overlay
def test_overlay_roundtrip_and_apply(tmp_path: Path) -> None:
    base = derive(load_consortium(SMALL), tmp_path)
    ovl = overlay.Overlay().with_added(overlay.Added("peer", 2, "peer2.inspection.qcchain.example", 0, "Inspection"))
    ovl = ovl.with_added(overlay.Added("orderer", 3, "orderer3.qcchain.example", ovl.next_slot()))
    overlay.save(tmp_path, ovl)
    assert overlay.load(tmp_path) == ovl
    layout = load_layout(SMALL, tmp_path)
    assert layout == derive(load_consortium(SMALL), tmp_path, overlay=ovl) == apply_overlay(base, ovl)
    hosts = [p.host for p in layout.peers_of("Inspection")]
    assert hosts[-1] == "peer2.inspection.qcchain.example" and len(layout.orderers) == 4
    added_ports = {layout.peers_of("Inspection")[-1].listen, layout.orderers[-1].listen}
    base_ports = {q for n in base.orderers for q in (n.listen, n.admin, n.operations)}
    base_ports |= {q for p in base.peers for q in (p.listen, p.chaincode, p.operations)}
    base_ports |= set(base.chaincode_ports.values())
    assert added_ports.isdisjoint(base_ports) and min(added_ports) > max(base_ports)
    assert derive(load_consortium(SMALL), tmp_path) == base  # pure: the overlay file is not read


def test_overlay_remove_base_and_added(tmp_path: Path) -> None:
    ovl = overlay.Overlay([overlay.Added("orderer", 3, "o3", 0)])
    assert ovl.without("o3", set()).added == [] and ovl.without("o3", set()).removed == ["o3"]
    assert ovl.forget("o3") == overlay.Overlay()
    removed = ovl.without("orderer0.qcchain.example", {"orderer0.qcchain.example"})
    assert removed.removed == ["orderer0.qcchain.example"]
    overlay.save(tmp_path, removed)
    layout = load_layout(SMALL, tmp_path)
    assert "orderer0.qcchain.example" not in [n.host for n in layout.orderers]
    with pytest.raises(overlay.OverlayError, match="no node named 'nope'"):
        ovl.without("nope", {"orderer0.qcchain.example"})
    with pytest.raises(overlay.OverlayError, match="already in the node overlay"):
        ovl.with_added(overlay.Added("orderer", 3, "o3", 1))
    assert overlay.Overlay([overlay.Added("orderer", 3, "o3", 0), overlay.Added("orderer", 4, "o4", 2)]).next_slot() == 1


@pytest.mark.parametrize("doc, needle", [
    ([], "expected"),
    ({"added": [{"kind": "ca", "index": 0, "host": "x", "slot": 0}]}, "kind"),
    ({"added": [{"kind": "peer", "index": 1, "host": "x", "slot": 0}]}, "org"),
    ({"added": [{"kind": "orderer", "index": -1, "host": "x", "slot": 0}]}, "non-negative"),
    ({"added": [{"kind": "orderer", "index": 1, "host": "x", "slot": 0},
                {"kind": "orderer", "index": 2, "host": "x", "slot": 1}]}, "twice"),
    ({"removed": [3]}, "host names"),
])
def test_overlay_rejects_malformed(doc: object, needle: str) -> None:
    with pytest.raises(overlay.OverlayError, match=needle):
        overlay.parse(doc)


def test_overlay_malformed_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / overlay.FILE).write_text("{not json")
    with pytest.raises(overlay.OverlayError, match="nodes.json: unreadable"):
        load_layout(SMALL, tmp_path)
    assert derive(load_consortium(SMALL), tmp_path).peers  # derive reads no file


def test_overlay_peer_of_an_unknown_org_is_refused(tmp_path: Path) -> None:
    ovl = overlay.Overlay([overlay.Added("peer", 2, "peer2.nobody.example", 0, "Nobody")])
    with pytest.raises(overlay.OverlayError, match="unknown org 'Nobody'"):
        derive(load_consortium(SMALL), tmp_path, overlay=ovl)


def test_extend_config_and_next_index(tmp_path: Path) -> None:
    overlay.save(tmp_path, overlay.Overlay([overlay.Added("peer", 2, "peer2.inspection.qcchain.example", 0,
                                                          "Inspection"),
                                            overlay.Added("orderer", 3, "orderer3.qcchain.example", 1)]))
    cfg = extend_config(load_layout(SMALL, tmp_path))
    counts = {o["Name"]: o["Template"]["Count"] for o in cfg["PeerOrgs"]}
    assert counts == {"Inspection": 3, "Regulator": 1}
    assert [s["Hostname"] for s in cfg["OrdererOrgs"][0]["Specs"]][-1] == "orderer3"
    peers = tmp_path / "peers"
    for name in ("peer0.a", "peer1.a", "peer7.a", "junk"):
        (peers / name).mkdir(parents=True)
    assert next_index(peers, "peer", {"peer0.a", "peer1.a", "peer7.a"}) == 8
    assert next_index(tmp_path / "none", "peer") == 0
    # peer1's identity was generated by an add that was refused: it is the next node (its proposal stays valid)
    assert next_index(peers, "peer", {"peer0.a", "peer7.a"}) == 1
    # ... unless it was removed once: a removed identity never comes back
    assert next_index(peers, "peer", {"peer0.a", "peer7.a"}, {"peer1.a"}) == 8


# ------------------------------------------------------------------ consenter edits
def test_raft_add_and_remove_consenter_on_real_config() -> None:
    config = _raft_config()
    assert configupdate.consensus_type(config) == "etcdraft"
    before = configupdate.consenters(config)
    msp = next(iter(config["channel_group"]["groups"]["Orderer"]["groups"]))
    added = configupdate.add_consenter(config, msp, "127.0.0.1", 7060, _pem(1))
    after = configupdate.consenters(added)
    assert len(after) == len(before) + 1 and after[-1].address == "127.0.0.1:7060"
    assert after[-1].tls_cert_pem == _pem(1)
    raw = added["channel_group"]["groups"]["Orderer"]["values"]["ConsensusType"]["value"]["metadata"]["consenters"][-1]
    assert base64.b64decode(raw["client_tls_cert"]) == _pem(1)
    assert "127.0.0.1:7060" in configupdate.endpoints(added, msp)
    assert configupdate.consenters(config) == before  # the input is not modified
    with pytest.raises(configupdate.ConfigUpdateError, match="already a consenter"):
        configupdate.add_consenter(added, msp, "127.0.0.1", 7060, _pem(2))
    # the spec network has a single raft node: taking any away is refused (raft needs 3)
    with pytest.raises(configupdate.BelowMinimum, match="at least 3"):
        configupdate.remove_consenter(added, msp, "127.0.0.1", 7060)


def test_raft_remove_down_to_three_then_refused() -> None:
    config = _raft_config()
    msp = next(iter(config["channel_group"]["groups"]["Orderer"]["groups"]))
    for i, port in enumerate((7060, 7070, 7080)):
        config = configupdate.add_consenter(config, msp, "127.0.0.1", port, _pem(i))
    assert len(configupdate.consenters(config)) == 4
    three = configupdate.remove_consenter(config, msp, "127.0.0.1", 7080)
    assert [c.port for c in configupdate.consenters(three)][-1] == 7070
    assert "127.0.0.1:7080" not in configupdate.endpoints(three, msp)
    with pytest.raises(configupdate.BelowMinimum, match="leave 2 etcdraft"):
        configupdate.remove_consenter(three, msp, "127.0.0.1", 7070)
    with pytest.raises(configupdate.ConfigUpdateError, match="not a consenter"):
        configupdate.remove_consenter(three, msp, "127.0.0.1", 9999)


def test_bft_consenter_mapping() -> None:
    config = _bft_config()
    assert configupdate.consensus_type(config) == "BFT"
    before = configupdate.consenters(config)
    assert [c.id for c in before] == [1, 2, 3, 4]
    with pytest.raises(configupdate.BelowMinimum, match="at least 4"):
        configupdate.remove_consenter(config, "OrdererMSP", before[0].host, before[0].port)
    with pytest.raises(configupdate.ConfigUpdateError, match="identity"):
        configupdate.add_consenter(config, "OrdererMSP", "127.0.0.1", 1, _pem(1))
    added = configupdate.add_consenter(config, "OrdererMSP", "127.0.0.1", 37990, _pem(1), identity_pem=_pem(9))
    new = configupdate.consenters(added)[-1]
    assert (new.id, new.identity_pem, new.address) == (5, _pem(9), "127.0.0.1:37990")
    mapping = added["channel_group"]["groups"]["Orderer"]["values"]["Orderers"]["value"]["consenter_mapping"][-1]
    assert mapping["msp_id"] == "OrdererMSP"
    back = configupdate.remove_consenter(added, "OrdererMSP", "127.0.0.1", 37990)
    assert configupdate.consenters(back) == before
    assert configupdate.endpoints(back, "OrdererMSP") == configupdate.endpoints(config, "OrdererMSP")


def test_bft_block_validation_policy_follows_the_mapping() -> None:
    config = _bft_config()
    orderer = config["channel_group"]["groups"]["Orderer"]
    mapping = orderer["values"]["Orderers"]["value"]["consenter_mapping"]
    # the function reproduces exactly what configtxgen wrote for the 4 genesis consenters
    assert configupdate.bft_block_validation(mapping) == orderer["policies"]["BlockValidation"]["policy"]["value"]
    assert [configupdate.bft_quorum(n) for n in (4, 5, 6, 7, 10)] == [3, 4, 4, 5, 7]
    added = configupdate.add_consenter(config, "OrdererMSP", "127.0.0.1", 37990, _pem(1), identity_pem=_pem(9))
    value = added["channel_group"]["groups"]["Orderer"]["policies"]["BlockValidation"]["policy"]["value"]
    assert value["rule"]["n_out_of"]["n"] == 4 and len(value["identities"]) == 5
    assert base64.b64decode(value["identities"][-1]["principal"]["id_bytes"]) == _pem(9)


def test_not_a_config() -> None:
    with pytest.raises(configupdate.ConfigUpdateError, match="not a channel config"):
        configupdate.consensus_type({"x": 1})
    bad = _bft_config()
    bad["channel_group"]["groups"]["Orderer"]["values"]["ConsensusType"]["value"]["type"] = "solo"
    with pytest.raises(configupdate.ConfigUpdateError, match="'solo' is not supported"):
        configupdate.consenters(bad)


# ------------------------------------------------------------------ registry verdicts
def test_active_match() -> None:
    rec = {"tls_cert_sha256": "a" * 64, "sign_cert_sha256": "b" * 64}
    assert active_match(None, rec) == "not admitted on chain"
    assert active_match({"record": dict(rec), "status": "active"}, rec) == ""
    assert active_match({"record": dict(rec), "status": "removed"}, rec) == "its registry entry is removed"
    assert "TLS certificate differs" in active_match({"record": {**rec, "tls_cert_sha256": "c" * 64},
                                                      "status": "active"}, rec)


def test_check_consenters_verdicts() -> None:
    config = _bft_config()
    found = {"qcchannel": configupdate.consenters(config)}
    addresses = [c.address for c in found["qcchannel"]]
    hosts = {addresses[0]: "o0", addresses[1]: "o1", addresses[2]: "o2"}  # the 4th address is unknown
    fp0 = cert_sha256(found["qcchannel"][0].tls_cert_pem)
    entries = {"o0": {"record": {"tls_cert_sha256": fp0}, "status": "active"},
               "o1": {"record": {"tls_cert_sha256": fp0}, "status": "active"},
               "o2": {"record": {"tls_cert_sha256": fp0}, "status": "removed"}}
    rows = check_consenters(found, hosts, entries.get)
    assert [(r.node_id, r.ok, r.status) for r in rows] == [
        ("o0", True, "active"), ("o1", False, "TLS fingerprint differs"), ("o2", False, "removed"),
        ("?", False, "unknown address")]


def test_registry_mode_is_checked(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="registry mode"):
        Registry(derive(load_consortium(SMALL), tmp_path), "maybe")


# ------------------------------------------------------------------ CLI errors
def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--consortium", str(SMALL), "--dir", str(tmp_path / "net")]
    assert main(["add-orderer", *base]) == 1
    assert "holds no network" in capsys.readouterr().err
    (tmp_path / "net" / "crypto").mkdir(parents=True)
    assert main(["remove-peer", *base]) == 1
    assert "needs the node's host name" in capsys.readouterr().err
    assert main(["add-peer", *base]) == 1
    assert "needs the org name" in capsys.readouterr().err
    assert main(["add-peer", "Nobody", *base, "--no-registry"]) == 1
    assert "Nobody" in capsys.readouterr().err
    assert main(["remove-peer", "peer0.inspection.qcchain.example", *base]) == 1
    assert "anchor" in capsys.readouterr().err
    assert main(["remove-orderer", "orderer9.qcchain.example", *base]) == 1
    assert "no orderer named" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["add-orderer", *base, "--no-registry", "--admit-with-test-keys"])
    assert "not allowed with" in capsys.readouterr().err
    assert not (tmp_path / "net" / "nodes.json").exists() and not (tmp_path / "net" / "operations.log").exists()


def test_verify_fingerprint_is_the_sdk_record_fingerprint(tmp_path: Path) -> None:
    from cryptography import x509

    from qcchain_sdk import nodeadmission as sdk_nodes

    consenters = configupdate.consenters(_bft_config())
    tls_pem, sign_pem = consenters[0].tls_cert_pem, consenters[0].identity_pem
    assert cert_sha256(tls_pem) == sdk_nodes.cert_sha256(x509.load_pem_x509_certificate(tls_pem))
    (tmp_path / "tls").mkdir()
    (tmp_path / "msp" / "signcerts").mkdir(parents=True)
    (tmp_path / "tls" / "server.crt").write_bytes(tls_pem)
    (tmp_path / "msp" / "signcerts" / "orderer0-cert.pem").write_bytes(sign_pem)
    record = read_record("orderer0.qcchain.example", "OrdererMSP", "orderer", tmp_path / "tls", tmp_path / "msp")
    assert record["tls_cert_sha256"] == cert_sha256(tls_pem) and record["consensus"] is True
    with pytest.raises(RegistryError, match="missing"):
        read_record("x.example", "OrdererMSP", "orderer", tmp_path / "nope", tmp_path / "msp")


def test_registry_none_mode_checks_and_records_nothing(tmp_path: Path) -> None:
    registry = Registry(derive(load_consortium(SMALL), tmp_path), "none")
    assert registry.require_admitted({"node_id": "x"}) == ""
    registry.joined("x", "qcchannel", 3, "a" * 64)  # no network, no chain: nothing is contacted
    registry.left("x", "qcchannel", 4)
