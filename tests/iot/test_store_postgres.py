"""The telemetry pipeline on PostgreSQL (127.0.0.1:5432, database ``test``; skipped when unreachable): the
driver-level executemany inserts, redelivered readings recognised, episodes persisted so a restarted
pipeline raises no warning twice."""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import func, select, text

from qcchain_iot.errors import StoreError
from qcchain_iot.pipeline import Message, Pipeline
from qcchain_iot.reading import encode_reading
from qcchain_iot.store import alerts, open_store, readings

URL = os.environ.get("QCCHAIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
T0 = 1_767_225_600_000


@pytest.fixture()
def engine():
    schema = f"iot_{secrets.token_hex(4)}"
    try:
        eng = open_store(URL, schema=schema)
    except StoreError:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (database test)")
    yield eng
    with eng.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    eng.dispose()


def test_pipeline_on_postgres(engine, policy) -> None:
    msgs = [Message("qcchain/UsingUnit/devices/pv1/telemetry",
                    encode_reading(i, T0 + i * 1000, "pressure", round(1.0 + i * 0.004, 4), "MPa"), T0 + i * 1000)
            for i in range(160)]
    pipe = Pipeline(engine, policy, {"pv1": "pressure_vessel"})
    for i in range(0, 120, 40):
        pipe.process(msgs[i:i + 40])
    again = Pipeline(engine, policy, {"pv1": "pressure_vessel"})     # restart: episodes and max seq reloaded
    res = again.process(msgs[80:160])                                 # 40 redelivered, 40 new
    assert (res.duplicates, res.stored) == (40, 40)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(readings)).scalar() == 160
        got = sorted(r.warning_id for r in conn.execute(select(alerts.c.warning_id)))
    fresh = open_store("sqlite://")
    Pipeline(fresh, policy, {"pv1": "pressure_vessel"}).process(msgs)
    with fresh.connect() as conn:
        assert got == sorted(r.warning_id for r in conn.execute(select(alerts.c.warning_id)))
