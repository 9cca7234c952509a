"""End to end over MQTT with TLS and per-device credentials, against the embedded broker (amqtt) and our
own Mosquitto process: nothing lost across a consumer crash / broker restart, revoked devices refused,
and a tampered stored reading fails its proof against the anchored root."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, update

from qcchain_iot.consumer import BrokerAddress, Consumer
from qcchain_iot.embedded import EmbeddedBroker
from qcchain_iot.errors import BrokerError, ProofError
from qcchain_iot.mosquitto import MosquittoProcess, find_mosquitto, free_port
from qcchain_iot.pipeline import Pipeline
from qcchain_iot.simulate import PROFILES, SimDevice, publish_device, values
from qcchain_iot.store import open_store, readings, sqlite_url
from qcchain_iot.tlsfiles import write_broker_tls
from qcchain_iot.windows import anchor_pending, seal_windows, verify_reading


def _broker(kind, tmp_path, port, cert, key):
    if kind == "mosquitto":
        if not find_mosquitto():
            pytest.skip("mosquitto is not installed")
        return MosquittoProcess(tmp_path / "mq", port, tmp_path / "cred", cert, key)
    return EmbeddedBroker(port, tmp_path / "cred", cert, key)


class _Consuming:
    def __init__(self, pipe, addr, password):
        self.stop = threading.Event()
        self.consumer = Consumer(pipe, addr, "consumer1", password)
        self.thread = threading.Thread(target=self.consumer.run, args=(self.stop,), daemon=True)
        self.thread.start()
        self.consumer._connected.wait(10)

    def close(self):
        self.stop.set()
        self.thread.join(10)


def _count(engine):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(readings)).scalar()


def _wait_count(engine, n, timeout=30):
    deadline = time.monotonic() + timeout
    while _count(engine) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return _count(engine)


@pytest.mark.parametrize("kind", ["embedded", "mosquitto"])
def test_end_to_end_consumer_crash_and_revocation(kind, tmp_path, policy, creds):
    cpw = creds.issue("consumer1", "Regulator", kind="consumer")
    devs = [SimDevice("UsingUnit", f"pv{i}", creds.issue(f"pv{i}", "UsingUnit", device_type="pressure_vessel"))
            for i in range(3)]
    ca, cert, key = write_broker_tls(tmp_path / "tls")
    port = free_port()
    broker = _broker(kind, tmp_path, port, cert, key)
    broker.start()
    try:
        addr = BrokerAddress("127.0.0.1", port, str(ca))
        engine = open_store(sqlite_url(str(tmp_path / "ts.db")))
        pipe = Pipeline(engine, policy, creds.active_devices())
        run = _Consuming(pipe, addr, cpw)
        series = list(values(PROFILES["normal"], 200, 1.0, 1))
        publish_device(addr, devs[0], series[:100])
        assert _wait_count(engine, 100) == 100
        run.close()                                                  # consumer down: the session keeps queuing
        publish_device(addr, devs[0], series[100:])
        publish_device(addr, devs[1], series)
        run = _Consuming(Pipeline(engine, policy, creds.active_devices()), addr, cpw)
        assert _wait_count(engine, 400) == 400
        creds.revoke("pv2")
        if kind == "mosquitto":
            broker.reload()
        with pytest.raises(BrokerError, match="refused"):
            publish_device(addr, devs[2], series[:5])
        with pytest.raises(BrokerError):                              # a wrong password is refused too
            publish_device(addr, SimDevice("UsingUnit", "pv1", "wrong"), series[:5])
        run.close()
        assert _count(engine) == 400
    finally:
        broker.stop()


def test_mosquitto_restart_loses_nothing(tmp_path, policy, creds):
    if not find_mosquitto():
        pytest.skip("mosquitto is not installed")
    cpw = creds.issue("consumer1", "Regulator", kind="consumer")
    dev = SimDevice("UsingUnit", "pv0", creds.issue("pv0", "UsingUnit", device_type="pressure_vessel"))
    ca, cert, key = write_broker_tls(tmp_path / "tls")
    port = free_port()
    broker = MosquittoProcess(tmp_path / "mq", port, tmp_path / "cred", cert, key)
    broker.start()
    addr = BrokerAddress("127.0.0.1", port, str(ca))
    engine = open_store(sqlite_url(str(tmp_path / "ts.db")))
    try:
        run = _Consuming(Pipeline(engine, policy, creds.active_devices()), addr, cpw)   # register the session
        run.close()
        series = list(values(PROFILES["normal"], 300, 1.0, 2))
        publish_device(addr, dev, series)                              # queued for the offline consumer
        broker.stop()
        broker.start()                                                 # restart: persistence keeps the queue
        run = _Consuming(Pipeline(engine, policy, creds.active_devices()), addr, cpw)
        assert _wait_count(engine, 300) == 300
        run.close()
    finally:
        broker.stop()


class _Ledger:
    """Test double of the chain anchor: keeps anchored roots as the chain would."""

    def __init__(self):
        self.roots = {}

    def anchor(self, roots):
        for r in roots:
            self.roots[(r.window_id, r.device_id)] = r.root
        return f"tx{len(self.roots)}"

    def anchored_root(self, window_id, device_id):
        return self.roots.get((window_id, device_id))


def test_tampered_reading_fails_its_proof(tmp_path, policy):
    from qcchain_iot.pipeline import Message
    from qcchain_iot.reading import encode_reading
    engine = open_store(sqlite_url(str(tmp_path / "ts.db")))
    pipe = Pipeline(engine, policy, {"pv1": "pressure_vessel"})
    t0 = 1_767_225_600_000
    pipe.process([Message("qcchain/U/devices/pv1/telemetry", encode_reading(i, t0 + i * 1000, "pressure", 1.0 + i / 1000,
                                                                             "MPa"), t0 + i * 1000)
                  for i in range(150)])
    sealed = seal_windows(engine, policy, t0 + 10 * 60_000)
    assert sum(w.count for w in sealed) == 150 and len(sealed) == 3
    ledger = _Ledger()
    assert anchor_pending(engine, ledger) == 3
    verify_reading(engine, ledger, "pv1", 42)
    with engine.begin() as conn:
        conn.execute(update(readings).where(readings.c.seq == 42).values(value=1.0))
    with pytest.raises(ProofError, match="does not match the anchored root"):
        verify_reading(engine, ledger, "pv1", 42)
    verify_reading(engine, ledger, "pv1", 130)                         # other windows still prove
