"""Each organisation on its own host, proven across real network boundaries on one machine (T-4.2, issue 18).

One Linux network namespace per organisation (Inspection with two peers, Regulator) and one for the orderer
org (raft x3), each with its own 10.x address, joined by veth pairs to a bridge (:mod:`netlab`); the root
namespace is one more host (the admin CLI, the test's SDK clients and the CCaaS chaincode server at
``network.host``). The consortium names each org's ``host``; every node starts inside its namespace from
its org's bundle (``bundles/<org>/env/<node>.env``, compared with what is started), so it listens on and
advertises only its own address, its TLS certificate names that address, and every connection -- peer to
orderer (deliver, broadcast), peer to peer (gossip, the gateway's endorsement across orgs), peer to
chaincode server, client to gateway -- crosses the bridge. Governance is bootstrapped (the test admins'
keys registered, the genesis nodes admitted by a governed proposal), Inspection submits a record through
its gateway (endorsed by both orgs' peers), Regulator reads it through its own gateway in another
namespace and Inspection's second peer has it by gossip. A second test runs the whole consortium story
(default consortium: five orgs and the orderer org on six hosts) the same way. Everything is torn down,
also on failure.
Skipped without Fabric binaries or without the right to create network namespaces.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from netlab import Lab, LabUnavailable, netns_inode, probe
from smallnet import small_consortium

pytestmark = [pytest.mark.fabric, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
SCRIPT = str(HERE.parents[1] / "scripts" / "network.sh")
HOSTS = {"Orderer": 10, "Inspection": 2, "Regulator": 3}
TIMINGS: dict[str, float] = {}


def _sh(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QCCHAIN_PYTHON": sys.executable}
    return subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _free_base(address: str) -> int:
    """A base port whose chaincode-server port is free on the root namespace's address."""
    for base in (7050, 17050, 27050, 37050):
        with socket.socket() as sock:
            try:
                sock.bind((address, base))
                return base
            except OSError:
                continue
    pytest.skip(f"no free base port on {address}")


@pytest.fixture(scope="module")
def lab(fabric_binaries: Path) -> Iterator[Lab]:
    try:
        probe()
    except LabUnavailable as exc:
        pytest.skip(f"multi-host (network namespace) test skipped: {exc}")
    lab = Lab(dict(HOSTS))
    try:
        t0 = time.monotonic()
        lab.create()
        TIMINGS["namespaces, veths and bridge created"] = time.monotonic() - t0
        yield lab
    finally:
        left = lab.remove()
        assert not left, f"namespaces or links left behind: {left}"


def _consortium(work: Path, lab: Lab) -> Path:
    path = small_consortium(work, "netns", _free_base(lab.root), credit=True, one_chaincode=True)
    data = yaml.safe_load(path.read_text())
    data["network"]["host"] = lab.root  # the chaincode server's host: the root namespace
    data["orderer"]["host"] = lab.address("Orderer")
    for org in data["orgs"]:
        org["host"] = lab.address(org["name"])
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def net(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    from qcchain_network import procs, runner

    work = tmp_path_factory.mktemp("netns")
    consortium, out = _consortium(work, lab), work / "net"
    try:
        t0 = time.monotonic()
        runner.up(consortium, out, namespaces=lab.namespaces())
        TIMINGS["network up (3 orderers, 3 peers in 3 namespaces; crypto, genesis, joins, gossip)"] = \
            time.monotonic() - t0
        t0 = time.monotonic()
        r = _sh("deploy", "--consortium", str(consortium), "--dir", str(out))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "genesis nodes admitted on chain" in r.stdout, r.stdout
        TIMINGS["deploy qcchain (CCaaS) + governance bootstrap + genesis admission"] = time.monotonic() - t0
        yield consortium, out
    finally:
        t0 = time.monotonic()
        _sh("down", "--dir", str(out), timeout=60)
        TIMINGS["network down"] = time.monotonic() - t0
        left = [p.name for p in procs.read_pids(out) if procs.alive(p.pid)]
        assert not left, f"processes left running: {left}"
        print("\nmulti-host timings (s): " + json.dumps({k: round(v, 1) for k, v in TIMINGS.items()}, indent=1))


STORY_HOSTS = {"Orderer": 10, "Inspection": 2, "Regulator": 3, "UsingUnit": 4, "Manufacturer": 5, "Maintenance": 6}


def test_consortium_story_across_six_hosts(tmp_path: Path, fabric_binaries: Path) -> None:
    """The default consortium (5 orgs, raft x3, 5 channels), each org and the orderer org on its own host:
    the whole consortium story (``qcchain demo --fabric``'s steps: governance bootstrap, keys, governed
    deploy, records of every grade by their owners, sharing, freeze/thaw, the audit) with every submit
    waiting until every org's peer committed it, then the whole-chaincode upgrade with ``peer lifecycle``
    across the hosts (install on each org's peer, approve by each org, commit, new chaincode server)."""
    from qcchain_cli.demo import FABRIC_LIFECYCLE_NOTE, _fabric_upgrade, consortium_members, load_policies, run_demo
    from qcchain_network import procs, runner
    from qcchain_network.demo.storyrunner import deploy_story

    try:
        probe()
    except LabUnavailable as exc:
        pytest.skip(f"multi-host (network namespace) test skipped: {exc}")
    root = HERE.parents[1]
    lab = Lab(dict(STORY_HOSTS))
    out = tmp_path / "net"
    timings: dict[str, float] = {}
    try:
        lab.create()
        data = yaml.safe_load((root / "network" / "consortium.yaml").read_text())
        data["policies"] = {k: str((root / "network" / v).resolve()) for k, v in data["policies"].items()}
        data["network"].update(host=lab.root, base_port=_free_base(lab.root))
        data["orderer"]["host"] = lab.address("Orderer")
        for org in data["orgs"]:
            org["host"] = lab.address(org["name"])
        consortium = tmp_path / "consortium.yaml"
        consortium.write_text(yaml.safe_dump(data, sort_keys=False))
        t0 = time.monotonic()
        runner.up(consortium, out, namespaces=lab.namespaces())
        timings["network up (5 orgs + orderer org on 6 hosts, 5 channels)"] = time.monotonic() - t0
        t0 = time.monotonic()
        net = deploy_story(out, consortium)
        timings["deploy qcchain on qcchannel until the gateway endorses"] = time.monotonic() - t0
        for name, pid in ((p.name, p.pid) for p in procs.read_pids(out) if p.name.startswith("peer")):
            org = next(o.name for o in net.layout.consortium.orgs if name.endswith(o.domain))
            assert os.stat(f"/proc/{pid}/ns/net").st_ino == netns_inode(lab.namespace(org)), name
        lines: list[str] = []
        t0 = time.monotonic()
        story = run_demo(net.profiles, consortium_members(consortium, lines.append), load_policies(root / "policies"),
                         net.digests, lines.append, FABRIC_LIFECYCLE_NOTE, synced=True,
                         after=lambda s: _fabric_upgrade(net, s, lines.append))
        timings[f"story ({len(story.steps)} steps, incl. the peer lifecycle upgrade)"] = time.monotonic() - t0
        assert story.audit is not None and story.audit.ok
        assert any("whole chaincode upgraded to v2" in step for step in story.steps), story.steps[-3:]
    finally:
        t0 = time.monotonic()
        runner.down(out)
        timings["network down"] = time.monotonic() - t0
        left = lab.remove()
        print("\nstory across 6 hosts, timings (s): " + json.dumps({k: round(v, 1) for k, v in timings.items()},
                                                                    indent=1))
    assert not left, f"namespaces or links left behind: {left}"
    assert not [p.name for p in procs.read_pids(out) if procs.alive(p.pid)]


def test_each_org_runs_in_its_own_namespace_from_its_bundle(lab: Lab, net: tuple[Path, Path]) -> None:
    from qcchain_network import bundles, overlay, procs
    from qcchain_network.netdir import load_layout

    consortium, out = net
    layout = load_layout(consortium, out)
    owner = {n.host: "Orderer" for n in layout.orderers} | {p.host: p.org for p in layout.peers}
    running = {p.name: p.pid for p in procs.read_pids(out) if procs.alive(p.pid)}
    assert set(owner) <= set(running)
    root_ns = os.stat("/proc/self/ns/net").st_ino
    for host, org in owner.items():
        # the process runs in its org's namespace, and listens there only
        assert os.stat(f"/proc/{running[host]}/ns/net").st_ino == netns_inode(lab.namespace(org)), host
    for name, pid in running.items():
        if name.startswith("chaincode-"):
            assert os.stat(f"/proc/{pid}/ns/net").st_ino == root_ns
    # every node's settings are exactly its org's bundle's (re-rooted at this network's directory)
    for org in ["Orderer", "Inspection", "Regulator"]:
        files = bundles.plan(layout, org, out, overlay.load(out))
        nodes = [n for n, o in owner.items() if o == org]
        for node in nodes:
            rel = Path("env") / f"{node}.env"
            assert files[rel] == (out / rel).read_text(), f"{rel} differs from {org}'s bundle"
            assert f"'{lab.address(org)}:" in str(files[rel]) and "127.0.0.1" not in str(files[rel])
        endpoints = json.loads(str(files[Path("endpoints.json")]))
        assert endpoints["addresses"]["orderer0.qcchain.example"] == lab.address("Orderer")
    # ports repeat across hosts (each namespace starts at the base port), never on one host
    base = layout.consortium.base_port
    assert layout.orderers[0].listen == layout.peers_of("Regulator")[0].listen == base
    assert lab.reachable("Orderer", base) and lab.reachable("Regulator", base) and lab.reachable("Inspection", base)


def test_record_written_on_one_host_is_read_on_another(lab: Lab, net: tuple[Path, Path]) -> None:
    from qcchain_core.gm import SM2PrivateKey
    from qcchain_gateway.profile import connect_profile
    from qcchain_network.netdir import load_layout
    from qcchain_sdk.contracts.records import RecordsClient, build_record, verify_view

    consortium, out = net
    layout = load_layout(consortium, out)
    key = SM2PrivateKey.from_pem((out / "test-admin-keys" / "InspectionMSP.pem").read_bytes())
    original = b"%PDF inspection report written on the Inspection host"
    built = build_record(record_id="IR-NETNS-1", category="inspection_report", equipment_code="32010001",
                         stage="inspection", owner_msp="InspectionMSP", grade="L4", signing_key=key,
                         original=original)
    profiles = {o.name: layout.profile_file(o) for o in layout.consortium.orgs}
    for org, profile in profiles.items():  # the gateways are the orgs' own peers, on their own hosts
        peers = json.loads(profile.read_text())["peers"]
        assert {p["url"].split("//")[1].rsplit(":", 1)[0] for p in peers.values()} == {lab.address(org)}
    t0 = time.monotonic()
    with connect_profile(profiles["Inspection"], user="Admin") as gw:
        meta = RecordsClient(gw.get_network("qcchannel").get_contract("qcchain", "records")).submit(built)
    TIMINGS["record submitted through Inspection's gateway (endorsed on both hosts, committed)"] = \
        time.monotonic() - t0
    assert meta["record_id"] == "IR-NETNS-1" and meta["placement"] == "off_chain"
    t0 = time.monotonic()
    view = _read(profiles["Regulator"], "IR-NETNS-1")
    TIMINGS["read through Regulator's gateway (another namespace)"] = time.monotonic() - t0
    assert view["owner_msp"] == "InspectionMSP" and verify_view(view, key.public_key()) == []
    # Inspection's second peer (same host, its own port block) got the block by gossip / deliver
    profile = json.loads(profiles["Inspection"].read_text())
    peer1 = "peer1.inspection.qcchain.example"
    profile["organizations"]["Inspection"]["peers"] = [peer1]
    profile["peers"] = {peer1: profile["peers"][peer1]}
    only_peer1 = out / "connection-inspection-peer1.json"
    only_peer1.write_text(json.dumps(profile))
    assert _read(only_peer1, "IR-NETNS-1")["digest"] == view["digest"]


def _read(profile: Path, record_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """records:get through ``profile``'s gateway, retried until that peer has committed the block."""
    from qcchain_gateway.profile import connect_profile
    from qcchain_sdk.contracts.records import RecordsClient

    deadline = time.monotonic() + timeout
    while True:
        try:
            with connect_profile(profile, user="Admin") as gw:
                return RecordsClient(gw.get_network("qcchannel").get_contract("qcchain", "records")).get(record_id)
        except Exception:  # noqa: BLE001 - not there yet: retried until the deadline, then raised
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)

