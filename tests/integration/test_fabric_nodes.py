"""Adding and removing nodes on a running native Fabric network, recorded in the on-chain node registry
(T-8.2 b, T-7.2.3): its own small network (raft x3) brought up and deployed (``network.sh up`` +
``deploy``, which records the genesis nodes with one admission signed by the test admins), then
add-orderer / add-peer / verify-nodes / remove-orderer / remove-peer through ``scripts/network.sh``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from qcchain_network import admin, procs
from qcchain_network.derive import Layout
from qcchain_network.netdir import load_layout
from smallnet import small_consortium  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPT = str(ROOT / "scripts" / "network.sh")


def _sh(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QCCHAIN_PYTHON": sys.executable}
    return subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, fabric_binaries: Path) -> Iterator[tuple[list[str], Path]]:
    """The small consortium on its own ports (with credit codes, for the governance bootstrap), up and
    deployed; yields (the --consortium/--dir arguments, the consortium file); always taken down."""
    work = tmp_path_factory.mktemp("nodes")
    consortium = small_consortium(work, "nodes", 57050, credit=True)
    args = ["--consortium", str(consortium), "--dir", str(work / "net")]
    try:
        up = _sh("up", *args)
        assert up.returncode == 0, up.stderr
        deploy = _sh("deploy", *args)
        assert deploy.returncode == 0, deploy.stderr
        assert "6 genesis nodes admitted on chain" in deploy.stdout, deploy.stdout
        yield args, consortium
    finally:
        _sh("down", "--dir", str(work / "net"), timeout=60)
        left = [p.name for p in procs.read_pids(work / "net") if procs.alive(p.pid)]
        assert not left, f"processes left running: {left}"


def _layout(net: tuple[list[str], Path]) -> Layout:
    args, consortium = net
    return load_layout(consortium, Path(args[-1]))


def _osn_height(layout: Layout, host: str) -> int:
    node = next(n for n in layout.orderers if n.host == host)
    tls = layout.orderer_admin_tls
    out = admin.run_tool([str(Path(os.environ.get("FABRIC_BIN", "")) / "osnadmin") if os.environ.get("FABRIC_BIN")
                          else "osnadmin", "channel", "list", "--channelID", "qcchannel", "-o",
                          f"{layout.host}:{node.admin}", "--ca-file", str(admin.orderer_ca(layout)),
                          "--client-cert", str(tls / "client.crt"), "--client-key", str(tls / "client.key")])
    return int(json.loads(out[out.index("{"):])["height"])


def _peer_height(layout: Layout, peer_bin: Path, host: str) -> int:
    peer = next(p for p in layout.peers if p.host == host)
    text = admin.run_tool([str(peer_bin), "channel", "getinfo", "-c", "qcchannel"],
                          env=admin.admin_env(layout, layout.consortium.org(peer.org), peer))
    return int(json.loads(text[text.index("{"):])["height"])


def _submit_keys(layout: Layout, count: int) -> None:
    """``count`` valid transactions (keys:register of fresh SM2 keys by the Inspection admin); each submit
    returns only once committed VALID."""
    from qcchain_core.gm import SM2PrivateKey
    from qcchain_sdk.contracts.governance import GovernanceClient
    from qcchain_gateway.profile import connect_profile

    with connect_profile(layout.profile_file(layout.consortium.orgs[0])) as gw:
        net = gw.get_network("qcchannel")
        now = int(time.time())
        for _ in range(count):
            client = GovernanceClient(net.get_contract("qcchain", "governance"), net.get_contract("qcchain", "keys"),
                                      gw.identity.msp_id, gw.identity.cert_pem, SM2PrivateKey.generate())
            client.register_key(now - 60, now + 3600)


def _wait(what: str, check: Any, timeout: float = 60.0) -> float:
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < timeout, f"{what} not reached within {timeout:.0f}s"
        time.sleep(0.5)
    return time.monotonic() - t0


def _as_node(layout: Layout, host: str) -> Any:
    """A gateway to peer0 of Inspection signed with the (peer) identity of node ``host`` of Inspection."""
    from qcchain_gateway.connection import new_channel
    from qcchain_gateway.gateway import connect
    from qcchain_gateway.msp import load_identity
    from qcchain_gateway.profile import load_profile

    org = layout.consortium.orgs[0]
    identity, signer = load_identity(layout.org_dir(org) / "peers" / host / "msp", org.msp_id)
    endpoint = load_profile(layout.profile_file(org)).peers[f"peer0.{org.domain}"]
    channel = new_channel(endpoint.target, endpoint.tls_ca_pem, endpoint.server_name_override)
    return connect(identity, channel, signer, close_connection=True)


def _check_revoked(layout: Layout, peer_bin: Path, host: str) -> None:
    """After remove-peer: the Inspection MSP of qcchannel lists the removed peer's serial, a proposal signed
    with its identity is refused by a remaining peer (while a kept peer's identity is served), and a normal
    submit still commits VALID."""
    from cryptography import x509

    from qcchain_network import revocation
    from qcchain_network.binaries import find_all
    from qcchain_network.configupdate import fetch_config
    from qcchain_network.crl import crl_serials
    from qcchain_network.nodeops import TOOLS
    from qcchain_gateway.errors import EndorseError, GatewayError

    org = layout.consortium.orgs[0]
    cert_file = next((layout.org_dir(org) / "peers" / host / "msp" / "signcerts").glob("*.pem"))
    serial = x509.load_pem_x509_certificate(cert_file.read_bytes()).serial_number
    config, _ = fetch_config(layout, find_all(TOOLS), "qcchannel", layout.orderers[0],
                             layout.out / "check-crl.block")
    assert any(serial in crl_serials(c) for c in revocation.revocation_list(config, "Application", org.msp_id))
    line = [json.loads(x) for x in (layout.out / "operations.log").read_text().splitlines()][-1]
    assert line["op"] == "remove" and line["node"] == host and line["result"] == "ok", line
    assert set(line["revocation_list"]["channels"]) == {"qcchannel"} and f"{serial:x}" in line["revocation_list"][
        "serials"], line
    assert (layout.org_dir(org) / "peers" / f"peer0.{org.domain}" / "msp" / "crls").is_dir()
    # Readers of the org include its peers: a kept peer's identity may query qscc, the removed one may not
    with _as_node(layout, f"peer1.{org.domain}") as gw:
        assert gw.get_network("qcchannel").get_contract("qscc").evaluate_transaction("GetChainInfo", "qcchannel")
    with _as_node(layout, host) as gw, pytest.raises(GatewayError) as refused:
        gw.get_network("qcchannel").get_contract("qscc").evaluate_transaction("GetChainInfo", "qcchannel")
    assert "access denied" in str(refused.value).lower() or "revoked" in str(refused.value).lower(), refused.value
    with _as_node(layout, host) as gw, pytest.raises(EndorseError):
        gw.get_network("qcchannel").get_contract("qcchain", "kv").submit_transaction("put", "revoked", "1")
    peer_log = (layout.out / "logs" / f"peer0.{org.domain}.log").read_text(errors="replace")
    assert "The certificate has been revoked" in peer_log
    _submit_keys(layout, 1)  # a normal user's submit still commits VALID


def test_add_and_remove_nodes(net: tuple[list[str], Path], fabric_binaries: Path,
                              fabric_timings: dict[str, Any]) -> None:
    args, _ = net
    # a node whose identity is not admitted on chain is refused; nothing of it stays
    refused = _sh("add-orderer", *args)
    assert refused.returncode == 1 and "not admitted on chain" in refused.stderr, refused.stderr
    assert "orderer3.qcchain.example" not in [n.host for n in _layout(net).orderers]
    # --propose writes the admit proposal for the admins to sign offline (the node is not added)
    from qcchain_sdk.proposals import proposalfile

    proposal_path = Path(args[-1]).parent / "admit-orderer3.json"
    proposed = _sh("add-orderer", *args, "--propose", str(proposal_path))
    assert proposed.returncode == 0 and "not added" in proposed.stdout, proposed.stdout + proposed.stderr
    proposal = proposalfile.load(proposal_path)
    assert proposal.operation == "node_admit" and proposal.target["contract"] == "orderer3.qcchain.example"
    assert not proposal.signatures
    # admitted by the test admins -> consenter on every channel, active, has the blocks
    t0 = time.monotonic()
    added = _sh("add-orderer", *args, "--admit-with-test-keys")
    assert added.returncode == 0, added.stderr
    fabric_timings["add-orderer (admit + config update + join + active)"] = time.monotonic() - t0
    layout = _layout(net)
    assert "orderer3.qcchain.example" in [n.host for n in layout.orderers]
    _submit_keys(layout, 3)  # transactions still VALID with 4 consenters
    fabric_timings["new orderer caught up"] = _wait("orderer3 height", lambda: _osn_height(
        layout, "orderer3.qcchain.example") == _osn_height(layout, "orderer0.qcchain.example"))
    # a new peer joins and reaches the ledger height
    t1 = time.monotonic()
    peer = _sh("add-peer", "Inspection", *args, "--admit-with-test-keys")
    assert peer.returncode == 0, peer.stderr
    layout = _layout(net)
    fabric_timings["add-peer (admit + start + join)"] = time.monotonic() - t1
    fabric_timings["new peer reached the ledger height"] = _wait("peer2 height", lambda: _peer_height(
        layout, fabric_binaries, "peer2.inspection.qcchain.example") == _peer_height(
        layout, fabric_binaries, "peer0.inspection.qcchain.example"))
    verified = _sh("verify-nodes", *args)
    assert verified.returncode == 0 and "4 of 4 consenter(s) admitted and active" in verified.stdout, verified.stdout
    # removal down to the raft minimum, then refused
    removed = _sh("remove-orderer", "orderer3.qcchain.example", *args)
    assert removed.returncode == 0, removed.stderr
    below = _sh("remove-orderer", "orderer2.qcchain.example", *args)
    assert below.returncode == 1 and "at least 3 are needed" in below.stderr, below.stderr
    _submit_keys(_layout(net), 2)
    # a consenter added without the registry makes verify-nodes fail
    unrecorded = _sh("add-orderer", *args, "--no-registry")
    assert unrecorded.returncode == 0, unrecorded.stderr
    failing = _sh("verify-nodes", *args)
    assert failing.returncode == 1 and "FAIL (not admitted)" in failing.stdout, failing.stdout
    assert _sh("remove-orderer", "orderer4.qcchain.example", *args, "--no-registry").returncode == 0
    # --purge never deletes blocks held nowhere else (T-8.1.2h): with the org's peer0 stopped it is refused and
    # nothing changes; --force needs a reason
    removed_peer = next(p for p in _layout(net).peers if p.host == "peer2.inspection.qcchain.example")
    assert _sh("stop-node", "peer0.inspection.qcchain.example", *args).returncode == 0
    kept = _sh("remove-peer", "peer2.inspection.qcchain.example", *args, "--purge")
    assert kept.returncode == 1 and "--purge refused" in kept.stderr and "is not running" in kept.stderr, kept.stderr
    assert len(kept.stderr.strip().splitlines()) == 1
    no_reason = _sh("remove-peer", "peer2.inspection.qcchain.example", *args, "--purge", "--force")
    assert no_reason.returncode == 1 and "--force needs --reason" in no_reason.stderr, no_reason.stderr
    assert "peer2.inspection.qcchain.example" in [p.host for p in _layout(net).peers]
    assert removed_peer.data_dir.is_dir()
    assert _sh("start-node", "peer0.inspection.qcchain.example", *args).returncode == 0
    from qcchain_network.consistency import wait_endorsable

    for profile in sorted((Path(args[-1]) / "connection-profiles").glob("connection-*.json")):
        wait_endorsable(profile, "qcchannel", timeout=90)  # the restarted anchor peer is discovered again
    layout = _layout(net)
    _wait("peer0 back at peer2's height", lambda: _peer_height(
        layout, fabric_binaries, "peer0.inspection.qcchain.example") >= _peer_height(
        layout, fabric_binaries, "peer2.inspection.qcchain.example"))
    t2 = time.monotonic()
    gone = _sh("remove-peer", "peer2.inspection.qcchain.example", *args, "--purge")
    assert gone.returncode == 0, gone.stderr
    assert not removed_peer.data_dir.exists()  # peer0 holds every block it had: purged
    fabric_timings["remove-peer (stop + registry + CRL config update)"] = time.monotonic() - t2
    _check_revoked(_layout(net), fabric_binaries, "peer2.inspection.qcchain.example")
    ops = [json.loads(line) for line in (Path(args[-1]) / "operations.log").read_text().splitlines()]
    adds = [o for o in ops if o["op"] == "add" and o["result"] == "ok"]
    assert {o["node"] for o in adds} == {"orderer3.qcchain.example", "peer2.inspection.qcchain.example",
                                         "orderer4.qcchain.example"}
    assert all(len(o["tls_cert_sha256"]) == 64 for o in adds)
    assert [o["registry"] for o in adds if o["node"] == "orderer4.qcchain.example"] == ["none"]
    assert any(o["op"] == "add" and o["result"].startswith("failed: refused") for o in ops)
    assert {o["node"] for o in ops if o["op"] == "remove"} == {"orderer3.qcchain.example", "orderer4.qcchain.example",
                                                               "peer2.inspection.qcchain.example"}
    assert [o["purged"] for o in ops if o["op"] == "remove" and o["node"].startswith("peer2")] == [True]


def test_bft_add_and_remove_consenter(tmp_path_factory: pytest.TempPathFactory, fabric_binaries: Path,
                                      fabric_timings: dict[str, Any]) -> None:
    """BFT (v3 ConsenterMapping + the BlockValidation policy that must follow it): 4 -> 5 -> 4 consenters,
    then removal below 4 refused. Without the registry (no chaincode on this network)."""
    from qcchain_network import configupdate
    from qcchain_network.nodeops import TOOLS
    from qcchain_network.binaries import find_all

    work = tmp_path_factory.mktemp("bftnodes")
    args = ["--consortium", str(small_consortium(work, "bft", 58050, bft=True)), "--dir", str(work / "net")]
    try:
        assert _sh("up", *args).returncode == 0
        t0 = time.monotonic()
        added = _sh("add-orderer", *args, "--no-registry")
        assert added.returncode == 0, added.stderr
        fabric_timings["BFT add-orderer (config update + join + active)"] = time.monotonic() - t0
        layout = load_layout(work / "bft.yaml", work / "net")
        bins = find_all(TOOLS)
        new = next(n for n in layout.orderers if n.host == "orderer4.qcchain.example")
        config, number = configupdate.fetch_config(layout, bins, "qcchannel", new, work / "via-new.block")
        assert len(configupdate.consenters(config)) == 5 and number >= 1  # the new node serves the chain
        assert _sh("remove-orderer", "orderer4.qcchain.example", *args, "--no-registry").returncode == 0
        below = _sh("remove-orderer", "orderer3.qcchain.example", *args, "--no-registry")
        assert below.returncode == 1 and "at least 4 are needed" in below.stderr, below.stderr
    finally:
        _sh("down", "--dir", str(work / "net"), timeout=60)
