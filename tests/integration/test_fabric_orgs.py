"""A member joining and leaving a running native Fabric network, governed on chain (T-5.1, T-7.2.3,
T-8.2 b): the small consortium (Inspection, Regulator) up and deployed; a second inspection body makes its
own crypto (``org-init``), hands over its public bundle (``org-export``); bad input is refused with
nothing changed; its ``member_admit`` goes through governance, the config update is proposed, refused
under-signed, signed offline by the other admin, executed; its peer joins, the chaincode is approved for
it, it registers a key (a governed write) and reads it back, and its bilateral channel with the regulator
answers. The qcchain definition follows the membership: qcchannel's collectionL3 widened (sequence 2,
approved by all three), a sealed record written and decrypted by the new member, the named AND rule kept.
Channels at run time are governed (``channel_create`` / ``channel_join``: refused without, then executed by
the test admins); qc2's derived rule widens to ``OutOf(2, ...)`` and Inspection2 + Regulator endorse there.
Then ``member_remove`` + ``remove-org``: both definitions narrowed (sequence 3), its identities refused by
the remaining peers while its past writes stay readable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from qcchain_network import procs
from qcchain_network.netdir import load_layout
from orgkit import Pinned, committed, retry
from smallnet import small_consortium  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPT = str(ROOT / "scripts" / "network.sh")
ORG = {"org": {"name": "Inspection2", "msp_id": "Inspection2MSP", "role": "inspection_body",
               "domain": "inspection2.qcchain.example", "peers": 1, "full_name": "Second Inspection Institute",
               "credit_code": "12100000400022657P"}, "channels": ["qcchannel"], "own_channel": True}


def _sh(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QCCHAIN_PYTHON": sys.executable}
    return subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, fabric_binaries: Path) -> Iterator[tuple[list[str], Path, Path]]:
    work = tmp_path_factory.mktemp("orgs")
    consortium = small_consortium(work, "orgs", 47050, credit=True, one_chaincode=True)
    args = ["--consortium", str(consortium), "--dir", str(work / "net")]
    try:
        up = _sh("up", *args)
        assert up.returncode == 0, up.stderr
        deploy = _sh("deploy", *args)
        assert deploy.returncode == 0, deploy.stderr
        yield args, consortium, work
    finally:
        _sh("down", "--dir", str(work / "net"), timeout=60)
        left = [p.name for p in procs.read_pids(work / "net") if procs.alive(p.pid)]
        assert not left, f"processes left running: {left}"


def _profile_at(layout: Any, org_name: str, user_msp: Path, msp_id: str, via_org: str, path: Path) -> Path:
    """A connection profile for ``user_msp`` of ``msp_id`` that talks to ``via_org``'s peer."""
    doc = json.loads(layout.profile_file(layout.consortium.org(via_org)).read_text())
    doc["client"]["organization"] = org_name
    peers = doc["organizations"][via_org]["peers"]
    doc["organizations"] = {org_name: {"mspid": msp_id, "peers": peers, "users": {"User1": {"mspConfigPath": str(user_msp)}}}}
    path.write_text(json.dumps(doc))
    return path


def test_org_joins_governed_and_leaves(net: tuple[list[str], Path, Path], fabric_binaries: Path) -> None:
    from qcchain_core.gm import SM2PrivateKey
    from qcchain_gateway.profile import connect_profile
    from qcchain_sdk.contracts.governance import GovernanceClient

    args, consortium, work = net
    out = Path(args[-1])
    home, public = work / "inspection2-home", work / "inspection2-public"
    org_file = work / "inspection2.yaml"
    org_file.write_text(yaml.safe_dump(ORG))
    # the joining org, on its own host: its own crypto, public material handed over
    r = _sh("org-init", str(org_file), "--home", str(home))
    assert r.returncode == 0, r.stderr
    r = _sh("org-export", "--home", str(home), "--out", str(public))
    assert r.returncode == 0, r.stderr
    assert not any("PRIVATE KEY" in p.read_text(errors="ignore") for p in public.rglob("*") if p.is_file())

    def unchanged() -> None:
        assert not (out / "orgs.json").exists()
        assert "Inspection2" not in (out / "connection-profiles" / "connection-regulator.json").read_text()

    # bad input: no on-chain admission
    r = _sh("add-org", str(org_file), "--material", str(public), "--home", str(home), "--execute", str(work / "x"),
            *args)
    assert r.returncode == 1 and "not a member on chain" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    unchanged()
    # bad input: a bundle with a private key in it
    leaky = work / "leaky"
    shutil.copytree(public, leaky)
    key = next((home / "peerOrganizations").rglob("priv_sk"))
    shutil.copy(key, leaky / "peerOrganizations" / "inspection2.qcchain.example" / "msp" / "priv_sk")
    r = _sh("add-org", str(org_file), "--material", str(leaky), "--sign-with-test-admins", *args)
    assert r.returncode == 1 and "private key" in r.stderr, r.stderr
    unchanged()
    # bad input: MSP ID collision
    clash = work / "clash.yaml"
    clash.write_text(yaml.safe_dump({**ORG, "org": {**ORG["org"], "msp_id": "InspectionMSP"}}))
    r = _sh("add-org", str(clash), "--material", str(public), "--sign-with-test-admins", *args)
    assert r.returncode == 1 and "MSP ID 'InspectionMSP' is already used" in r.stderr, r.stderr
    unchanged()

    # governed: member_admit by the test admins, config updates written for offline signing
    updates = work / "updates"
    t0 = time.monotonic()
    r = _sh("add-org", str(org_file), "--material", str(public), "--home", str(home), "--sign-with-test-admins",
            "--propose-updates", str(updates), *args)
    assert r.returncode == 0 and "wrote 1 config update" in r.stdout, r.stdout + r.stderr
    unchanged()
    # the executed member_admit bound the org's CA and TLS CA (SHA-256 of the DER) on chain
    from qcchain_network import membergate, orgmaterial
    entry = membergate.on_chain(load_layout(consortium, out), "Inspection2MSP")
    org_msp = public / "peerOrganizations" / "inspection2.qcchain.example" / "msp"
    assert entry is not None and entry["status"] == "active"
    assert {k: entry[k] for k in ("ca_cert_sha256", "tls_ca_cert_sha256")} == orgmaterial.member_fingerprints(org_msp)
    # bad input: the same org file with another CA (material made again) does not match the admitted CA
    r = _sh("org-init", str(org_file), "--home", str(work / "impostor-home"))
    assert r.returncode == 0, r.stderr
    r = _sh("org-export", "--home", str(work / "impostor-home"), "--out", str(work / "impostor-public"))
    assert r.returncode == 0, r.stderr
    r = _sh("add-org", str(org_file), "--material", str(work / "impostor-public"), "--sign-with-test-admins",
            "--propose-updates", str(work / "impostor-updates"), *args)
    assert r.returncode == 1 and "the CA in its material" in r.stderr, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (work / "impostor-updates").exists()
    unchanged()
    # under-signed: only the submitter (Regulator) would sign; the Admins policy needs 2 of 2
    r = _sh("add-org", str(org_file), "--material", str(public), "--home", str(home), "--sign-with-test-admins",
            "--execute", str(updates), *args)
    assert r.returncode == 1 and "needs 2 of 2" in r.stderr, r.stderr
    unchanged()
    r = _sh("sign-update", str(updates), "--org", "Inspection", *args)
    assert r.returncode == 0, r.stderr
    r = _sh("add-org", str(org_file), "--material", str(public), "--home", str(home), "--sign-with-test-admins",
            "--execute", str(updates), *args, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    join_s = time.monotonic() - t0
    assert "inspection2-channel" in r.stdout

    layout = load_layout(consortium, out)
    assert [o.msp_id for o in layout.consortium.orgs][-1] == "Inspection2MSP"
    # the committed definition followed the membership: collectionL3 is `members: channel`, so a new sequence
    # with the collection over the three members, approved by all three (the new org included); the named
    # signature rule AND(Inspection, Regulator) is kept as the policy file says
    qc = committed(layout, fabric_binaries, "qcchannel")
    assert qc["sequence"] == 2 and qc["approvals"] == {"InspectionMSP": True, "RegulatorMSP": True,
                                                       "Inspection2MSP": True}, qc
    assert sorted(qc["collection_msps"]["collectionL3"]) == ["Inspection2MSP", "InspectionMSP", "RegulatorMSP"]
    assert [p.host for p in layout.peers_of("Inspection2")] == ["peer0.inspection2.qcchain.example"]
    status = _sh("status", "--dir", str(out))
    assert "peer0.inspection2.qcchain.example" in status.stdout and "running" in status.stdout
    # the new member writes (registers its admin key: a member-only, endorsed transaction) and reads back
    profile = layout.profile_file(layout.consortium.org("Inspection2"))
    key2 = SM2PrivateKey.generate()
    deadline = time.monotonic() + 90
    while True:
        try:
            with connect_profile(profile, user="Admin") as gw:
                net_ = gw.get_network("qcchannel")
                client = GovernanceClient(net_.get_contract("qcchain", "governance"), net_.get_contract("qcchain", "keys"),
                                          "Inspection2MSP", gw.identity.cert_pem, key2)
                now = int(time.time())
                client.register_key(now - 60, now + 3600)
                got = client.get_key(client.key_id)
                assert got["msp_id"] == "Inspection2MSP"
                info = json.loads(gw.get_network("inspection2-channel").get_contract("qcchain", "governance")
                                  .evaluate_transaction("info"))
                assert info == {}
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(3)

    # a sealed (L3) record written by the new member into collectionL3 (memberOnlyWrite: refused to a
    # non-member org), its data key wrapped for it and the regulator; read and decrypted through its own peer
    from qcchain_sdk.contracts.records import RecordsClient, build_record, decrypt_view, verify_view
    from qcchain_sdk.contracts.story import demo_payloads
    reg_key = SM2PrivateKey.from_pem((out / "test-admin-keys" / "RegulatorMSP.pem").read_bytes())
    danger = {**demo_payloads()["hidden_danger"], "ID": "HD-ORG2-1"}
    built = build_record(record_id="HD-ORG2-1", category="hidden_danger", equipment_code="32010001", stage="use",
                         owner_msp="Inspection2MSP", grade="L3", signing_key=key2, payload=danger,
                         recipients={"Inspection2MSP": key2.public_key(), "RegulatorMSP": reg_key.public_key()})
    with connect_profile(profile, user="Admin") as gw:
        meta = RecordsClient(gw.get_network("qcchannel").get_contract("qcchain", "records")).submit(built)
    assert meta["placement"] == "private_encrypted"

    def sealed_read() -> dict[str, Any]:
        with connect_profile(profile, user="Admin") as gw:  # its profile names its own peer only
            view = RecordsClient(gw.get_network("qcchannel").get_contract("qcchain", "records")).get("HD-ORG2-1")
        assert view.get("wrapped_key") and view.get("ciphertext"), sorted(view)
        return view
    view = retry(sealed_read)
    assert decrypt_view(view, view["wrapped_key"]["wrapped"], key2) == danger
    assert verify_view(view, key2.public_key()) == []
    # the named rule was kept: Inspection2's peer with the Regulator's does not satisfy AND(Inspection, Regulator)
    with connect_profile(profile, user="Admin") as gw:
        net_ = gw.get_network("qcchannel")
        with pytest.raises(Exception) as failed:
            GovernanceClient(net_.get_contract("qcchain", "governance"),
                             Pinned(net_.get_contract("qcchain", "keys"), ["Inspection2MSP", "RegulatorMSP"]),
                             "Inspection2MSP", gw.identity.cert_pem, SM2PrivateKey.generate()
                             ).register_key(int(time.time()) - 60, int(time.time()) + 3600)
    assert "ENDORSEMENT_POLICY_FAILURE" in str(failed.value) or "endorsement policy" in str(failed.value).lower(), \
        str(failed.value)

    # channels at run time through the CLI: a new channel for two members (qcchain deployed on it), then the
    # new member joins it by an Admins-signed config update; it reads there through its own peer
    qcchain = str(Path(sys.executable).parent / "qcchain")
    net_args = ["--dir", str(out), "--consortium", str(consortium)]
    events_before = (out / "orgs.json").read_text()
    # governed: without an executed channel_create the channel is refused (one line, nothing made); --propose
    # writes the proposal for the admins; the test admins sign and execute it
    r = subprocess.run([qcchain, "network", "add-channel", "qc2", "--member", "Regulator", "--member", "Inspection",
                        *net_args], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 1 and "no executed channel_create" in r.stderr, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = subprocess.run([qcchain, "network", "add-channel", "qc2", "--member", "Regulator", "--member", "Inspection",
                        "--propose", str(work / "qc2.json"), *net_args], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 0 and "not done yet" in r.stdout and (work / "qc2.json").is_file(), r.stdout + r.stderr
    assert json.loads((work / "qc2.json").read_text())["body"]["operation"] == "channel_create"
    assert (out / "orgs.json").read_text() == events_before and not layout.block_file("qc2").exists()
    r = subprocess.run([qcchain, "network", "add-channel", "qc2", "--member", "Regulator", "--member", "Inspection",
                        "--sign-with-test-admins", *net_args], capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0 and "channel qc2 created" in r.stdout, r.stdout + r.stderr
    from qcchain_network import changate
    decided = changate.decision(load_layout(consortium, out), "get_channel", "qc2")
    assert decided is not None and sorted(decided["members"]) == ["InspectionMSP", "RegulatorMSP"]
    r = subprocess.run([qcchain, "network", "add-channel", "qc2", "--member", "Regulator", "--member", "Inspection",
                        *net_args], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 1 and "already exists" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = subprocess.run([qcchain, "network", "join-channel", "qc2", "--org", "Inspection2", "--propose-updates",
                        str(work / "qc2-updates"), *net_args], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 1 and "no executed channel_join" in r.stderr, r.stdout + r.stderr
    assert not (work / "qc2-updates").exists()
    r = subprocess.run([qcchain, "network", "join-channel", "qc2", "--org", "Inspection2", "--sign-with-test-admins",
                        *net_args], capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0 and "Inspection2 joined qc2" in r.stdout, r.stdout + r.stderr
    layout = load_layout(consortium, out)
    assert next(c for c in layout.consortium.channels if c.name == "qc2").members == ["Regulator", "Inspection",
                                                                                       "Inspection2"]
    deadline = time.monotonic() + 90
    while True:
        try:
            with connect_profile(profile, user="Admin") as gw:
                info = json.loads(gw.get_network("qc2").get_contract("qcchain", "governance").evaluate_transaction("info"))
                assert info == {}
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(3)
    # qc2's rule was derived over its members (AND of both): with a third member it is OutOf(2, three peers),
    # committed as sequence 2 approved by all three; Inspection2's peer with the Regulator's now endorses a write
    qc2 = committed(layout, fabric_binaries, "qc2")
    assert qc2["sequence"] == 2 and qc2["approvals"].get("Inspection2MSP") is True, qc2
    assert sorted(qc2["collection_msps"]["collectionL3"]) == ["Inspection2MSP", "InspectionMSP", "RegulatorMSP"]
    # (qc2's governance bootstrapped by the new member's admin, then its key registered: both endorsed by
    # exactly Inspection2's and the Regulator's peers)
    members = [membergate.member_record(layout.consortium.org(m)) for m in ("Regulator", "Inspection", "Inspection2")]
    policies = {n: yaml.safe_load((ROOT / "policies" / f"{n}.yaml").read_text()) for n in ("governance", "grading",
                                                                                            "sharing")}
    with connect_profile(profile, user="Admin") as gw:
        net_ = gw.get_network("qc2")
        pair = ["Inspection2MSP", "RegulatorMSP"]
        pinned = GovernanceClient(Pinned(net_.get_contract("qcchain", "governance"), pair),
                                  Pinned(net_.get_contract("qcchain", "keys"), pair),
                                  "Inspection2MSP", gw.identity.cert_pem, SM2PrivateKey.generate())
        pinned.bootstrap(members, policies)
        pinned.register_key(int(time.time()) - 60, int(time.time()) + 3600)
        assert pinned.get_key(pinned.key_id)["msp_id"] == "Inspection2MSP"

    # per-org deployment bundles from the real material, the joined org's included: no foreign private key
    r = _sh("bundles", *args)
    assert r.returncode == 0 and "wrote 4 deployment bundle(s)" in r.stdout, r.stdout + r.stderr
    from qcchain_network import bundles
    for name in ("Inspection", "Regulator", "Inspection2", "Orderer"):
        bundle = out / "bundles" / name.lower()
        assert orgmaterial.private_keys(bundle) and bundles.foreign_keys(layout, name, bundle) == []

    # removal: member_remove by governance, config update, peers stopped
    r = _sh("remove-org", "Inspection2MSP", "--sign-with-test-admins", *args, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    layout = load_layout(consortium, out)
    assert "Inspection2MSP" not in [o.msp_id for o in layout.consortium.orgs]
    # the definitions narrowed again: a new sequence without it on both channels
    for channel, seq in (("qcchannel", 3), ("qc2", 3)):
        done = committed(layout, fabric_binaries, channel)
        assert done["sequence"] == seq and "Inspection2MSP" not in done["approvals"], (channel, done)
        assert sorted(done["collection_msps"]["collectionL3"]) == ["InspectionMSP", "RegulatorMSP"], (channel, done)
    assert "peer0.inspection2.qcchain.example" not in _sh("status", "--dir", str(out)).stdout.replace("stopped", "")
    # its identity is refused at a remaining peer's gateway; its past write stays readable
    removed = _profile_at(layout, "Inspection2", home / "peerOrganizations" / "inspection2.qcchain.example" / "users"
                          / "User1@inspection2.qcchain.example" / "msp", "Inspection2MSP", "Regulator",
                          work / "removed-profile.json")
    with connect_profile(removed, user="User1") as gw:
        with pytest.raises(Exception) as refused:
            gw.get_network("qcchannel").get_contract("qcchain", "governance").evaluate_transaction("info")
    text = str(refused.value).lower()
    assert "access denied" in text or "unknown" in text or "creator" in text or "permission" in text, text
    with connect_profile(layout.profile_file(layout.consortium.org("Regulator")), user="Admin") as gw:
        raw = gw.get_network("qcchannel").get_contract("qcchain", "keys").evaluate_transaction("get", client.key_id)
        assert json.loads(raw)["msp_id"] == "Inspection2MSP"
    print(f"\norg join (governed, offline-signed) {join_s:.1f}s")
