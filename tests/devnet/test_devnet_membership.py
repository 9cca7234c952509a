"""Organisations join and leave the running devnet, governed on chain (issue 18): ``qcchain devnet add-org`` /
``remove-org`` refuse without the executed ``member_admit`` / ``member_remove`` (nothing written), a collision
is refused, and after the restart the new member's identity works on qcchannel and on its own channel with the
regulator (collections widened), then is refused once it has left while its history stays readable."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from qcchain_cli.demo import load_policies
from qcchain_consortium.membership import parse_org_file
from qcchain_core.gm import SM2PrivateKey
from qcchain_devnet.daemon import UpOptions
from qcchain_devnet.detached import start_detached, stop
from qcchain_gateway.errors import GatewayError
from qcchain_gateway.profile import connect_profile
from qcchain_network.membergate import member_record
from qcchain_network.testadmins import execute
from qcchain_sdk.contracts.governance import GovernanceClient
from qcchain_sdk.proposals import proposalfile

ROOT = Path(__file__).resolve().parents[2]
QC = [sys.executable, "-m", "qcchain_cli.main"]
FIVE = {"Inspection": "InspectionMSP", "Regulator": "RegulatorMSP", "UsingUnit": "UsingUnitMSP",
        "Manufacturer": "ManufacturerMSP", "Maintenance": "MaintenanceMSP"}
ORG = {"org": {"name": "Inspection2", "msp_id": "Inspection2MSP", "role": "inspection_body",
               "domain": "inspection2.qcchain.example", "peers": 1, "full_name": "Second Inspection Institute",
               "credit_code": "12100000400022657P"}}


def _client(state: Path, name: str, msp: str, key: Any, stack: ExitStack) -> GovernanceClient:
    gateway = stack.enter_context(connect_profile(state / "connection-profiles" / f"connection-{name.lower()}.json",
                                                  user="Admin"))
    net = gateway.get_network("qcchannel")
    return GovernanceClient(net.get_contract("qcchain", "governance"), net.get_contract("qcchain", "keys"), msp,
                            gateway.identity.cert_pem, key)


def _qc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(QC + list(args), capture_output=True, text=True, timeout=180)


def _decide(state: Path, op: str, msp: str, artifact: dict[str, Any] | None, keys: dict[str, Any]) -> None:
    with ExitStack() as stack:
        clients = {m: _client(state, n, m, keys[m], stack) for n, m in FIVE.items()}
        proposal = proposalfile.new_proposal(op, "qcchannel", "qcchain", contract=msp, expiry=int(time.time()) + 3600,
                                             reason=f"{op} {msp}", artifact=artifact)
        execute(proposal, clients, keys)


@pytest.fixture()
def devnet(tmp_path: Path) -> Any:
    state = tmp_path / "devnet"
    start_detached(UpOptions(state_dir=state, port=0, chaincode_module="qcchain_contracts"))
    keys = {msp: SM2PrivateKey.generate() for msp in FIVE.values()}
    try:
        with ExitStack() as stack:
            clients = {m: _client(state, n, m, keys[m], stack) for n, m in FIVE.items()}
            members = [{"msp_id": m, "role": r, "name": f"{n} Co.", "credit_code": c} for n, m, r, c in (
                ("Inspection", "InspectionMSP", "inspection_body", "12100000400011546Y"),
                ("Regulator", "RegulatorMSP", "regulator", "11100000000013127D"),
                ("UsingUnit", "UsingUnitMSP", "using_unit", "91310000MA1FL0Q214"),
                ("Manufacturer", "ManufacturerMSP", "manufacturer", "91320000134789541Y"),
                ("Maintenance", "MaintenanceMSP", "maintenance_unit", "91440300MA5DC8XJ26"))]
            clients["RegulatorMSP"].bootstrap(members, load_policies(ROOT / "policies"))
            now = int(time.time())
            for client in clients.values():
                client.register_key(now - 60, now + 86400)
        yield state, keys
    finally:
        stop(state)


def test_an_org_joins_and_leaves_the_running_devnet_governed_on_chain(devnet: Any, tmp_path: Path) -> None:
    state, keys = devnet
    org_file = tmp_path / "inspection2.yaml"
    org_file.write_text(yaml.safe_dump(ORG), encoding="utf-8")
    profile = state / "connection-profiles" / "connection-inspection2.json"

    refused = _qc("devnet", "add-org", str(org_file), "--dir", str(state))  # no member_admit yet
    assert refused.returncode != 0 and "not a member on chain" in refused.stderr and "nothing changed" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert not (state / "orgs.json").exists() and not profile.exists()

    org = parse_org_file(ORG).org
    _decide(state, "member_admit", "Inspection2MSP", member_record(org), keys)
    joined = _qc("devnet", "add-org", str(org_file), "--dir", str(state))
    assert joined.returncode == 0, joined.stderr
    assert "inspection2-channel" in joined.stdout and "qcchannel" in joined.stdout and profile.is_file()

    again = _qc("devnet", "add-org", str(org_file), "--dir", str(state))  # a collision: one line, nothing written
    assert again.returncode != 0 and "refused" in again.stderr
    assert len(json.loads((state / "orgs.json").read_text())["events"]) == 1

    key2 = SM2PrivateKey.generate()
    with ExitStack() as stack:
        new = _client(state, "Inspection2", "Inspection2MSP", key2, stack)
        now = int(time.time())
        new.register_key(now - 60, now + 86400)  # a write of the new member, endorsed under the 6-org majority
        assert json.loads(new.governance.evaluate_transaction("whoami"))["msp_id"] == "Inspection2MSP"
        own = stack.enter_context(connect_profile(profile, user="Admin")).get_network("inspection2-channel")
        assert json.loads(own.get_contract("qcchain", "governance").evaluate_transaction("whoami"))["msp_id"] == "Inspection2MSP"
    info = json.loads((state / "devnet.json").read_text())
    assert "Inspection2" in info["connection_profiles"]

    not_yet = _qc("devnet", "remove-org", "Inspection2MSP", "--dir", str(state))  # no member_remove yet
    assert not_yet.returncode != 0 and "member_remove" in not_yet.stderr
    regulator = _qc("devnet", "remove-org", "RegulatorMSP", "--dir", str(state))
    assert regulator.returncode != 0 and "refused" in regulator.stderr

    _decide(state, "member_remove", "Inspection2MSP", None, keys)
    left = _qc("devnet", "remove-org", "Inspection2MSP", "--dir", str(state))
    assert left.returncode == 0, left.stderr
    with ExitStack() as stack:
        gone = stack.enter_context(connect_profile(profile, user="Admin")).get_network("qcchannel")
        with pytest.raises(GatewayError):
            gone.get_contract("qcchain", "governance").evaluate_transaction("whoami")
        reg = _client(state, "Regulator", "RegulatorMSP", keys["RegulatorMSP"], stack)
        assert json.loads(reg.governance.evaluate_transaction("get_member", "Inspection2MSP"))["status"] == "removed"
        assert reg.get_key(key2_id := _key_id(key2))["msp_id"] == "Inspection2MSP", key2_id  # its history stays


def _key_id(key: SM2PrivateKey) -> str:
    return key.public_key().key_id()
