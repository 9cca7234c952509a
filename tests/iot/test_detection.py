"""Policy validation, reading validation, detection episodes, prediction error, restart without duplicates."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select

from qcchain_iot.detector import Detector
from qcchain_iot.errors import PolicyError, ReadingRejected
from qcchain_iot.pipeline import Message, Pipeline
from qcchain_iot.policy import parse_policy
from qcchain_iot.reading import Reading, encode_reading, parse_reading
from qcchain_iot.simulate import PROFILES, values
from qcchain_iot.store import alerts, open_store, readings, sqlite_url
from qcchain_iot.trend import replay_prediction_error

T0 = 1_767_225_600_000
TOPIC = "qcchain/UsingUnit/devices/pv1/telemetry"


def test_policy_reports_every_problem(policy):
    doc = copy.deepcopy(policy.doc)
    doc["device_types"]["pressure_vessel"]["pressure"]["bands"][0]["above"] = 500.0
    doc["deadlines"]["red"]["dispose_h"] = 0.5
    doc["quantities"]["pressure"]["unit"] = ""
    with pytest.raises(PolicyError) as err:
        parse_policy(doc)
    assert any("quantities.pressure.unit" in p for p in err.value.problems)
    del doc["quantities"]["pressure"]["unit"]
    doc["quantities"]["pressure"]["unit"] = "MPa"
    with pytest.raises(PolicyError) as err:
        parse_policy(doc)
    assert len(err.value.problems) == 2


@pytest.mark.parametrize("payload,reason", [
    (b"{", "malformed"), (b"x" * 5000, "exceeds"), (b'{"seq": 1}', "malformed"),
    (encode_reading(1, T0, "pressure", 250.0, "MPa"), "plausible"),
    (encode_reading(1, T0, "pressure", 1.0, "bar"), "must be in MPa"),
    (encode_reading(1, T0, "radiation", 1.0, "Sv"), "unknown quantity"),
    (encode_reading(1, T0 + 120_000, "pressure", 1.0, "MPa"), "ahead"),
    (b'{"seq":1,"ts":1767225600000,"quantity":"pressure","value":1e999,"unit":"MPa"}', "plausible"),
    (b'{"seq":"1","ts":1767225600000,"quantity":"pressure","value":1,"unit":"MPa"}', "malformed"),
])
def test_bad_readings_are_rejected(policy, payload, reason):
    with pytest.raises(ReadingRejected, match=reason):
        parse_reading("UsingUnit", "pv1", payload, policy, T0)


def _climb(n=700):
    return [Reading("UsingUnit", "pv1", i, T0 + i * 1000, "pressure", v, "MPa")
            for i, v in values(PROFILES["climb"], n, 1.0, 7)]


def test_climb_raises_prediction_then_each_colour_once(policy):
    det = Detector(policy, {"pv1": "pressure_vessel"})
    raised = [(a.rule, a.colour) for r in _climb() for a in det.observe(r)]
    bands = [c for rule, c in raised if rule == "band"]
    assert bands == ["blue", "yellow", "orange", "red"]
    assert raised.index(("predict", "yellow")) < raised.index(("band", "blue"))
    assert raised.count(("predict", "yellow")) == 1


def test_prediction_error_on_replayed_series(policy):
    series = [(i * 1.0, v) for i, v in values(PROFILES["climb"], 400, 1.0, 3)]
    err = replay_prediction_error(series, 1.30, policy.prediction["window_s"], policy.prediction["min_points"],
                                  policy.prediction["horizon_s"])
    assert err.predictions > 10 and err.mae_s < 15.0 and err.first_warning_lead_s > 30


def test_restart_and_redelivery_raise_no_warning_twice(policy, tmp_path):
    engine = open_store(sqlite_url(str(tmp_path / "ts.db")))
    msgs = [Message(TOPIC, encode_reading(r.seq, r.ts_ms, r.quantity, r.value, r.unit), r.ts_ms) for r in _climb()]
    first = Pipeline(engine, policy, {"pv1": "pressure_vessel"})
    for i in range(0, 400, 50):
        first.process(msgs[i:i + 50])
    second = Pipeline(engine, policy, {"pv1": "pressure_vessel"})      # consumer crash + restart
    res = second.process(msgs[350:450])                                 # 50 redelivered + 50 new
    assert res.duplicates == 50 and res.stored == 50
    for i in range(450, len(msgs), 50):
        second.process(msgs[i:i + 50])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(readings)).scalar() == len(msgs)
        rows = conn.execute(select(alerts.c.rule, alerts.c.colour)).all()
    assert sorted(c for r, c in rows if r == "band") == ["blue", "orange", "red", "yellow"]
    assert len(rows) == len(set(rows))


def test_unregistered_and_malformed_do_not_stop_the_batch(policy, tmp_path):
    engine = open_store(sqlite_url(str(tmp_path / "ts.db")))
    pipe = Pipeline(engine, policy, {"pv1": "pressure_vessel"})
    res = pipe.process([Message(TOPIC, b"{", T0), Message("qcchain/X/devices/ghost/telemetry",
                                                            encode_reading(1, T0, "pressure", 1.0, "MPa"), T0),
                        Message(TOPIC, encode_reading(1, T0, "pressure", 1.0, "MPa"), T0)])
    assert (res.rejected, res.stored) == (2, 1)
