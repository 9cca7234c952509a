"""``bench iot``: readings per second from a simulated device fleet through an MQTT broker (TLS, one
account per device) into validation, detection and the time-series store, with nothing lost.

Each device runs in its own process (QoS 1, every PUBACK awaited); they connect, wait on a barrier and
publish together. The consumer (QoS 1, persistent session, acknowledging after each batch's commit) runs
in this process. ``readings_per_s`` = readings stored / (first reading received -> last reading stored).
``warning_latency_ms`` = from a triggering reading's arrival at the consumer to its warning COMMITTED ON
CHAIN: a devnet is started in its own process and bootstrapped (:mod:`.iotchain`), the fleet's devices
registered, and the warnings relay runs in another process (:meth:`WarningRelay.run`: ``relay_workers``
transactions in flight, up to ``relay_batch`` warnings each; ``submit`` returns once the block is
committed); with ``chain=False`` the figure stops at the warning row stored (``warning_latency_scope``
says which; ``detection_latency_ms`` is always that one).
``cpu_ms_per_1000_readings``: CPU of the consumer thread, the broker (Mosquitto's process or the embedded
broker's thread) and the devices per 1 000 readings; ``load_average``: the machine's, at the end.
"""

from __future__ import annotations

import multiprocessing
import os
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
from .iotchain import CHANNEL, iot_chain

__all__ = ["run_iot_bench"]


def _publish(address: BrokerAddress, dev: SimDevice, profile: str, count: int, seed: int, start: Any,
             results: Any) -> None:
    """One device process: connect, wait at ``start`` (a barrier: every device connected), publish."""
    series = list(values(PROFILES[profile], count, 0.01, seed))
    cpu = [0.0]

    def ready() -> None:
        start.wait(60)
        cpu[0] = time.process_time()
    try:
        acked = publish_device(address, dev, series, linger_s=0.0, timeout=300, ready=ready)
    except BrokerError:
        acked = 0
    results.put((acked, time.process_time() - cpu[0]))


def _relay_process(db_url: str, profile: str, msp: str, stop: Any, workers: int, batch: int) -> None:
    """The warnings relay in its own process: pending alerts -> ``warnings:raise_warnings`` through the
    org's Gateway, ``workers`` transactions of up to ``batch`` warnings in flight, until ``stop`` is set."""
    from qcchain_gateway.profile import connect_profile
    from qcchain_sdk.contracts.warnings import WarningsClient

    gateway = connect_profile(Path(profile), user="Admin")
    try:
        contract = gateway.get_network(CHANNEL).get_contract("qcchain")
        WarningRelay(open_store(db_url), WarningsClient(contract), msp).run(stop, workers=workers, batch=batch)
    finally:
        gateway.close()


def _percentile(values_: list[float], q: float) -> float | None:
    if not values_:
        return None
    ordered = sorted(values_)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def run_iot_bench(policy: WarningsPolicy, broker: str = "mosquitto", devices: int = 8, per_device: int = 2500,
                  address: BrokerAddress | None = None, workdir: Path | None = None,
                  chain: bool = True, relay_workers: int = 4, relay_batch: int = 32) -> dict[str, Any]:
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
                return _measure(policy, address, broker, creds, cpw, fleet, per_device, work, None,
                                _broker_stat(server), (relay_workers, relay_batch))
            with iot_chain(work / "devnet", [d.device_id for d in fleet], detached=True) as net:
                return _measure(policy, address, broker, creds, cpw, fleet, per_device, work,
                                (net.profiles["UsingUnit"], net.msp("UsingUnit")), _broker_stat(server),
                                (relay_workers, relay_batch))
        finally:
            if server is not None:
                server.stop()


def _measure(policy: WarningsPolicy, address: BrokerAddress, broker: str, creds: CredentialStore, cpw: str,
             fleet: list[SimDevice], per_device: int, work: Path, chain: tuple[Path, str] | None,
             broker_stat: str | None = None, relay: tuple[int, int] = (4, 32)) -> dict[str, Any]:
    engine = open_store(sqlite_url(str(work / "bench.db")))
    relay_stop, relay_proc = None, None
    if chain is not None:              # the relay in its own process: Gateway signing off the consumer's GIL
        ctx = multiprocessing.get_context("spawn")
        relay_stop = ctx.Event()
        relay_proc = ctx.Process(target=_relay_process, args=(sqlite_url(str(work / "bench.db")), str(chain[0]),
                                                              chain[1], relay_stop, *relay), daemon=True)
        relay_proc.start()
    detected: list[tuple[str, int, int]] = []   # (device, seq, committed ms)
    progress: dict[str, Any] = {"stored": 0, "last_ms": now_ms(), "cpu0": None, "cpu": 0.0}

    def on_batch(result: BatchResult) -> None:
        at = now_ms()
        progress["stored"] += result.stored
        progress["last_ms"] = at
        if progress["cpu0"] is None:
            progress["cpu0"] = time.thread_time()        # the consumer thread: MQTT, validation, storage
        progress["cpu"] = time.thread_time() - progress["cpu0"]
        detected.extend((a.device_id, a.reading_seq, at) for a in result.alerts if a.rule != "offline")
    consumer = Consumer(Pipeline(engine, policy, creds.active_devices()), address, "bench-consumer", cpw,
                        on_batch=on_batch)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    if not consumer._connected.wait(15):
        raise BenchError(f"the consumer could not connect to {address.url()}")
    sent_total = per_device * len(fleet)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(fleet) + 1), ctx.Queue()
    procs = [ctx.Process(target=_publish, args=(address, dev, "climb" if i % 2 == 0 else "normal", per_device, i + 1,
                                                barrier, results), daemon=True) for i, dev in enumerate(fleet)]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(120)                  # every device connected: the fleet starts publishing together
    except threading.BrokenBarrierError as exc:
        raise BenchError("the simulated devices did not all connect within 120 s") from exc
    start_ms, broker_cpu0 = now_ms(), _process_cpu(broker_stat)
    answers = [results.get(timeout=600) for _ in procs]
    acked, publishers_cpu = sum(a for a, _ in answers), sum(c for _, c in answers)
    for proc in procs:
        proc.join(30)
    last_change, previous = time.monotonic(), -1
    while progress["stored"] < sent_total and time.monotonic() - last_change < 10:
        if progress["stored"] != previous:
            previous, last_change = progress["stored"], time.monotonic()
        time.sleep(0.05)
    end_ms = progress["last_ms"]
    broker_cpu = _process_cpu(broker_stat) - broker_cpu0 if broker_stat else None
    with engine.connect() as conn:
        stored = int(conn.execute(select(func.count()).select_from(readings)).scalar() or 0)
    with engine.connect() as conn:
        first_ms = conn.execute(select(func.min(readings.c.received_ms))).scalar() or end_ms
    elapsed = (end_ms - first_ms) / 1000.0   # first reading received -> last reading stored (no process start-up)
    wall = (end_ms - start_ms) / 1000.0      # all devices released -> last reading stored
    stop.set()
    thread.join(15)
    if relay_proc is not None and relay_stop is not None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _pending(engine) and relay_proc.is_alive():
            time.sleep(0.05)
        relay_stop.set()
        relay_proc.join(30)
    stored_latencies = _latencies(engine, detected)
    latencies = _latencies(engine, _committed(engine)) if chain is not None else stored_latencies
    return {"broker": broker if broker in ("mosquitto", "embedded") else address.url(), "tls": bool(address.tls_ca),
            "devices": len(fleet), "readings_sent": sent_total, "readings_acknowledged": acked,
            "readings_stored": stored, "readings_lost": max(0, min(acked, sent_total) - stored),
            "readings_per_s": round(stored / elapsed, 1) if elapsed > 0 else None, "seconds": round(elapsed, 2), "wall_seconds": round(wall, 2),
            "warnings": len(latencies),
            # CPU per 1000 readings: what the 2 cores must supply, whatever else runs on the machine
            "cpu_ms_per_1000_readings": {
                "consumer_thread": round(progress["cpu"] * 1e6 / max(stored, 1), 1),
                "broker": round(broker_cpu * 1e6 / max(stored, 1), 1) if broker_cpu is not None else None,
                "publishers": round(publishers_cpu * 1e6 / max(stored, 1), 1)},
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "detection_latency_ms": {"p50": _percentile(stored_latencies, 0.5),   # reading -> warning row stored
                                     "p95": _percentile(stored_latencies, 0.95)},
            "warning_latency_ms": {"p50": _percentile(latencies, 0.5), "p95": _percentile(latencies, 0.95),
                                   "mean": round(statistics.fmean(latencies), 1) if latencies else None},
            "warnings_pending": _pending(engine) if chain is not None else None,
            "relay": {"workers": relay[0], "batch": relay[1]} if chain is not None else None,
            "warning_latency_scope": "reading received -> warning committed on chain (devnet, Gateway submit)"
            if chain is not None else "reading received -> warning committed in the store (no chain)"}


def _broker_stat(server: Any) -> str | None:
    """The /proc stat file of our broker: Mosquitto's process or the embedded broker's thread."""
    if isinstance(server, MosquittoProcess) and server.proc is not None:
        return f"/proc/{server.proc.pid}/stat"
    thread = getattr(server, "_thread", None)
    if thread is not None and thread.native_id:
        return f"/proc/{os.getpid()}/task/{thread.native_id}/stat"
    return None


def _process_cpu(stat: str | None) -> float:
    """User + system CPU seconds from a /proc stat file (Linux), 0.0 when unreadable."""
    if not stat:
        return 0.0
    try:
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _latencies(engine: Any, events: list[tuple[str, int, int]]) -> list[float]:
    """Milliseconds from each triggering reading's arrival to ``(device, seq, at ms)``."""
    out = []
    with engine.connect() as conn:
        for device_id, seq, at in events:
            received = conn.execute(select(readings.c.received_ms).where(and_(
                readings.c.device_id == device_id, readings.c.seq == seq))).scalar()
            if received is not None:
                out.append(float(at - received))
    return out


def _pending(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(alerts).where(alerts.c.status == "pending")).scalar() or 0)


def _committed(engine: Any) -> list[tuple[str, int, int]]:
    """(device, triggering seq, committed-on-chain ms) of every relayed device warning."""
    with engine.connect() as conn:
        return [(r.device_id, r.reading_seq, r.committed_ms) for r in conn.execute(
            select(alerts).where(and_(alerts.c.status == "committed", alerts.c.rule != "offline")))]
