"""``scripts/network.sh up --ca``: the small consortium with its crypto material from one Fabric CA server
per org (fabric-ca v1.5), ``network.sh deploy`` (qcchain contracts, genesis nodes recorded on chain), a
transaction committed VALID, ``qcchain certs check`` listing the CA-issued certificates, a peer added
(identity enrolled at the org's CA, admitted with the test keys, joined, in the connection profile) and
removed (certificates revoked at the CA: in its CRL), and ``down`` leaving nothing running.

Skipped when the Fabric binaries or ``fabric-ca-server``/``fabric-ca-client`` are not found (FABRIC_BIN, PATH).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from cryptography import x509

from qcchain_network import admin, ca, canodes, procs
from qcchain_network.derive import Layout, ca_nodes
from qcchain_network.netdir import load_layout
from qcchain_network.errors import BinaryNotFound
from smallnet import small_consortium  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPT = str(ROOT / "scripts" / "network.sh")
pytestmark = [pytest.mark.fabric, pytest.mark.slow]
NEW_PEER = "peer2.inspection.qcchain.example"


def _sh(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QCCHAIN_PYTHON": sys.executable}
    return subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _ca_binaries_or_skip() -> None:
    try:
        ca.find_ca_binaries()
    except BinaryNotFound as exc:
        pytest.skip(f"Fabric CA integration test skipped: {exc}")


@pytest.fixture(scope="module")
def ca_net(tmp_path_factory: pytest.TempPathFactory, fabric_binaries: Path,
           fabric_timings: dict[str, Any]) -> Iterator[Layout]:
    """The small consortium on its own ports, crypto from Fabric CAs, chaincode ``qcchain`` deployed by
    ``network.sh deploy`` (governance bootstrapped, the 6 genesis nodes admitted on chain)."""
    _ca_binaries_or_skip()
    work = tmp_path_factory.mktemp("ca")
    consortium = small_consortium(work, "ca", 29050, credit=True, one_chaincode=True)
    out = work / "net"
    env = {**os.environ, "QCCHAIN_PYTHON": sys.executable}
    t0 = time.monotonic()
    up = subprocess.run([SCRIPT, "up", "--ca", "--consortium", str(consortium), "--dir", str(out)], env=env,
                        capture_output=True, text=True, timeout=180, check=False)
    fabric_timings["--ca network up (3 CAs, 11 identities)"] = time.monotonic() - t0
    if up.returncode != 0:
        subprocess.run([SCRIPT, "down", "--dir", str(out)], env=env, capture_output=True, timeout=60, check=False)
        pytest.fail(f"network.sh up --ca failed: {up.stderr.strip()}")
    try:
        layout = load_layout(consortium, out)
        t1 = time.monotonic()
        deploy = _sh("deploy", "--consortium", str(consortium), "--dir", str(out))
        assert deploy.returncode == 0, deploy.stderr
        assert "6 genesis nodes admitted on chain" in deploy.stdout, deploy.stdout
        fabric_timings["--ca: deploy qcchain + genesis node admission"] = time.monotonic() - t1
        yield layout
    finally:
        t2 = time.monotonic()
        down = subprocess.run([SCRIPT, "down", "--dir", str(out)], env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        fabric_timings["--ca network down"] = time.monotonic() - t2
        assert down.returncode == 0, down.stderr
        assert not [p.name for p in procs.read_pids(out) if procs.alive(p.pid)], "processes left running"


def test_ca_servers_run_as_recorded_processes(ca_net: Layout) -> None:
    status = subprocess.run([SCRIPT, "status", "--dir", str(ca_net.out)], capture_output=True, text=True,
                            timeout=30, check=True).stdout
    for node in ca_nodes(ca_net):
        assert f"{node.host} " in status and node.log_file.stat().st_size > 0
        line = next(ln for ln in status.splitlines() if ln.startswith(node.host))
        assert line.rstrip().endswith("running"), line


def test_submit_is_valid_with_ca_issued_identities(ca_net: Layout, fabric_timings: dict[str, Any]) -> None:
    from qcchain_gateway.profile import connect_profile

    from qcchain_core.gm import SM2PrivateKey
    from qcchain_sdk.contracts.governance import GovernanceClient

    t0 = time.monotonic()
    profile = ca_net.profile_file(ca_net.consortium.org("Inspection"))
    with connect_profile(profile) as gw:  # the CA-enrolled Admin registers a key: a submit committed VALID
        net = gw.get_network("qcchannel")
        client = GovernanceClient(net.get_contract("qcchain", "governance"), net.get_contract("qcchain", "keys"),
                                  gw.identity.msp_id, gw.identity.cert_pem, SM2PrivateKey.generate())
        now = int(time.time())
        client.register_key(now - 60, now + 3600)
    fabric_timings["--ca: first submit VALID after deploy"] = time.monotonic() - t0
    with connect_profile(profile, user="User1") as gw:  # the CA-enrolled client user reads the registry
        net = gw.get_network("qcchannel")
        reader = GovernanceClient(net.get_contract("qcchain", "governance"), net.get_contract("qcchain", "keys"),
                                  gw.identity.msp_id, gw.identity.cert_pem)
        assert len(reader.nodes()) == 6


def test_certs_check_lists_ca_issued_certificates(ca_net: Layout) -> None:
    from click.testing import CliRunner

    from qcchain_cli.main import cli

    # fabric-ca's leaf certificates live one year (cryptogen's ten): a 400-day window flags exactly them
    result = CliRunner().invoke(cli, ["certs", "check", "--dir", str(ca_net.out), "--within", "400"])
    assert result.exit_code == 0, result.output
    lines = {ln.rsplit("  ", 1)[-1]: ln for ln in result.output.splitlines() if ln.startswith(("ok", "WARN"))}
    peer = ca_net.peers[0]
    root = next(n for n in ca_nodes(ca_net) if n.org == peer.org)
    signcert = peer.msp_dir / "signcerts" / f"{peer.host}-cert.pem"
    org_root = ca_net.org_dir(ca_net.consortium.org(peer.org)) / "ca" / f"ca.{root.domain}-cert.pem"
    assert lines[str(signcert.relative_to(ca_net.out))].startswith("WARN")
    assert lines[str((peer.tls_dir / "server.crt").relative_to(ca_net.out))].startswith("WARN")
    assert lines[str(org_root.relative_to(ca_net.out))].startswith("ok")
    assert len(lines) >= 11 * 4  # per identity: signcert, cacerts, tlscacerts, TLS cert and TLS CA
    ca_cert = x509.load_pem_x509_certificate(ca.ca_cert(root).read_bytes())
    for path in (signcert, peer.tls_dir / "server.crt"):
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        cert.verify_directly_issued_by(ca_cert)  # raises unless the org's Fabric CA signed it
        assert cert.issuer.rfc4514_string().startswith(f"CN={root.host}")


def _peer_height(layout: Layout, peer_bin: Path, host: str) -> int:
    peer = next(p for p in layout.peers if p.host == host)
    text = admin.run_tool([str(peer_bin), "channel", "getinfo", "-c", "qcchannel"],
                          env=admin.admin_env(layout, layout.consortium.org(peer.org), peer))
    return int(json.loads(text[text.index("{"):])["height"])


def _profile_peers(layout: Layout) -> tuple[list[str], set[str], set[str]]:
    doc = json.loads(layout.profile_file(layout.consortium.org("Inspection")).read_text())
    return (doc["organizations"]["Inspection"]["peers"], set(doc["peers"]),
            set(doc["channels"]["qcchannel"]["peers"]))


def _ops(layout: Layout) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (layout.out / "operations.log").read_text().splitlines()]


def test_add_and_remove_peer_with_the_org_ca(ca_net: Layout, fabric_binaries: Path,
                                             fabric_timings: dict[str, Any]) -> None:
    args = ["--consortium", str(ca_net.out.parent / "ca.yaml"), "--dir", str(ca_net.out)]
    root_node = next(n for n in ca_nodes(ca_net) if n.org == "Inspection")
    # the org's CA is down: a clear one-line error naming it and how to start it; nothing of the node remains
    assert _sh("stop-node", root_node.host, "--dir", str(ca_net.out)).returncode == 0
    refused = _sh("add-peer", "Inspection", *args, "--admit-with-test-keys")
    assert refused.returncode == 1, refused.stdout
    assert f"the Fabric CA {root_node.host} of Inspection is not running" in refused.stderr, refused.stderr
    assert f"start-node {root_node.host}" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert not (ca_net.out / "nodes.json").exists()
    started = _sh("start-node", root_node.host, *args)
    assert started.returncode == 0, started.stderr
    # added: enrolled at the org's CA, admitted on chain, joined, at the ledger height, in the profile
    t0 = time.monotonic()
    added = _sh("add-peer", "Inspection", *args, "--admit-with-test-keys")
    assert added.returncode == 0, added.stderr
    fabric_timings["--ca: add-peer (enroll at CA + admit + start + join)"] = time.monotonic() - t0
    layout = load_layout(ca_net.out.parent / "ca.yaml", ca_net.out)
    peer = next(p for p in layout.peers if p.host == NEW_PEER)
    deadline = time.monotonic() + 60
    while _peer_height(layout, fabric_binaries, NEW_PEER) != _peer_height(layout, fabric_binaries,
                                                                          "peer0.inspection.qcchain.example"):
        assert time.monotonic() < deadline, "the added peer did not reach the ledger height in 60s"
        time.sleep(0.5)
    root = x509.load_pem_x509_certificate(ca.ca_cert(root_node).read_bytes())
    sign = x509.load_pem_x509_certificate((peer.msp_dir / "signcerts" / f"{NEW_PEER}-cert.pem").read_bytes())
    tls = x509.load_pem_x509_certificate((peer.tls_dir / "server.crt").read_bytes())
    for cert in (sign, tls):
        cert.verify_directly_issued_by(root)  # raises unless the org's Fabric CA signed it
        assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == NEW_PEER
        assert "peer" in [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)]
    sans = tls.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert NEW_PEER in sans.get_values_for_type(x509.DNSName)
    org_peers, profile_peers, channel_peers = _profile_peers(layout)
    assert NEW_PEER in org_peers and NEW_PEER in profile_peers and NEW_PEER in channel_peers
    add_line = [o for o in _ops(layout) if o["op"] == "add" and o["node"] == NEW_PEER][-1]
    assert add_line["result"] == "ok" and add_line["identity"] == "fabric-ca", add_line
    # removed: gone from the profile, both certificates revoked at the CA (in its signed CRL)
    removed = _sh("remove-peer", NEW_PEER, *args)
    assert removed.returncode == 0, removed.stderr
    org_peers, profile_peers, channel_peers = _profile_peers(layout)
    assert NEW_PEER not in org_peers + list(profile_peers) + list(channel_peers) and len(org_peers) == 2
    line = [o for o in _ops(layout) if o["op"] == "remove" and o["node"] == NEW_PEER][-1]
    assert line["result"] == "ok" and line["revoked_by"] == root_node.host, line
    crl = x509.load_pem_x509_crl(Path(line["crl"]).read_bytes())
    assert crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    for cert in (sign, tls):
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        assert entry is not None, f"serial {cert.serial_number:x} not in the CA's CRL"
    # fabric-ca keeps the reason in its database only (its CRL entries carry serial and time)
    assert line["revocation_reason"] == canodes.REVOKE_REASON
    assert Path(line["crl"]).is_relative_to(root_node.home / "registrar")
    # the CA's CRL is in the Inspection MSP of the channel config (so Fabric itself refuses the identity)
    assert _channel_crl_serials(layout, "Application", "InspectionMSP") >= {sign.serial_number, tls.serial_number}
    assert set(line["revocation_list"]["channels"]) == {"qcchannel"}, line


def test_add_and_remove_orderer_with_the_orderer_ca(ca_net: Layout, fabric_timings: dict[str, Any]) -> None:
    args = ["--consortium", str(ca_net.out.parent / "ca.yaml"), "--dir", str(ca_net.out)]
    host = "orderer3.qcchain.example"
    t0 = time.monotonic()
    added = _sh("add-orderer", *args, "--admit-with-test-keys")
    assert added.returncode == 0, added.stderr
    fabric_timings["--ca: add-orderer (enroll at CA + admit + config update + join + active)"] = time.monotonic() - t0
    verified = _sh("verify-nodes", *args)
    assert verified.returncode == 0 and "4 of 4 consenter(s) admitted and active" in verified.stdout, verified.stdout
    layout = load_layout(ca_net.out.parent / "ca.yaml", ca_net.out)
    node = next(n for n in layout.orderers if n.host == host)
    ord_ca = next(n for n in ca_nodes(layout) if n.kind == "orderer")
    root = x509.load_pem_x509_certificate(ca.ca_cert(ord_ca).read_bytes())
    tls = x509.load_pem_x509_certificate((node.tls_dir / "server.crt").read_bytes())
    tls.verify_directly_issued_by(root)
    sign = x509.load_pem_x509_certificate((node.msp_dir / "signcerts" / f"{host}-cert.pem").read_bytes())
    sign.verify_directly_issued_by(root)
    assert "orderer" in [a.value for a in sign.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)]
    removed = _sh("remove-orderer", host, *args)
    assert removed.returncode == 0, removed.stderr
    line = [o for o in _ops(layout) if o["op"] == "remove" and o["node"] == host][-1]
    assert line["result"] == "ok" and line["revoked_by"] == ord_ca.host, line
    crl = x509.load_pem_x509_crl(Path(line["crl"]).read_bytes())
    assert all(crl.get_revoked_certificate_by_serial_number(c.serial_number) is not None for c in (sign, tls))
    assert _channel_crl_serials(layout, "Orderer", "OrdererMSP") >= {sign.serial_number, tls.serial_number}


def _channel_crl_serials(layout: Layout, section: str, msp_id: str) -> set[int]:
    """Every serial the org MSP's ``revocation_list`` in qcchannel's current config revokes."""
    from qcchain_network import revocation
    from qcchain_network.binaries import find_all
    from qcchain_network.configupdate import fetch_config
    from qcchain_network.crl import crl_serials
    from qcchain_network.nodeops import TOOLS

    config, _ = fetch_config(layout, find_all(TOOLS), "qcchannel", layout.orderers[0], layout.out / "crl-check.block")
    return set().union(*[crl_serials(c) for c in revocation.revocation_list(config, section, msp_id)])
