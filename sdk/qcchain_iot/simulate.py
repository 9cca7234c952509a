"""A simulated device fleet: realistic series (noise around a set point, a slow climb, spikes, a stuck
sensor, a dropout) published over MQTT with QoS 1, each device with its own credentials.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import paho.mqtt.client as mqtt

from .consumer import BrokerAddress, make_client, now_ms
from .errors import BrokerError
from .reading import encode_reading
from .topics import telemetry_topic

log = logging.getLogger(__name__)

__all__ = ["Profile", "values", "SimDevice", "publish_device", "PROFILES"]


@dataclass(frozen=True)
class Profile:
    base: float
    noise: float
    climb_per_s: float = 0.0        # steady drift (e.g. pressure rising)
    spike_every: int = 0            # every N readings one spike of +spike
    spike: float = 0.0
    stuck_after: int = 0            # the sensor repeats one value from reading N on
    dropout: tuple[int, int] = (0, 0)  # readings [a, b) are never sent (device offline)


PROFILES = {
    "normal": Profile(base=1.0, noise=0.005),
    "climb": Profile(base=1.20, noise=0.003, climb_per_s=0.002),
    "spiky": Profile(base=1.0, noise=0.005, spike_every=200, spike=0.35),
    "stuck": Profile(base=1.0, noise=0.005, stuck_after=100),
}


def values(profile: Profile, count: int, period_s: float, seed: int) -> Iterator[tuple[int, float]]:
    """``(index, value)`` of the series (dropped readings skipped), deterministic for ``seed``."""
    rnd = random.Random(seed)
    stuck = math.nan
    for i in range(count):
        v = profile.base + profile.climb_per_s * i * period_s + rnd.gauss(0.0, profile.noise)
        if profile.spike_every and i and i % profile.spike_every == 0:
            v += profile.spike
        if profile.stuck_after and i >= profile.stuck_after:
            stuck = v if math.isnan(stuck) else stuck
            v = stuck
        if profile.dropout[0] <= i < profile.dropout[1]:
            continue
        yield i, round(v, 5)


@dataclass(frozen=True)
class SimDevice:
    org: str
    device_id: str
    password: str
    quantity: str = "pressure"
    unit: str = "MPa"


def publish_device(address: BrokerAddress, dev: SimDevice, series: list[tuple[int, float]], *,
                   first_seq: int = 0, period_ms: int = 0, t0_ms: int | None = None,
                   stop: threading.Event | None = None, timeout: float = 60.0, linger_s: float = 1.0) -> int:
    """Publish ``series`` as device ``dev`` (QoS 1), at most one reading per ``period_ms`` (0: as fast as
    possible; timestamps then are the send times); wait for every PUBACK; how many were acknowledged.

    Raises:
        BrokerError: the broker refused the device or did not acknowledge in time.
    """
    client = make_client(address, f"sim-{dev.device_id}", dev.device_id, dev.password, clean_session=True)
    refused: list[str] = []
    up = threading.Event()
    acked: set[int] = set()        # PUBACKed packet ids; paho resends unacknowledged ones after a reconnect
    lock = threading.Condition()

    def on_publish(_c: object, _u: object, mid: int, _rc: object, _p: object) -> None:
        with lock:
            acked.add(mid)
            lock.notify_all()
    client.on_connect = lambda c, u, f, rc, p: (refused.append(str(rc)) if rc.is_failure else None, up.set())
    client.on_publish = on_publish
    try:
        client.connect(address.host, address.port, keepalive=30)
    except OSError as exc:
        raise BrokerError(f"device {dev.device_id} cannot reach {address.url()}: {type(exc).__name__}") from exc
    client.reconnect_delay_set(0.2, 2)
    client.loop_start()
    try:
        if not up.wait(10) or refused:
            raise BrokerError(f"the broker refused device {dev.device_id}{': ' + refused[0] if refused else ''}")
        topic, mids = telemetry_topic(dev.org, dev.device_id), []
        start = t0_ms if t0_ms is not None else now_ms()
        for i, value in series:
            if stop is not None and stop.is_set():
                break
            if period_ms:
                due = start + i * period_ms
                delay = (due - now_ms()) / 1000.0
                if delay > 0:
                    time.sleep(delay)
                ts = due
            else:
                ts = now_ms()
            # while the broker is away the message is queued by paho (rc "no connection") and sent on reconnect
            mids.append(client.publish(topic, encode_reading(first_seq + i, ts, dev.quantity, value, dev.unit),
                                       qos=1).mid)
        deadline = time.monotonic() + timeout
        with lock:
            while not acked.issuperset(mids) and time.monotonic() < deadline:
                lock.wait(max(0.0, min(0.5, deadline - time.monotonic())))
            count = sum(1 for m in mids if m in acked)
        if count < len(mids):
            raise BrokerError(f"device {dev.device_id}: {len(mids) - count} readings not acknowledged")
        return count
    finally:
        time.sleep(linger_s)
        client.disconnect()
        client.loop_stop()
