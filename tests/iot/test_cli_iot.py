"""``qcchain warnings`` and ``qcchain devices`` over the contracts (MockStub behind the CLI's contract hook):
register with a broker credential, the closed loop by the right orgs, refusals as one-line errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

from qcchain_cli.iot import devices, warnings
from qcchain_iot.credentials import CredentialStore
from qcchain_sdk.contracts.warnings import WarningsClient

from chainkit import KitContract, chain_kit
from test_warnings_contract import DEVICE, device_warning


def _cli(kit, org, group, args):
    result = CliRunner().invoke(group, args, obj={"contract_provider": lambda _ctx, _name: KitContract(kit, org)})
    return result


def test_devices_and_closed_loop_through_the_cli(tmp_path) -> None:
    kit = chain_kit()
    doc = {k: v for k, v in DEVICE.items() if k != "credential_sha256"}
    (tmp_path / "dev.json").write_text(json.dumps(doc))
    out = _cli(kit, "UsingUnit", devices, ["register", str(tmp_path / "dev.json"), "--credentials",
                                           str(tmp_path / "cred"), "--org", "UsingUnit"])
    assert out.exit_code == 0, out.output
    answer = json.loads(out.stdout)
    store = CredentialStore(tmp_path / "cred")
    assert store.authenticate("PV-001-P1", answer["password"])
    assert len(answer["device"]["credential_sha256"]) == 64
    again = _cli(kit, "Manufacturer", devices, ["register", str(tmp_path / "dev.json"), "--credentials",
                                                str(tmp_path / "cred2"), "--org", "M"])
    assert again.exit_code == 1 and "may not register devices" in again.output
    assert CredentialStore(tmp_path / "cred2").active_devices() == {}      # refused on chain: credential revoked
    listed = json.loads(_cli(kit, "Regulator", devices, ["list", "--reg-no", "32010001"]).stdout)
    assert [d["device_id"] for d in listed] == ["PV-001-P1"]

    w = device_warning(colour="red")
    WarningsClient(KitContract(kit, "UsingUnit")).raise_warning(w)
    wid = w["warning_id"]
    assert json.loads(_cli(kit, "Regulator", warnings, ["list", "--colour", "red"]).stdout)[0]["warning_id"] == wid
    wrong = _cli(kit, "Regulator", warnings, ["ack", wid])
    assert wrong.exit_code == 1 and "only the responsible unit" in wrong.output
    assert _cli(kit, "UsingUnit", warnings, ["ack", wid, "--note", "seen"]).exit_code == 0
    assert _cli(kit, "UsingUnit", warnings, ["dispose", wid, "--note", "relief valve opened"]).exit_code == 1
    (tmp_path / "report.pdf").write_bytes(b"%PDF disposal report")
    done = _cli(kit, "UsingUnit", warnings, ["dispose", wid, "--note", "relief valve opened", "--file",
                                             str(tmp_path / "report.pdf")])
    assert done.exit_code == 0 and json.loads(done.stdout)["status"] == "disposed"
    assert _cli(kit, "Inspection", warnings, ["verify", wid, "--note", "on site", "--digest", "ef" * 32]).exit_code == 0
    assert json.loads(_cli(kit, "Regulator", warnings, ["close", wid]).stdout)["status"] == "closed"
    shown = json.loads(_cli(kit, "Maintenance", warnings, ["show", wid]).stdout)
    assert [h["step"] for h in shown["history"]] == ["raised", "acknowledge", "start", "dispose", "verify", "close"]


def test_reminder_job_through_the_cli(tmp_path) -> None:
    kit = chain_kit()
    records = {"responsible_msp": "UsingUnitMSP",
               "personnel": [{"ID": "P1", "psnName": "Zhang San", "certNo": "TS-001", "endDate": "2025-08-01"}],
               "hidden_dangers": [{"ID": "HD-1", "regNo": "32010001", "troubleLevel": "一般事故隐患",
                                   "limitDate": "2025-06-30"}],
               "items": [{"kind": "safety_valve", "subject": "32010001/SV-1", "due": "2025-07-20",
                          "record": {"valve": "SV-1", "checked": "2024-07-20"}}]}
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    first = _cli(kit, "Inspection", warnings, ["remind", "--records", str(path), "--today", "2025-07-10"])
    assert first.exit_code == 0, first.output
    assert {k: json.loads(first.stdout)[k] for k in ("raised", "resolved", "failed")} == {"raised": 3, "resolved": 0,
                                                                                         "failed": 0}
    records["personnel"][0]["endDate"] = "2028-08-01"            # the certificate's renewal is recorded
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    second = json.loads(_cli(kit, "Inspection", warnings, ["remind", "--records", str(path), "--today",
                                                           "2025-07-11"]).stdout)
    assert (second["resolved"], second["raised"], second["duplicates"]) == (1, 0, 2)
    assert json.loads(_cli(kit, "Regulator", warnings, ["show", second["resolved_ids"][0]]).stdout)["status"] == "closed"
    # by hand: the valve's renewal, refused to the responsible unit, accepted from the regulator
    valve = next(w["warning_id"] for w in WarningsClient(KitContract(kit, "Regulator")).list_open("expiry"))
    args = ["resolve-reminder", valve, "--due", "2026-07-20", "--note", "SV-1 re-certified", "--digest", "ef" * 32]
    refused = _cli(kit, "UsingUnit", warnings, args)
    assert refused.exit_code == 1 and "may not record a renewal" in refused.output
    assert json.loads(_cli(kit, "Regulator", warnings, args).stdout)["status"] == "closed"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"responsible_msp": "UsingUnitMSP", "items": [{"kind": "safety_valve"}]}))
    out = _cli(kit, "Inspection", warnings, ["remind", "--records", str(bad)])
    assert out.exit_code == 1 and "items[0] needs exactly kind, subject, due" in out.output
    bad.write_text(json.dumps({"responsible_msp": "UsingUnitMSP", "people": []}))
    out = _cli(kit, "Inspection", warnings, ["remind", "--records", str(bad)])
    assert out.exit_code == 1 and "unknown key 'people'" in out.output
