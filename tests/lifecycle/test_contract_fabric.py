"""``qcchain contract`` on a real Fabric v3.1 network (skipped without Fabric binaries): a freshly created
contract is deployed through governance + Fabric's ``peer lifecycle`` (sequence 1), invoked, then upgraded
(sequence 2) with the chaincode server switched (the old one stopped), then frozen by the regulator: the
contract's own governance check (a chaincode-to-chaincode query) refuses writes and serves reads."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qcchain_cli.main import cli

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CONSORTIUM = HERE / "lifecycle-consortium.yaml"
CHANNEL = "qcchannel"
ORGS = ("Regulator", "Inspection")
PASSWORD = "lifecycle test password"
pytestmark = [pytest.mark.fabric, pytest.mark.slow, pytest.mark.timeout(420)]


def _binaries_or_skip() -> None:
    from qcchain_network.binaries import FABRIC_TOOLS, base_config_dir, find_binary
    from qcchain_network.errors import BinaryNotFound

    try:
        base_config_dir({name: find_binary(name) for name in FABRIC_TOOLS}["peer"])
    except BinaryNotFound as exc:
        pytest.skip(f"real-Fabric lifecycle test skipped: {exc}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _retry(call: Any, timeout: float = 60.0) -> Any:
    """Retry ``call`` until it succeeds (a new chaincode becomes usable once discovery knows it)."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - retried until the deadline, then reported
            last = exc
            time.sleep(0.5)
    raise AssertionError(f"not usable after {timeout:.0f}s: {last}")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The network up, governance chaincode ``qcchain`` deployed, members bootstrapped, admin keys registered."""
    _binaries_or_skip()
    from qcchain_network import cclifecycle as lifecycle, procs
    from qcchain_network.binaries import find_binary
    from qcchain_consortium.consortium import load_consortium
    from qcchain_network.derive import derive

    tmp = tmp_path_factory.mktemp("lcfabric")
    out, script = tmp / "net", str(ROOT / "scripts" / "network.sh")
    env = {**os.environ, "QCCHAIN_PYTHON": sys.executable}
    up = subprocess.run([script, "up", "--consortium", str(CONSORTIUM), "--dir", str(out)], env=env,
                        capture_output=True, text=True, timeout=240, check=False)
    try:
        assert up.returncode == 0, up.stderr
        layout = derive(load_consortium(CONSORTIUM), out)
        peer = find_binary("peer")
        pkg = lifecycle.package(out / "packages", "qcchain_1.0", f"127.0.0.1:{layout.chaincode_ports['qcchain']}")
        lifecycle.start_server(layout, pkg)
        lifecycle.deploy(layout, peer, layout.consortium.channels[0], "qcchain", pkg)
        profiles = {o.name: layout.profile_file(o) for o in layout.consortium.orgs}
        keystore = tmp / "keystore"
        (tmp / "pw").write_text(PASSWORD)
        for org in ORGS:
            assert CliRunner().invoke(cli, ["keys", "generate", f"{org}-admin", "--keystore", str(keystore),
                                            "--password-file", str(tmp / "pw")]).exit_code == 0
        _retry(lambda: _bootstrap(profiles, keystore), timeout=90)
        for org in ORGS:  # each org admin registers its own SM2 key through the CLI
            out_reg = _cli("register-key", "--key", f"{org}-admin", "--profile", profiles[org], "--keystore", keystore,
                           "--password-file", tmp / "pw")
            assert f"for {org}MSP (govern, sign, encrypt)" in out_reg
        yield {"tmp": tmp, "out": out, "profiles": profiles, "keystore": keystore, "pw": tmp / "pw", "peer": peer,
               "layout": layout}
    finally:
        subprocess.run([script, "down", "--dir", str(out)], env=env, capture_output=True, timeout=120, check=False)
        leftovers = [p.name for p in procs.read_pids(out) if procs.alive(p.pid)] if out.exists() else []
        assert not leftovers, f"processes left running: {leftovers}"


def _bootstrap(profiles: dict[str, Path], keystore: Path) -> None:
    from qcchain_cli.demo import consortium_members, load_policies
    from qcchain_sdk.contracts.governance import GovernanceClient
    from qcchain_gateway.keystore import FileKeystore
    from qcchain_gateway.profile import connect_profile

    members = consortium_members(None, print)
    with connect_profile(profiles["Regulator"]) as gateway:
        network = gateway.get_network(CHANNEL)
        client = GovernanceClient(network.get_contract("qcchain", "governance"), network.get_contract("qcchain", "keys"),
                                  gateway.identity.msp_id, gateway.identity.cert_pem,
                                  FileKeystore(keystore).get("Regulator-admin", PASSWORD.encode()))  # type: ignore[arg-type]
        client.bootstrap([{"msp_id": f"{n}MSP", "role": members[n]["role"], "name": members[n]["full_name"] or n,
                           "credit_code": members[n]["credit_code"]} for n in ORGS], load_policies(ROOT / "policies"))


def _cli(*args: str | Path) -> str:
    result = CliRunner().invoke(cli, ["contract", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


def _governed(net: dict[str, Any], operation: str, package: Path, project: Path) -> str:
    proposal = net["tmp"] / f"{operation}.json"
    _cli(operation, package, "--profile", net["profiles"]["Regulator"], "--out", proposal)
    for org in ORGS:
        _cli("sign", proposal, "--key", f"{org}-admin", "--keystore", net["keystore"], "--password-file", net["pw"])
    profiles = [a for org in ORGS for a in ("--profile", str(net["profiles"][org]))]
    return _cli("execute", proposal, *profiles, "--network-dir", net["out"], "--consortium", CONSORTIUM,
                "--serve", project)


def _committed(net: dict[str, Any]) -> dict[str, Any]:
    from qcchain_network import admin

    layout = net["layout"]
    text = admin.run_tool([str(net["peer"]), "lifecycle", "chaincode", "querycommitted", "--channelID", CHANNEL,
                           "--name", "assetreg", "-O", "json"], env=admin.admin_env(layout, layout.consortium.orgs[0]))
    return dict(json.loads(text[text.index("{"):]))


def test_deploy_then_upgrade_a_fresh_contract_on_fabric(net: dict[str, Any], fabric_figures: dict[str, float]) -> None:
    project = net["tmp"] / "work" / "assetreg"
    _cli("create", "assetreg", "--dir", project.parent)
    _cli("compile", project, "--address", f"127.0.0.1:{_free_port()}")
    t0 = time.monotonic()
    out = _governed(net, "deploy", project / "dist" / "assetreg_1.0.tar.gz", project)
    fabric_figures["deploy: governance + peer lifecycle (s)"] = time.monotonic() - t0
    assert "state active, active version 1.0" in out and "committed assetreg version 1.0 at sequence 1" in out
    assert "chaincode server assetreg_1.0 started" in out
    reg = net["profiles"]["Regulator"]
    call = ("invoke", "--profile", reg, "--chaincode", "assetreg")
    t1 = time.monotonic()
    _retry(lambda: _cli(call[0], "put", "lift-1", "inspected", *call[1:]))
    fabric_figures["deploy: first submit accepted after (s)"] = time.monotonic() - t1
    assert _cli(call[0], "get", "lift-1", *call[1:], "--evaluate").strip() == "inspected"

    _cli("compile", project, "--version", "2.0", "--address", f"127.0.0.1:{_free_port()}")
    t2 = time.monotonic()
    out = _governed(net, "upgrade", project / "dist" / "assetreg_2.0.tar.gz", project)
    fabric_figures["upgrade: governance + peer lifecycle (s)"] = time.monotonic() - t2
    assert "committed assetreg version 2.0 at sequence 2" in out and "stopped chaincode-assetreg_1.0" in out
    committed = _committed(net)
    assert (committed["sequence"], committed["version"]) == (2, "2.0")
    _retry(lambda: _cli(call[0], "put", "lift-2", "repaired", *call[1:]))
    assert _cli(call[0], "get", "lift-1", *call[1:], "--evaluate").strip() == "inspected"  # state kept
    status = _cli("status", "--profile", reg, "--chaincode", "assetreg")
    assert status.startswith("qcchannel/assetreg: active, active version 2.0")

    # The new contract asks governance (chaincode-to-chaincode) on every call: frozen -> writes refused.
    freeze = net["tmp"] / "freeze.json"
    _cli("freeze", "--profile", reg, "--chaincode", "assetreg", "--out", freeze)
    _cli("sign", freeze, "--key", "Regulator-admin", "--keystore", net["keystore"], "--password-file", net["pw"])
    assert "state frozen" in _cli("execute", freeze, "--profile", reg)
    refused = CliRunner().invoke(cli, ["contract", *map(str, (call[0], "put", "lift-3", "x", *call[1:]))])
    assert refused.exit_code == 1 and "frozen by governance" in refused.output
    assert _cli(call[0], "get", "lift-2", *call[1:], "--evaluate").strip() == "repaired"  # reads still served

    destroy = net["tmp"] / "destroy.json"
    _cli("destroy", "--profile", reg, "--chaincode", "assetreg", "--out", destroy)
    for org in ORGS:
        _cli("sign", destroy, "--key", f"{org}-admin", "--keystore", net["keystore"], "--password-file", net["pw"])
    out = _cli("execute", destroy, *[a for o in ORGS for a in ("--profile", str(net["profiles"][o]))],
               "--network-dir", net["out"], "--consortium", CONSORTIUM)
    assert "state destroyed" in out and "fabric: stopped chaincode-assetreg_2.0 of assetreg" in out


@pytest.fixture(scope="module")
def fabric_figures() -> Iterator[dict[str, float]]:
    figures: dict[str, float] = {}
    yield figures
    for name, value in figures.items():
        print(f"{name:50} {value:7.2f}")
