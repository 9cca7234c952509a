"""End to end on the devnet: readings -> validation/storage/detection -> relay -> warnings committed on chain
(deduplicated on re-send) -> the closed loop through the CLI (a wrong-role step refused in one line); the reminder
job's reminder closed on chain when the renewal is recorded."""

from __future__ import annotations

import json
import time
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select, update

from qcchain_bench.iotchain import iot_chain
from qcchain_cli.iot import warnings
from qcchain_iot.chain import WarningRelay
from qcchain_iot.pipeline import Message, Pipeline
from qcchain_iot.policy import WarningsPolicy
from qcchain_iot.reading import encode_reading
from qcchain_iot.store import alerts, open_store, sqlite_url
from qcchain_iot.topics import telemetry_topic

DEVICE = "PV-E2E-P1"


def _cli(profile: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(warnings, ["--profile", str(profile), *args])
    return result.exit_code, result.stdout + (result.stderr if result.exit_code else "")


def test_readings_to_committed_warning_and_closed_loop(tmp_path: Path, policy: WarningsPolicy) -> None:
    engine = open_store(sqlite_url(str(tmp_path / "iot.db")))
    with iot_chain(tmp_path / "devnet", [DEVICE]) as chain:
        assert chain.orgs["Regulator"].contract("governance").evaluate_transaction("policy", "warnings")
        pipeline = Pipeline(engine, policy, {DEVICE: "pressure_vessel"})
        relay = WarningRelay(engine, chain.warnings("UsingUnit"), chain.msp("UsingUnit"))
        topic, now = telemetry_topic("UsingUnit", DEVICE), int(time.time() * 1000)
        t0 = now - 60 * 15_000
        found = []
        for chunk in range(0, 48, 12):     # four consumer batches, the relay after each
            batch = [Message(topic, encode_reading(i, t0 + i * 15_000, "pressure", round(1.20 + i * 0.01, 2), "MPa"),
                             now) for i in range(chunk, chunk + 12)]
            found += pipeline.process(batch).alerts
            relay.relay()
        bands = {a.colour: a.warning_id for a in found if a.rule == "band"}
        assert set(bands) == {"blue", "yellow", "orange", "red"}
        with engine.connect() as conn:
            assert {r.status for r in conn.execute(select(alerts))} == {"committed"}
        red = chain.warnings("Regulator").get(bands["red"])
        assert red["status"] == "raised" and red["colour"] == "red" and red["responsible_msp"] == chain.msp("UsingUnit")
        assert red["evidence"]["reading"]["value"] == 1.61
        # a re-sent alert (crash before the outbox update) is a duplicate on chain, nothing written twice
        with engine.begin() as conn:
            conn.execute(update(alerts).where(alerts.c.warning_id == bands["red"]).values(status="pending"))
        again = relay.relay()
        assert (again.raised, again.duplicates, again.failed) == (0, 1, 0)
        listed = chain.warnings("Inspection").list(responsible_msp=chain.msp("UsingUnit"))
        assert sorted(w["warning_id"] for w in listed) == sorted(a.warning_id for a in found)
        # the closed loop through the CLI, each step by its role; a wrong role refused in one line
        using, reg, ins = (chain.profiles[n] for n in ("UsingUnit", "Regulator", "Inspection"))
        wid = bands["red"]
        code, out = _cli(reg, "ack", wid)
        assert code == 1 and "only the responsible unit" in out and len(out.strip().splitlines()) == 1
        assert _cli(using, "ack", wid)[0] == 0
        code, out = _cli(using, "dispose", wid, "--note", "valve reset", "--digest", "ab" * 32)
        assert code == 0, out
        code, out = _cli(using, "verify", wid, "--note", "checked", "--digest", "cd" * 32)
        assert code == 1 and "may not verify" in out
        assert _cli(ins, "verify", wid, "--note", "checked on site", "--digest", "cd" * 32)[0] == 0
        code, out = _cli(reg, "close", wid)
        assert code == 0, out
        code, out = _cli(reg, "show", wid)
        shown = json.loads(out)
        assert shown["status"] == "closed"
        assert [h["step"] for h in shown["history"]] == ["raised", "acknowledge", "start", "dispose", "verify", "close"]
    engine.dispose()


def test_reminder_closes_on_chain_when_the_renewal_is_recorded(tmp_path: Path) -> None:
    records = {"responsible_msp": "", "personnel": [{"ID": "P1", "psnName": "Zhang San", "certNo": "TS-9",
                                                     "endDate": "2025-08-01"}]}
    path = tmp_path / "records.json"
    with iot_chain(tmp_path / "devnet", []) as chain:
        records["responsible_msp"] = chain.msp("UsingUnit")
        path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
        ins, using = chain.profiles["Inspection"], chain.profiles["UsingUnit"]
        code, out = _cli(ins, "remind", "--records", str(path), "--today", "2025-07-10")
        assert code == 0, out
        first = json.loads(out)
        assert (first["raised"], first["resolved"]) == (1, 0)
        wid = first["raised_ids"][0]
        records["personnel"][0]["endDate"] = "2028-08-01"          # the renewed certificate is recorded
        path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
        code, out = _cli(using, "remind", "--records", str(path), "--today", "2025-07-11")
        assert code == 0 and json.loads(out)["failed_ids"] == [wid]  # the responsible unit may not close it
        code, out = _cli(ins, "remind", "--records", str(path), "--today", "2025-07-11")
        assert code == 0 and json.loads(out)["resolved_ids"] == [wid], out
        shown = json.loads(_cli(using, "show", wid)[1])
        assert shown["status"] == "closed" and shown["renewed_due"] == "2028-08-01"
        assert [h["step"] for h in shown["history"]] == ["raised", "resolve_reminder"]
        assert chain.warnings("Regulator").list_open("expiry") == []
