"""End to end over MQTT with TLS and per-device credentials, against the embedded broker
(:mod:`qcchain_iot.mqttbroker`) and our own Mosquitto process: nothing lost and no warning raised twice
across a consumer crash (SIGKILL) and a broker restart mid-stream, revoked devices refused, and a
tampered stored reading fails its proof against the anchored root."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from brokerkit import make_broker
from sqlalchemy import func, select, update

from qcchain_iot.consumer import BrokerAddress, Consumer
from qcchain_iot.errors import BrokerError, ProofError
from qcchain_iot.mosquitto import free_port
from qcchain_iot.pipeline import Message, Pipeline
from qcchain_iot.reading import encode_reading
from qcchain_iot.simulate import PROFILES, SimDevice, publish_device, values
from qcchain_iot.store import alerts, open_store, readings, sqlite_url
from qcchain_iot.tlsfiles import write_broker_tls
from qcchain_iot.topics import telemetry_topic
from qcchain_iot.windows import anchor_pending, seal_windows, verify_reading


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
    broker = make_broker(kind, tmp_path, port, cert, key)
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


@pytest.mark.parametrize("kind", ["embedded", "mosquitto"])
def test_broker_restart_loses_nothing(kind, tmp_path, policy, creds):
    cpw = creds.issue("consumer1", "Regulator", kind="consumer")
    dev = SimDevice("UsingUnit", "pv0", creds.issue("pv0", "UsingUnit", device_type="pressure_vessel"))
    ca, cert, key = write_broker_tls(tmp_path / "tls")
    port = free_port()
    broker = make_broker(kind, tmp_path, port, cert, key)
    broker.start()
    addr = BrokerAddress("127.0.0.1", port, str(ca))
    engine = open_store(sqlite_url(str(tmp_path / "ts.db")))
    try:
        run = _Consuming(Pipeline(engine, policy, creds.active_devices()), addr, cpw)   # register the session
        run.close()
        series = list(values(PROFILES["normal"], 300, 1.0, 2))
        publish_device(addr, dev, series)                              # queued for the offline consumer
        broker.stop()
        broker.start()                                                 # restart: the queue is durable
        run = _Consuming(Pipeline(engine, policy, creds.active_devices()), addr, cpw)
        assert _wait_count(engine, 300) == 300
        run.close()
    finally:
        broker.stop()


def _consumer_process(addr, db, cred, password):
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("consumer_proc.py")), addr.host,
                             str(addr.port), addr.tls_ca, str(db), str(cred)], stdout=subprocess.PIPE,
                            env={**os.environ, "QC_CONSUMER_PW": password})
    assert proc.stdout.readline().strip() == b"connected"
    return proc


def _alert_ids(engine):
    with engine.connect() as conn:
        return sorted(r.warning_id for r in conn.execute(select(alerts.c.warning_id)))


@pytest.mark.parametrize("kind", ["embedded", "mosquitto"])
def test_consumer_crash_and_broker_restart_mid_stream(kind, tmp_path, policy, creds):
    """A climbing series published while the consumer process is SIGKILLed and the broker restarted:
    every reading stored once, and exactly the warnings of an undisturbed replay of the same readings."""
    cpw = creds.issue("consumer1", "Regulator", kind="consumer")
    dev = SimDevice("UsingUnit", "pv0", creds.issue("pv0", "UsingUnit", device_type="pressure_vessel"))
    ca, cert, key = write_broker_tls(tmp_path / "tls")
    port = free_port()
    broker = make_broker(kind, tmp_path, port, cert, key)
    broker.start()
    addr = BrokerAddress("127.0.0.1", port, str(ca))
    db = tmp_path / "ts.db"
    engine = open_store(sqlite_url(str(db)))
    procs = [_consumer_process(addr, db, tmp_path / "cred", cpw)]
    series = list(values(PROFILES["climb"], 600, 1.0, 3))
    acked = []
    publisher = threading.Thread(target=lambda: acked.append(publish_device(addr, dev, series, period_ms=5,
                                                                            timeout=60, linger_s=0.1)))
    try:
        publisher.start()
        assert _wait_count(engine, 150) >= 150
        procs[0].kill()                                                # crash: no disconnect, nothing flushed
        procs[0].wait(10)
        time.sleep(0.5)                                                # a backlog builds up in the broker
        broker.stop()                                                  # mid-stream: the publisher is cut
        broker.start()
        procs.append(_consumer_process(addr, db, tmp_path / "cred", cpw))
        assert _wait_count(engine, 450) >= 450
        procs[1].kill()                                                # and crash again
        procs[1].wait(10)
        procs.append(_consumer_process(addr, db, tmp_path / "cred", cpw))
        publisher.join(90)
        assert acked == [600]
        assert _wait_count(engine, 600, timeout=60) == 600
        time.sleep(0.5)
        assert _count(engine) == 600
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)
        broker.stop()
    got = _alert_ids(engine)
    assert got and len(got) == len(set(got))
    replay = open_store(sqlite_url(str(tmp_path / "replay.db")))
    with engine.connect() as conn:
        rows = conn.execute(select(readings).order_by(readings.c.seq)).all()
    Pipeline(replay, policy, {"pv0": "pressure_vessel"}).process([
        Message(telemetry_topic("UsingUnit", "pv0"), encode_reading(r.seq, r.ts_ms, r.quantity, r.value, r.unit),
                r.received_ms) for r in rows])
    assert got == _alert_ids(replay)


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
