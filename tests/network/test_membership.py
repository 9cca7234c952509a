"""Members joining and leaving (pure parts): org files, collisions, ports that never move, the membership
overlay folded by load_layout, config-update signatures, public bundles and per-org deployment bundles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qcchain_consortium.consortium import load_consortium
from qcchain_consortium.membership import MembershipError, admit, parse_org_file, retire
from qcchain_consortium import orgoverlay
from qcchain_network import bundles, orgmaterial, orgupdate, overlay
from qcchain_network.configupdate import ConfigUpdateError
from qcchain_network.derive import derive
from qcchain_network.netdir import load_layout

ROOT = Path(__file__).resolve().parents[2]
ORG = {"org": {"name": "Inspection2", "msp_id": "Inspection2MSP", "role": "inspection_body",
               "domain": "inspection2.qcchain.example", "peers": 1, "full_name": "Second Inspection Institute",
               "credit_code": "12100000400022657P"}}


def _org(**changes: Any) -> dict[str, Any]:
    return {"org": {**ORG["org"], **changes}}


def test_org_file_errors_are_one_line() -> None:
    assert parse_org_file(ORG).org.msp_id == "Inspection2MSP"
    for doc, words in ((_org(role="king"), "org.role"), (_org(credit_code="12100000400022657X"), "credit_code"),
                       ({"org": {k: v for k, v in ORG["org"].items() if k != "credit_code"}}, "credit_code"),
                       ({**ORG, "channels": ["a", "a"]}, "distinct"), ({**ORG, "extra": 1}, "expected"),
                       (_org(base_port=9000), "base_port")):
        with pytest.raises(MembershipError) as err:
            parse_org_file(doc)
        assert words in str(err.value) and "\n" not in str(err.value)


def test_admit_keeps_ports_and_adds_bilateral_channel() -> None:
    base = load_consortium()
    joined = admit(base, parse_org_file(ORG))
    assert joined.ports() == base.ports()  # nothing running moves
    assert "Inspection2" in next(c for c in joined.channels if c.name == "qcchannel").members
    own = next(c for c in joined.channels if c.name == "inspection2-channel")
    assert own.members == ["Inspection2", "Regulator"]
    assert own.chaincodes[0].endorsement_policy == "AND('Inspection2MSP.peer', 'RegulatorMSP.peer')"
    assert own.chaincodes[0].collections[0].members == ["Inspection2", "Regulator"]
    # the default: every channel all members are on, i.e. only qcchannel
    assert [c.name for c in joined.channels if "Inspection2" in c.members] == ["qcchannel", "inspection2-channel"]


@pytest.mark.parametrize("changes,words", [({"msp_id": "InspectionMSP"}, "MSP ID 'InspectionMSP'"),
                                           ({"domain": "qcchain.example"}, "domain"),
                                           ({"name": "Regulator"}, "org name")])
def test_collisions_refused(changes: dict[str, str], words: str) -> None:
    with pytest.raises(MembershipError, match=words):
        admit(load_consortium(), parse_org_file(_org(**changes)))


def test_unknown_channel_refused() -> None:
    with pytest.raises(MembershipError, match="unknown channel"):
        admit(load_consortium(), parse_org_file({**ORG, "channels": ["nochannel"]}))


def test_retire_keeps_ports_history_and_never_reuses_ids() -> None:
    base = load_consortium()
    left = retire(base, "InspectionMSP")
    assert left.ports() == base.ports()
    plan = derive(left, Path("/tmp/x"))
    before = {p.host: p.listen for p in derive(base, Path("/tmp/x")).peers}
    assert all(before[p.host] == p.listen for p in plan.peers)
    assert "Inspection" not in [o.name for o in left.orgs]
    assert next(c for c in left.channels if c.name == "inspection-channel").members == ["Regulator"]
    with pytest.raises(MembershipError, match="never reused"):
        admit(left, parse_org_file(_org(msp_id="InspectionMSP")))
    with pytest.raises(MembershipError, match="regulator"):
        retire(base, "RegulatorMSP")
    with pytest.raises(MembershipError, match="not a member"):
        retire(left, "InspectionMSP")


def test_overlay_folded_by_load_layout(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ovl = orgoverlay.OrgOverlay().with_event(orgoverlay.Event("join", parse_org_file(ORG), str(home)))
    orgoverlay.save(tmp_path, ovl)
    overlay.save(tmp_path, overlay.Overlay([overlay.Added("peer", 0, "peer0.inspection2.qcchain.example", 0,
                                                          "Inspection2")]))
    base = load_layout(None, tmp_path.parent / "other")
    layout = load_layout(None, tmp_path)
    (peer,) = layout.peers_of("Inspection2")
    assert peer.listen > max(p.listen for p in base.peers) and layout.chaincode_ports == base.chaincode_ports
    assert peer.msp_dir.is_relative_to(home)
    assert layout.profile_file(layout.consortium.org("Inspection2")).name == "connection-inspection2.json"
    orgoverlay.save(tmp_path, ovl.with_event(orgoverlay.Event("leave", msp_id="Inspection2MSP")))
    overlay.save(tmp_path, overlay.Overlay([], ["peer0.inspection2.qcchain.example"]))
    after = load_layout(None, tmp_path)
    assert "Inspection2" not in [o.name for o in after.consortium.orgs] and not after.peers_of("Inspection2")
    (tmp_path / "orgs.json").write_text(json.dumps({"events": [{"action": "leave", "msp_id": "NoSuchMSP"}]}))
    with pytest.raises(orgoverlay.OrgOverlayError, match=r"events\[0\].*NoSuchMSP"):
        load_layout(None, tmp_path)


def _config(orgs: list[str], rule: str = "MAJORITY") -> dict[str, Any]:
    return {"channel_group": {"groups": {"Application": {
        "groups": {o: {"values": {}} for o in orgs},
        "policies": {"Admins": {"policy": {"type": 3, "value": {"rule": rule, "sub_policy": "Admins"}}}}}}}}


def _envelope(signers: list[str]) -> dict[str, Any]:
    return {"payload": {"data": {"signatures": [{"signature_header": {"creator": {"mspid": m}}} for m in signers]}}}


def test_config_update_signatures() -> None:
    five = _config(["A", "B", "C", "D", "E"])
    assert orgupdate.admins_needed(five) == 3
    assert orgupdate.admins_needed(_config(["A", "B"])) == 2
    assert orgupdate.admins_needed(_config(["A", "B"], "ANY")) == 1
    added = orgupdate.with_org(five, "F", {"values": {}})
    assert orgupdate.app_orgs(added) == ["A", "B", "C", "D", "E", "F"] and orgupdate.app_orgs(five)[-1] == "E"
    with pytest.raises(ConfigUpdateError, match="already"):
        orgupdate.with_org(five, "A", {})
    assert orgupdate.app_orgs(orgupdate.without_org(five, "C")) == ["A", "B", "D", "E"]
    with pytest.raises(ConfigUpdateError, match="last"):
        orgupdate.without_org(_config(["A"]), "A")
    orgs = orgupdate.app_orgs(five)
    assert orgupdate.check_signed(_envelope(["A", "B"]), orgs, 3, "C", "ch") == ["A", "B", "C"]
    for signed in (["A"], ["A", "X", "X"], ["C", "C"]):  # an outsider or a repeat does not count
        with pytest.raises(orgupdate.UnderSigned, match="needs 3 of 5"):
            orgupdate.check_signed(_envelope(signed), orgs, 3, "C", "ch")


def _fake_org(root: Path, domain: str, hosts: list[str], tag: str) -> None:
    (root / "msp" / "cacerts").mkdir(parents=True)
    (root / "msp" / "cacerts" / f"ca.{domain}-cert.pem").write_text(f"-----BEGIN CERTIFICATE-----{tag}ca")
    (root / "msp" / "tlscacerts").mkdir()
    (root / "msp" / "tlscacerts" / f"tlsca.{domain}-cert.pem").write_text(f"-----BEGIN CERTIFICATE-----{tag}tls")
    (root / "msp" / "config.yaml").write_text("NodeOUs: {Enable: true}\n")
    (root / "tlsca").mkdir()
    (root / "tlsca" / f"tlsca.{domain}-cert.pem").write_text(f"-----BEGIN CERTIFICATE-----{tag}tls")
    (root / "tlsca" / "priv_sk").write_text(f"-----BEGIN PRIVATE KEY-----{tag}tlsca")
    for host in hosts:
        node = root / ("orderers" if host.startswith("orderer") else "peers") / host
        (node / "msp" / "keystore").mkdir(parents=True)
        (node / "msp" / "keystore" / "priv_sk").write_text(f"-----BEGIN PRIVATE KEY-----{tag}{host}")
        (node / "tls").mkdir()
        for name in ("ca.crt", "server.crt"):
            (node / "tls" / name).write_text(f"-----BEGIN CERTIFICATE-----{tag}{host}{name}")
        (node / "tls" / "server.key").write_text(f"-----BEGIN PRIVATE KEY-----{tag}{host}tls")


def _fake_network(out: Path) -> Any:
    layout = load_layout(None, out)
    for org in layout.consortium.orgs:
        _fake_org(layout.org_dir(org), org.domain, [p.host for p in layout.peers_of(org.name)], org.name)
    _fake_org(layout.orderer_org_dir, layout.consortium.orderer.domain, [n.host for n in layout.orderers], "ord")
    return layout


def test_bundles_hold_no_foreign_private_key(tmp_path: Path) -> None:
    layout = _fake_network(tmp_path / "net")
    dirs = bundles.write_all(layout, overlay.Overlay(), Path("/opt/qcchain"))
    assert len(dirs) == len(layout.consortium.orgs) + 1
    every_key = {p.read_bytes(): p for p in orgmaterial.private_keys(layout.crypto)}
    for org, bundle in zip([o.name for o in layout.consortium.orgs] + ["Orderer"], dirs):
        found = orgmaterial.private_keys(bundle)
        assert found, f"{org}'s bundle has its own keys"
        assert all(org.lower() in str(every_key[p.read_bytes()]).split("/crypto/")[1].split("/")[1]
                   or org == "Orderer" for p in found)
        assert bundles.foreign_keys(layout, org, bundle) == []
    insp = tmp_path / "net" / "bundles" / "inspection"
    env = (insp / "env" / "peer0.inspection.qcchain.example.env").read_text()
    assert "/opt/qcchain/inspection/crypto/peerOrganizations/inspection.qcchain.example" in env
    assert not (insp / "env" / "peer0.regulator.qcchain.example.env").exists()
    assert (insp / "crypto/peerOrganizations/regulator.qcchain.example/msp/cacerts").is_dir()
    assert not (insp / "crypto/peerOrganizations/regulator.qcchain.example/peers/peer0.regulator.qcchain.example/msp").exists()
    services = (insp / "compose" / "compose.yaml").read_text()
    assert "peer0.inspection.qcchain.example" in services and "orderer0" not in services
    assert json.loads((insp / "endpoints.json").read_text())["anchor_peers"]["RegulatorMSP"].startswith("peer0.")


def test_bundle_with_foreign_key_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = _fake_network(tmp_path / "net")
    real = bundles.plan
    foreign = layout.org_dir(layout.consortium.org("Regulator")) / "tlsca" / "priv_sk"

    def leaky(*args: Any) -> dict[Path, Any]:
        return {**real(*args), Path("extra/priv_sk"): foreign}
    monkeypatch.setattr(bundles, "plan", leaky)
    dest = tmp_path / "b"
    with pytest.raises(bundles.BundleError, match="another org's private key"):
        bundles.write(layout, "Inspection", dest, Path("/opt/qcchain/inspection"), overlay.Overlay())
    assert not dest.exists()


def test_public_bundle_checks(tmp_path: Path) -> None:
    layout = _fake_network(tmp_path / "net")
    joining = parse_org_file(ORG)
    bundle = tmp_path / "pub"
    org_dir = bundle / "peerOrganizations" / "inspection2.qcchain.example"
    (org_dir / "msp" / "cacerts").mkdir(parents=True)
    (org_dir / "msp" / "cacerts" / "ca.pem").write_text("-----BEGIN CERTIFICATE-----new")
    (org_dir / "msp" / "config.yaml").write_text("NodeOUs: {}\n")
    assert orgmaterial.check_public(bundle, joining, layout) == org_dir
    (org_dir / "msp" / "tlscacerts").mkdir()
    src = layout.org_dir(layout.consortium.org("Maintenance")) / "msp" / "tlscacerts"
    (org_dir / "msp" / "tlscacerts" / "x.pem").write_bytes(next(src.glob("*.pem")).read_bytes())
    with pytest.raises(orgmaterial.MaterialError, match="already the CA of Maintenance"):
        orgmaterial.check_public(bundle, joining, layout)
    (org_dir / "msp" / "tlscacerts" / "x.pem").unlink()
    (org_dir / "msp" / "keystore").mkdir()
    (org_dir / "msp" / "keystore" / "k").write_text("x")
    with pytest.raises(orgmaterial.MaterialError, match="private key"):
        orgmaterial.check_public(bundle, joining, layout)
