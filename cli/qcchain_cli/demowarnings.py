"""The monitoring and early-warning steps of ``qcchain demo`` (issue 15), after the consortium story held.

The using unit registers a pressure transmitter on the story's pressure vessel; its simulated pressure
climbs from 1.20 to 1.66 MPa. The readings go through the telemetry pipeline (validation, time-series
store, detection) in this process — fed to :class:`qcchain_iot.pipeline.Pipeline` directly, not through an
MQTT broker, which would add seconds of broker start-up to a demo the test suite runs (the broker path is
tested in ``tests/iot/test_mqtt.py`` and measured by ``qcchain bench iot``). The warnings relay raises the
detected warnings on chain (a yellow, then a red band warning among them), the readings' windows are
anchored and the red warning's reading is proven against the root on chain; the red warning is driven
through the closed loop (acknowledged, disposed by the unit, verified by the inspection body, closed by the
regulator). A hidden danger past its limitDate without acceptance becomes an overdue-rectification
warning addressed to the regulator, and an operator certificate due in 20 days a yellow reminder, closed
on chain when its renewal is recorded.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from qcchain_core.gm import sm3
from qcchain_iot.chain import ChainAnchor, WarningRelay
from qcchain_iot.pipeline import Message, Pipeline
from qcchain_iot.policy import parse_policy
from qcchain_iot.reading import encode_reading
from qcchain_iot.reminderjob import run_reminder_job
from qcchain_iot.reminders import expiry_reminders, overdue_rectifications, personnel_items
from qcchain_iot.store import open_store, sqlite_url
from qcchain_iot.topics import telemetry_topic
from qcchain_iot.windows import anchor_pending, seal_windows, verify_reading
from qcchain_sdk.contracts.story import StoryError
from qcchain_sdk.contracts.warnings import DevicesClient, WarningsClient

__all__ = ["run_warning_steps", "READINGS", "PERIOD_S"]

READINGS = 47          # pressure 1.20 -> 1.66 MPa, one reading every PERIOD_S
PERIOD_S = 15
EVIDENCE_NOTE = {"dispose": "relief valve reset, feed pump throttled; pressure back to 1.25 MPa",
                 "verify": "on-site check by the inspection body: pressure stable, valve sealed"}


def _fail(step: str, why: str) -> StoryError:
    return StoryError(f"warning step '{step}': {why}")


def _device(device_id: str, reg_no: str) -> dict[str, Any]:
    return {"device_id": device_id, "reg_no": reg_no, "device_type": "pressure_vessel",
            "credential_sha256": sm3(device_id.encode()).hex(),
            "statistics": {"sensor_kind": "pressure transmitter", "quantities": ["pressure"],
                           "install_location": "vessel V-3 inlet", "install_date": "2025-01-10"},
            "basic": {"manufacturer": "Sensor Co.", "model": "PT-100", "serial_no": device_id},
            "maintenance": {"maintainer": "Maintenance Co.", "last_calibration": "2025-01-01",
                            "calibration_due": "2026-01-01"}}


def _evidence(note: str) -> dict[str, Any]:
    return {"note": note, "digests": [sm3(note.encode()).hex()]}


def run_warning_steps(story: Any, policies_dir: Path, say: Any = None) -> None:
    """Run the steps (each appended to ``story.steps`` via ``story.done``); ``policies_dir`` holds
    ``warnings.yaml``. Raises StoryError naming the step that did not hold."""
    del say  # every step reports through story.done
    policy = parse_policy(yaml.safe_load((policies_dir / "warnings.yaml").read_text(encoding="utf-8")))
    use, reg, ins = story.use, story.reg, story.ins
    now_ms = int(time.time() * 1000)
    device_id = f"PV-{now_ms % 1_000_000:06d}-P1"
    devices, warnings = DevicesClient(use.contract("")), WarningsClient(use.contract(""))
    devices.register(_device(device_id, "32010001"))
    story.done(f"monitoring: {use.msp_id} registered pressure transmitter {device_id} on vessel 32010001 "
               "(seed-002 statistics / basic / maintenance groups, broker credential bound by SHA-256)")
    with tempfile.TemporaryDirectory(prefix="qcchain-demo-iot-") as tmp:
        engine = open_store(sqlite_url(str(Path(tmp) / "iot.db")))
        try:
            _telemetry(story, engine, policy, device_id, devices, warnings, now_ms)
        finally:
            engine.dispose()
    _reminders(story, policy, WarningsClient(reg.contract("")), WarningsClient(ins.contract("")))


def _telemetry(story: Any, engine: Any, policy: Any, device_id: str, devices: DevicesClient,
               warnings: WarningsClient, now_ms: int) -> None:
    use, reg, ins = story.use, story.reg, story.ins
    pipeline = Pipeline(engine, policy, {device_id: "pressure_vessel"})
    start = now_ms - (READINGS + 8) * PERIOD_S * 1000
    topic = telemetry_topic(use.msp_id, device_id)
    batch = [Message(topic, encode_reading(i, start + i * PERIOD_S * 1000, "pressure", round(1.20 + i * 0.01, 2),
                                           "MPa"), now_ms) for i in range(READINGS)]
    result = pipeline.process(batch)
    if result.stored != READINGS or result.rejected:
        raise _fail("telemetry", f"stored {result.stored} of {READINGS} readings, {result.rejected} rejected")
    relayed = WarningRelay(engine, warnings, use.msp_id).relay()
    if relayed.failed or relayed.raised != len(result.alerts):
        raise _fail("relay", f"{relayed.raised} of {len(result.alerts)} warnings raised, {relayed.failed} failed")
    bands = {a.colour: a for a in result.alerts if a.rule == "band"}
    if "yellow" not in bands or "red" not in bands or bands["yellow"].reading_seq >= bands["red"].reading_seq:
        raise _fail("detection", f"expected a yellow then a red band warning, got {sorted(bands)}")
    kinds = ", ".join(f"{a.colour} {a.rule} at {1.20 + a.reading_seq * 0.01:.2f} MPa" for a in result.alerts)
    story.done(f"monitoring: {READINGS} readings (1.20 -> {1.20 + (READINGS - 1) * 0.01:.2f} MPa) validated, stored "
               f"and run through detection; {relayed.raised} warnings raised on chain by the relay ({kinds})")
    sealed = seal_windows(engine, policy, now_ms)
    anchored = anchor_pending(engine, ChainAnchor(devices))
    red = bands["red"]
    verify_reading(engine, ChainAnchor(DevicesClient(reg.contract(""))), device_id, red.reading_seq)
    story.done(f"monitoring: {len(sealed)} one-minute windows sealed, {anchored} SM3 Merkle roots anchored on chain; "
               f"{reg.msp_id} proved the red warning's reading against the root its peer holds")
    wid = red.warning_id
    warnings.step("acknowledge", wid)
    warnings.step("start", wid)
    warnings.step("dispose", wid, _evidence(EVIDENCE_NOTE["dispose"]))
    try:
        WarningsClient(ins.contract("")).step("close", wid)
    except Exception as exc:  # noqa: BLE001 - the refusal is the point; its text is checked
        if "close needs verified" not in " ".join(f"{exc} {getattr(exc, 'details', '')}".split()):
            raise _fail("closed loop", f"closing before verification refused for another reason: {exc}") from exc
    else:
        raise _fail("closed loop", "a disposed warning was closed before verification")
    WarningsClient(ins.contract("")).step("verify", wid, _evidence(EVIDENCE_NOTE["verify"]))
    WarningsClient(reg.contract("")).step("close", wid)
    got = WarningsClient(reg.contract("")).get(wid)
    steps = [h["step"] for h in got["history"]]
    if got["status"] != "closed" or steps != ["raised", "acknowledge", "start", "dispose", "verify", "close"]:
        raise _fail("closed loop", f"status {got['status']}, history {steps}")
    story.done(f"warnings: red warning {wid[:12]} acknowledged and disposed by {use.msp_id}, verified by "
               f"{ins.msp_id} (closing before verification refused), closed by {reg.msp_id}; history of "
               f"{len(steps)} steps with SM3 evidence on chain")


def _reminders(story: Any, policy: Any, regulator: WarningsClient, inspector: WarningsClient) -> None:
    use, reg = story.use, story.reg
    today = dt.date.today()
    danger = {"ID": "HD-32010001-1", "regNo": "32010001", "troubleLevel": "较大事故隐患",
              "limitDate": (today - dt.timedelta(days=3)).isoformat(), "dealDate": "", "acceptDate": ""}
    overdue = overdue_rectifications([danger], use.msp_id, today, policy)
    if len(overdue) != 1 or overdue[0]["colour"] != "orange":
        raise _fail("overdue hidden danger", f"expected one orange rectification warning, got {overdue}")
    raised = regulator.raise_warning(overdue[0])
    again = regulator.raise_warning(overdue[0])
    if raised["duplicate"] or not again["duplicate"]:
        raise _fail("overdue hidden danger", "the overdue warning was not raised exactly once")
    hours = (raised["ack_deadline"] - raised["raised_at"]) / 3600
    story.done(f"rectification: hidden danger {danger['ID']} is 3 days past its limitDate without acceptance -> "
               f"orange overdue warning {raised['warning_id'][:12]} for {use.msp_id} (regulator notified; "
               f"acknowledge within {hours:.0f} h or it escalates one colour up); the daily job's rerun is a duplicate")
    cert = {"certNo": "TS-2025-0001", "endDate": (today + dt.timedelta(days=20)).isoformat()}
    reminders = expiry_reminders(personnel_items([cert], use.msp_id), today, policy)
    if [r["colour"] for r in reminders] != ["yellow"]:
        raise _fail("certificate reminder", f"expected one yellow reminder, got {reminders}")
    raised = inspector.raise_warning(reminders[0])
    listed = [w["warning_id"] for w in regulator.list(status="raised", colour="yellow", responsible_msp=use.msp_id)]
    if raised["warning_id"] not in listed:
        raise _fail("certificate reminder", "the reminder is not listed among the unit's open warnings")
    renewed = {**cert, "endDate": (today + dt.timedelta(days=3 * 365)).isoformat()}
    job = run_reminder_job(inspector, today, policy, personnel_items([cert, renewed], use.msp_id))
    closed = regulator.get(raised["warning_id"])
    if job.resolved != [raised["warning_id"]] or closed["status"] != "closed" or job.raised:
        raise _fail("certificate reminder", f"the renewal did not close the reminder: {job.summary()}")
    story.done(f"reminders: operator certificate {cert['certNo']} expires in 20 days -> yellow reminder "
               f"{raised['warning_id'][:12]} raised for {use.msp_id} (evidence: SM3 of the record, no personal field); "
               f"the renewal to {renewed['endDate']} recorded -> the reminder job closed it on chain "
               f"(resolve_reminder by {closed['history'][-1]['by']}, renewal as evidence)")
