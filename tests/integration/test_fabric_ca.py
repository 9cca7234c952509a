"""``scripts/network.sh up --ca``: the small consortium with its crypto material from one Fabric CA server
per org (fabric-ca v1.5), chaincode deployed, a transaction committed VALID, ``qcchain certs check``
listing the CA-issued certificates, and ``down`` leaving nothing running.

Skipped when the Fabric binaries or ``fabric-ca-server``/``fabric-ca-client`` are not found (FABRIC_BIN, PATH).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from cryptography import x509

from qcchain_network import ca, lifecycle, procs
from qcchain_network.consortium import load_consortium
from qcchain_network.derive import Layout, ca_nodes, derive
from qcchain_network.errors import BinaryNotFound

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPT = str(ROOT / "scripts" / "network.sh")
pytestmark = [pytest.mark.fabric, pytest.mark.slow]


def _ca_binaries_or_skip() -> None:
    try:
        ca.find_ca_binaries()
    except BinaryNotFound as exc:
        pytest.skip(f"Fabric CA integration test skipped: {exc}")


@pytest.fixture(scope="module")
def ca_net(tmp_path_factory: pytest.TempPathFactory, fabric_binaries: Path,
           fabric_timings: dict[str, Any]) -> Iterator[Layout]:
    """The small consortium on its own ports, crypto from Fabric CAs, chaincode ``qcchain`` deployed."""
    _ca_binaries_or_skip()
    work = tmp_path_factory.mktemp("ca")
    data = yaml.safe_load((HERE / "small-consortium.yaml").read_text())
    data["network"]["base_port"] = 29050
    data["channels"][0]["chaincodes"] = data["channels"][0]["chaincodes"][:1]
    data["policies"] = {k: str((HERE / v).resolve()) for k, v in data["policies"].items()}
    consortium = work / "ca.yaml"
    consortium.write_text(yaml.safe_dump(data, sort_keys=False))
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
        layout = derive(load_consortium(consortium), out)
        t1 = time.monotonic()
        pkg = lifecycle.package(out / "packages", "qcchain_1.0", f"127.0.0.1:{layout.chaincode_ports['qcchain']}")
        lifecycle.start_server(layout, pkg, [sys.executable, str(HERE / "probe_cc.py")])
        lifecycle.deploy(layout, fabric_binaries, layout.consortium.channels[0], "qcchain", pkg)
        fabric_timings["--ca: deploy qcchain"] = time.monotonic() - t1
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
    from qcchain_sdk.profile import connect_profile

    t0 = time.monotonic()
    with connect_profile(ca_net.profile_file(ca_net.consortium.org("Inspection")), user="User1") as gw:
        kv = gw.get_network("qcchannel").get_contract("qcchain", "kv")
        deadline = time.monotonic() + 60
        while True:
            try:
                submitted = kv.submit_async("put", ["ca-key", "ca-value"])
                break
            except Exception:  # noqa: BLE001 - chaincode discovery right after deploy: retried, then raised
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        status = submitted.get_status()
        assert status.successful and status.code_name == "VALID", status.code_name
        assert kv.evaluate_transaction("get", "ca-key") == b"ca-value"
    fabric_timings["--ca: first submit VALID after deploy"] = time.monotonic() - t0


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
