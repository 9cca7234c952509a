"""qcchain_iot against the warnings and devices contracts (MockStub behind a ContractLike double): the
outbox relay raises each warning once (at least once delivery, dedup by warning id), window roots are
anchored on chain and a stored reading proves against them; a tampered one does not."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select, update

from qcchain_iot.chain import ChainAnchor, WarningRelay
from qcchain_iot.errors import ProofError
from qcchain_iot.pipeline import Message, Pipeline
from qcchain_iot.reading import encode_reading
from qcchain_iot.store import alerts, open_store, readings, sqlite_url
from qcchain_iot.windows import anchor_pending, prove, seal_windows, verify_reading
from qcchain_sdk.contracts.warnings import DevicesClient, WarningsClient

from chainkit import KitContract, chain_kit

T0 = 1_767_225_600_000
DEVICE = {"device_id": "pv1", "reg_no": "32010001", "device_type": "pressure_vessel", "credential_sha256": "ab" * 32,
          "statistics": {"sensor_kind": "pressure transmitter", "quantities": ["pressure"],
                         "install_location": "vessel V-3", "install_date": "2025-01-10"},
          "basic": {"manufacturer": "Sensor Co.", "model": "PT-100", "serial_no": "SN-1"},
          "maintenance": {"maintainer": "Maint Co.", "last_calibration": "2025-01-01", "calibration_due": "2026-01-01"}}


@pytest.fixture()
def chain():
    kit = chain_kit()
    unit = KitContract(kit, "UsingUnit")
    DevicesClient(unit).register(DEVICE)
    return kit, unit


def _climb(engine, policy):
    pipe = Pipeline(engine, policy, {"pv1": "pressure_vessel"})
    msgs = [Message("qcchain/UsingUnit/devices/pv1/telemetry",
                    encode_reading(i, T0 + i * 1000, "pressure", round(1.0 + i * 0.004, 4), "MPa"), T0 + i * 1000)
            for i in range(160)]   # 1.0 -> 1.64 MPa: blue, yellow, orange, red bands and a prediction
    for i in range(0, 160, 20):
        pipe.process(msgs[i:i + 20])


def test_relay_raises_each_warning_once(tmp_path, policy, chain):
    kit, unit = chain
    engine = open_store(sqlite_url(str(tmp_path / "ts.db")))
    _climb(engine, policy)
    with engine.connect() as conn:
        pending = conn.execute(select(alerts.c.warning_id, alerts.c.colour, alerts.c.rule)).all()
    colours = {c for _, c, r in pending if r == "band"}
    assert {"yellow", "red"} <= colours
    relay = WarningRelay(engine, WarningsClient(unit), "UsingUnitMSP")
    first = relay.relay(limit=500)
    assert first.raised == len(pending) and first.failed == 0
    on_chain = WarningsClient(KitContract(kit, "Regulator")).list(limit=500)
    assert sorted(w["warning_id"] for w in on_chain) == sorted(w for w, _, _ in pending)
    assert {w["source"] for w in on_chain} == {"device", "prediction"}
    # a crash after the chain committed but before the outbox was updated: sent again, not raised twice
    with engine.begin() as conn:
        conn.execute(update(alerts).values(status="pending"))
    again = relay.relay(limit=500)
    assert again.raised == 0 and again.duplicates == len(pending)
    assert len(WarningsClient(unit).list(limit=500)) == len(pending)
    red = next(w for w in on_chain if w["colour"] == "red")
    got = WarningsClient(unit).step("acknowledge", red["warning_id"])
    assert got["status"] == "acknowledged"


def test_relay_leaves_refused_warnings_pending(tmp_path, policy, chain):
    kit, unit = chain
    engine = open_store(sqlite_url(str(tmp_path / "ts.db")))
    _climb(engine, policy)
    DevicesClient(KitContract(kit, "Regulator")).revoke("pv1", "sensor withdrawn")
    result = WarningRelay(engine, WarningsClient(unit), "UsingUnitMSP").relay(limit=500)
    assert result.raised == 0 and result.failed > 0
    with engine.connect() as conn:
        assert {s for (s,) in conn.execute(select(alerts.c.status))} == {"pending"}


def test_windows_anchored_on_chain_prove_and_tamper_fails(tmp_path, policy, chain):
    kit, unit = chain
    engine = open_store(sqlite_url(str(tmp_path / "ts.db")))
    _climb(engine, policy)
    sealed = seal_windows(engine, policy, T0 + 10 * 60_000)
    anchor = ChainAnchor(DevicesClient(unit))
    assert anchor_pending(engine, anchor) == len(sealed) == 3
    assert anchor_pending(engine, anchor) == 0
    verify_reading(engine, anchor, "pv1", 42)
    reading, proof, window_id = prove(engine, "pv1", 42)
    leaf = {"org": reading.org, "device": reading.device_id, "seq": reading.seq, "ts": reading.ts_ms,
            "quantity": reading.quantity, "value": reading.value, "unit": reading.unit}
    regulator = DevicesClient(KitContract(kit, "Regulator"))
    assert regulator.prove("pv1", window_id, leaf, proof.to_dict())["valid"] is True
    with engine.begin() as conn:
        conn.execute(update(readings).where(readings.c.seq == 42).values(value=0.9))
    with pytest.raises(ProofError, match="does not match the anchored root"):
        verify_reading(engine, anchor, "pv1", 42)
    with pytest.raises(Exception, match="does not match"):
        regulator.prove("pv1", window_id, {**leaf, "value": 0.9}, proof.to_dict())
    assert anchor.anchored_root(999, "pv1") is None


def test_continuous_relay_raises_pending_alerts_and_stops(tmp_path, policy, chain):
    import threading
    import time

    _kit, unit = chain
    engine = open_store(sqlite_url(str(tmp_path / "ts.db")))
    _climb(engine, policy)
    with engine.connect() as conn:
        n = len(conn.execute(select(alerts.c.warning_id)).all())
    stop = threading.Event()
    out = []
    relay = WarningRelay(engine, WarningsClient(unit), "UsingUnitMSP")
    thread = threading.Thread(target=lambda: out.append(relay.run(stop, workers=1)))   # MockStub: one at a time
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if not conn.execute(select(alerts.c.warning_id).where(alerts.c.status == "pending")).all():
                break
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    assert out and out[0].raised == n and out[0].failed == 0
    assert len(WarningsClient(unit).list(limit=500)) == n


def test_a_refused_warning_does_not_hold_back_its_batch(tmp_path, policy, chain):
    kit, unit = chain
    engine = open_store(sqlite_url(str(tmp_path / "ts.db")))
    _climb(engine, policy)
    with engine.begin() as conn:
        ids = sorted(w for (w,) in conn.execute(select(alerts.c.warning_id)))
        conn.execute(update(alerts).where(alerts.c.warning_id == ids[0]).values(colour="purple"))
    result = WarningRelay(engine, WarningsClient(unit), "UsingUnitMSP").relay(limit=500, batch=32)
    assert (result.raised, result.failed) == (len(ids) - 1, 1)
    with engine.connect() as conn:
        pending = [w for (w,) in conn.execute(select(alerts.c.warning_id).where(alerts.c.status == "pending"))]
    assert pending == [ids[0]]
    assert sorted(w["warning_id"] for w in WarningsClient(unit).list(limit=500)) == ids[1:]
