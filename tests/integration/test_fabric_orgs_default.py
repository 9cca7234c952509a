"""A sixth organisation joins the default five-org network and leaves again (issue 18, real Fabric 3.1.5):
a second inspection body makes its own crypto and hands over its public bundle; governance admits it
(``member_admit``, test admins), the qcchannel config update is signed by the Admins majority (3 of 5), its
peer starts and joins, the qcchain definition on qcchannel is widened (collectionL3 ``members: channel``
over six MSPs, sequence 2, approved by all six); it writes and decrypts a sealed record, its peer counts in
the channel's implicit ``MAJORITY Endorsement`` (now 4 of 6), and its bilateral channel with the regulator
answers. ``member_remove`` + ``remove-org``: the definition narrows back (sequence 3) and its identity is
refused by the remaining peers while its records stay readable."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from orgkit import Pinned, committed, retry
from smallnet import deployed_network, network_sh

ROOT = Path(__file__).resolve().parents[2]
ORG = {"org": {"name": "Inspection2", "msp_id": "Inspection2MSP", "role": "inspection_body",
               "domain": "inspection2.qcchain.example", "peers": 1, "full_name": "Second Inspection Institute",
               "credit_code": "12100000400022657P"}}
FIVE = ["InspectionMSP", "RegulatorMSP", "UsingUnitMSP", "ManufacturerMSP", "MaintenanceMSP"]
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, fabric_binaries: Path) -> Iterator[tuple[list[str], Path]]:
    work = tmp_path_factory.mktemp("orgs-default")
    doc = yaml.safe_load((ROOT / "network" / "consortium.yaml").read_text())
    doc["network"]["base_port"] = 49050
    doc["policies"] = {k: str((ROOT / "network" / v).resolve()) for k, v in doc["policies"].items()}
    consortium = work / "default.yaml"
    consortium.write_text(yaml.safe_dump(doc, sort_keys=False))
    t0 = time.monotonic()
    for args in deployed_network(work, consortium):
        TIMINGS["up + deploy (5 orgs, 3 orderers, 5 channels)"] = time.monotonic() - t0
        yield args, work


def _gov(gw: Any, channel: str, msp: str, key: Any, orgs: list[str] | None = None) -> Any:
    from qcchain_sdk.contracts.governance import GovernanceClient

    net_ = gw.get_network(channel)
    keys = net_.get_contract("qcchain", "keys")
    return GovernanceClient(net_.get_contract("qcchain", "governance"), Pinned(keys, orgs) if orgs else keys, msp,
                            gw.identity.cert_pem, key)


def test_sixth_org_joins_default_network_and_leaves(net: tuple[list[str], Path], fabric_binaries: Path) -> None:
    from qcchain_core.gm import SM2PrivateKey
    from qcchain_gateway.profile import connect_profile
    from qcchain_network.netdir import load_layout
    from qcchain_sdk.contracts.records import RecordsClient, build_record, decrypt_view, verify_view
    from qcchain_sdk.contracts.story import demo_payloads

    args, work = net
    consortium, out = Path(args[1]), Path(args[3])
    home, public, org_file = work / "inspection2-home", work / "inspection2-public", work / "inspection2.yaml"
    org_file.write_text(yaml.safe_dump(ORG))
    assert network_sh("org-init", str(org_file), "--home", str(home)).returncode == 0
    assert network_sh("org-export", "--home", str(home), "--out", str(public)).returncode == 0

    t0 = time.monotonic()
    r = network_sh("add-org", str(org_file), "--material", str(public), "--home", str(home),
                   "--sign-with-test-admins", *args, timeout=600)
    assert r.returncode == 0 and "qcchannel" in r.stdout and "inspection2-channel" in r.stdout, r.stdout + r.stderr
    TIMINGS["add-org (member_admit, config update 3 of 5, peer joins, definition widened, own channel)"] = \
        time.monotonic() - t0
    layout = load_layout(consortium, out)
    qc = committed(layout, fabric_binaries, "qcchannel")
    assert qc["sequence"] == 2 and qc["approvals"] == {m: True for m in FIVE + ["Inspection2MSP"]}, qc
    assert sorted(qc["collection_msps"]["collectionL3"]) == sorted(FIVE + ["Inspection2MSP"])

    profile = layout.profile_file(layout.consortium.org("Inspection2"))
    key2 = SM2PrivateKey.generate()
    reg_key = SM2PrivateKey.from_pem((out / "test-admin-keys" / "RegulatorMSP.pem").read_bytes())

    def register() -> None:
        with connect_profile(profile, user="Admin") as gw:
            client = _gov(gw, "qcchannel", "Inspection2MSP", key2)
            now = int(time.time())
            client.register_key(now - 60, now + 3600)
    t0 = time.monotonic()
    retry(register)
    # a sealed L3 record of the new member, its data key wrapped for it and the regulator (the entitled orgs)
    danger = {**demo_payloads()["hidden_danger"], "ID": "HD-SIXTH-1"}
    built = build_record(record_id="HD-SIXTH-1", category="hidden_danger", equipment_code="32010001", stage="use",
                         owner_msp="Inspection2MSP", grade="L3", signing_key=key2, payload=danger,
                         recipients={"Inspection2MSP": key2.public_key(), "RegulatorMSP": reg_key.public_key()})
    with connect_profile(profile, user="Admin") as gw:
        meta = RecordsClient(gw.get_network("qcchannel").get_contract("qcchain", "records")).submit(built)
    assert meta["placement"] == "private_encrypted"
    TIMINGS["key registered + sealed L3 record submitted by the sixth org"] = time.monotonic() - t0

    def sealed_read() -> dict[str, Any]:
        with connect_profile(profile, user="Admin") as gw:  # its own peer
            view = RecordsClient(gw.get_network("qcchannel").get_contract("qcchain", "records")).get("HD-SIXTH-1")
        assert view.get("wrapped_key") and view.get("ciphertext"), sorted(view)
        return view
    view = retry(sealed_read)
    assert decrypt_view(view, view["wrapped_key"]["wrapped"], key2) == danger
    assert verify_view(view, key2.public_key()) == []
    reg_profile = layout.profile_file(layout.consortium.org("Regulator"))
    with connect_profile(reg_profile, user="Admin") as gw:
        reg_view = RecordsClient(gw.get_network("qcchannel").get_contract("qcchain", "records")).get("HD-SIXTH-1")
    assert decrypt_view(reg_view, reg_view["wrapped_key"]["wrapped"], reg_key) == danger

    # its peer counts in the implicit majority, which is now 4 of 6: with three others it endorses a write,
    # with two others (3 of 6) the write fails validation
    with connect_profile(profile, user="Admin") as gw:
        four = ["Inspection2MSP", "RegulatorMSP", "InspectionMSP", "UsingUnitMSP"]
        client = _gov(gw, "qcchannel", "Inspection2MSP", SM2PrivateKey.generate(), four)
        client.register_key(int(time.time()) - 60, int(time.time()) + 3600)
        with pytest.raises(Exception) as failed:
            _gov(gw, "qcchannel", "Inspection2MSP", SM2PrivateKey.generate(), four[:3]).register_key(
                int(time.time()) - 60, int(time.time()) + 3600)
    assert "ENDORSEMENT_POLICY_FAILURE" in str(failed.value), str(failed.value)

    def own_channel() -> None:
        with connect_profile(profile, user="Admin") as gw:
            info = gw.get_network("inspection2-channel").get_contract("qcchain", "governance").evaluate_transaction("info")
            assert json.loads(info) == {}
    retry(own_channel)

    t0 = time.monotonic()
    r = network_sh("remove-org", "Inspection2MSP", "--sign-with-test-admins", *args, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    TIMINGS["remove-org (member_remove, config update, definition narrowed)"] = time.monotonic() - t0
    layout = load_layout(consortium, out)
    qc = committed(layout, fabric_binaries, "qcchannel")
    assert qc["sequence"] == 3 and sorted(qc["collection_msps"]["collectionL3"]) == sorted(FIVE), qc
    # refused: its admin identity, through a remaining peer's gateway; its record stays readable
    doc = json.loads(reg_profile.read_text())
    doc["client"]["organization"] = "Inspection2"
    user_msp = home / "peerOrganizations" / "inspection2.qcchain.example" / "users" / \
        "User1@inspection2.qcchain.example" / "msp"
    doc["organizations"] = {"Inspection2": {"mspid": "Inspection2MSP", "peers": doc["organizations"]["Regulator"]["peers"],
                                            "users": {"User1": {"mspConfigPath": str(user_msp)}}}}
    removed = work / "removed-profile.json"
    removed.write_text(json.dumps(doc))
    with connect_profile(removed, user="User1") as gw:
        with pytest.raises(Exception) as refused:
            gw.get_network("qcchannel").get_contract("qcchain", "governance").evaluate_transaction("info")
    text = str(refused.value).lower()
    assert "access denied" in text or "unknown" in text or "creator" in text or "permission" in text, text
    with connect_profile(reg_profile, user="Admin") as gw:
        kept = RecordsClient(gw.get_network("qcchannel").get_contract("qcchain", "records")).get("HD-SIXTH-1")
    assert kept["owner_msp"] == "Inspection2MSP"
    print("\n" + "\n".join(f"{what}: {secs:.1f}s" for what, secs in TIMINGS.items()), file=sys.stderr)
