"""``bench iot``: readings per second from a simulated device fleet through an MQTT broker (TLS, one
account per device) into validation, detection and the time-series store, with nothing lost.

Publishers run in separate processes (one per device, QoS 1, every PUBACK awaited); the consumer (QoS 1,
persistent session, acknowledging after each batch's commit) runs in this process. ``readings_per_s`` =
readings stored / (first reading received -> last reading stored). ``warning_latency_ms`` = from a triggering
reading's arrival at the consumer to its warning COMMITTED ON CHAIN: a devnet is started and bootstrapped
(:mod:`.iotchain`), the fleet's devices registered, and the warnings relay runs beside the consumer, raising
each pending alert through the Gateway (``submit`` returns once the block is committed); with
``chain=False`` the figure stops at the warning row stored (``warning_latency_scope`` says which).
"""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select

from qcchain_iot.chain import WarningRelay
from qcchain_iot.consumer import BrokerAddress, Consumer, now_ms
from qcchain_iot.credentials import CredentialStore
from qcchain_iot.embedded import EmbeddedBroker
from qcchain_iot.errors import BrokerError
from qcchain_iot.mosquitto import MosquittoProcess, find_mosquitto, free_port
from qcchain_iot.pipeline import BatchResult, Pipeline
from qcchain_iot.policy import WarningsPolicy
from qcchain_iot.simulate import PROFILES, SimDevice, publish_device, values
from qcchain_iot.store import alerts, open_store, readings, sqlite_url
from qcchain_iot.tlsfiles import write_broker_tls

from .errors import BenchError
from .iotchain import iot_chain

__all__ = ["run_iot_bench"]


def _publish(args: tuple[BrokerAddress, SimDevice, str, int, int]) -> int:
    address, dev, profile, count, seed = args
    try:
        return publish_device(address, dev, list(values(PROFILES[profile], count, 0.01, seed)), linger_s=0.2,
                              timeout=300)
    except BrokerError:
        return 0


def _percentile(values_: list[float], q: float) -> float | None:
    if not values_:
        return None
    ordered = sorted(values_)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def run_iot_bench(policy: WarningsPolicy, broker: str = "mosquitto", devices: int = 8, per_device: int = 2500,
                  address: BrokerAddress | None = None, workdir: Path | None = None,
                  chain: bool = True) -> dict[str, Any]:
    """Run the bench against our own ``mosquitto``, the ``embedded`` broker (:mod:`qcchain_iot.mqttbroker`), or ``address`` (an
    external broker whose credential directory is ``workdir/cred``); returns the JSON figures.

    Raises:
        BenchError: mosquitto is not installed, or the broker / consumer cannot start.
    """
    with tempfile.TemporaryDirectory(prefix="qc-bench-iot-") as tmp:
        work = workdir or Path(tmp)
        creds = CredentialStore(work / "cred")
        cpw = creds.issue("bench-consumer", "Bench", kind="consumer")
        fleet = [SimDevice("UsingUnit", f"b{i:03d}", creds.issue(f"b{i:03d}", "UsingUnit", device_type="pressure_vessel"))
                 for i in range(devices)]
        ca, cert, key = write_broker_tls(work / "tls")
        server: Any = None
        if address is None:
            port = free_port()
            if broker == "mosquitto":
                if not find_mosquitto():
                    raise BenchError("mosquitto is not installed (apt-get install mosquitto)")
                server = MosquittoProcess(work / "mq", port, work / "cred", cert, key)
            else:
                server = EmbeddedBroker(port, work / "cred", cert, key)
            server.start()
            address = BrokerAddress("127.0.0.1", port, str(ca))
        try:
            if not chain:
                return _measure(policy, address, broker, creds, cpw, fleet, per_device, work, None)
            with iot_chain(work / "devnet", [d.device_id for d in fleet]) as net:
                return _measure(policy, address, broker, creds, cpw, fleet, per_device, work,
                                (net.warnings("UsingUnit"), net.msp("UsingUnit")))
        finally:
            if server is not None:
                server.stop()


def _measure(policy: WarningsPolicy, address: BrokerAddress, broker: str, creds: CredentialStore, cpw: str,
             fleet: list[SimDevice], per_device: int, work: Path, chain: tuple[Any, str] | None) -> dict[str, Any]:
    engine = open_store(sqlite_url(str(work / "bench.db")))
    relay_stop = threading.Event()
    relay_thread = None
    if chain is not None:
        relay = WarningRelay(engine, chain[0], chain[1])

        def relay_loop() -> None:
            while not relay_stop.is_set():
                if relay.relay(500).raised == 0:
                    time.sleep(0.01)
        relay_thread = threading.Thread(target=relay_loop, daemon=True)
        relay_thread.start()
    detected: list[tuple[str, int, int]] = []   # (device, seq, committed ms)

    def on_batch(result: BatchResult) -> None:
        at = now_ms()
        detected.extend((a.device_id, a.reading_seq, at) for a in result.alerts if a.rule != "offline")
    consumer = Consumer(Pipeline(engine, policy, creds.active_devices()), address, "bench-consumer", cpw,
                        on_batch=on_batch)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    if not consumer._connected.wait(15):
        raise BenchError(f"the consumer could not connect to {address.url()}")
    sent_total = per_device * len(fleet)
    jobs = [(address, dev, "climb" if i % 2 == 0 else "normal", per_device, i + 1) for i, dev in enumerate(fleet)]
    start = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(len(fleet)) as pool:
        acked = sum(pool.map(_publish, jobs))
    stored, last_change, previous, end_ms = 0, time.monotonic(), -1, now_ms()
    while stored < sent_total and time.monotonic() - last_change < 10:
        with engine.connect() as conn:
            stored = int(conn.execute(select(func.count()).select_from(readings)).scalar() or 0)
        if stored != previous:
            previous, last_change, end_ms = stored, time.monotonic(), now_ms()
        time.sleep(0.02)
    with engine.connect() as conn:
        first_ms = conn.execute(select(func.min(readings.c.received_ms))).scalar() or end_ms
    elapsed = (end_ms - first_ms) / 1000.0   # first reading received -> last reading stored (no process start-up)
    wall = last_change - start
    stop.set()
    thread.join(15)
    if relay_thread is not None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _pending(engine):
            time.sleep(0.05)
        relay_stop.set()
        relay_thread.join(15)
        detected = _committed(engine)
    latencies = []
    with engine.connect() as conn:
        for device_id, seq, at in detected:
            received = conn.execute(select(readings.c.received_ms).where(and_(
                readings.c.device_id == device_id, readings.c.seq == seq))).scalar()
            if received is not None:
                latencies.append(float(at - received))
    return {"broker": broker if broker in ("mosquitto", "embedded") else address.url(), "tls": bool(address.tls_ca),
            "devices": len(fleet), "readings_sent": sent_total, "readings_acknowledged": acked,
            "readings_stored": stored, "readings_lost": max(0, min(acked, sent_total) - stored),
            "readings_per_s": round(stored / elapsed, 1) if elapsed > 0 else None, "seconds": round(elapsed, 2), "wall_seconds": round(wall, 2),
            "warnings": len(latencies),
            "warning_latency_ms": {"p50": _percentile(latencies, 0.5), "p95": _percentile(latencies, 0.95),
                                   "mean": round(statistics.fmean(latencies), 1) if latencies else None},
            "warnings_pending": _pending(engine) if chain is not None else None,
            "warning_latency_scope": "reading received -> warning committed on chain (devnet, Gateway submit)"
            if chain is not None else "reading received -> warning committed in the store (no chain)"}


def _pending(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(alerts).where(alerts.c.status == "pending")).scalar() or 0)


def _committed(engine: Any) -> list[tuple[str, int, int]]:
    """(device, triggering seq, committed-on-chain ms) of every relayed device warning."""
    with engine.connect() as conn:
        return [(r.device_id, r.reading_seq, r.committed_ms) for r in conn.execute(
            select(alerts).where(and_(alerts.c.status == "committed", alerts.c.rule != "offline")))]
