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
from typing import Callable, Iterator

from .consumer import BrokerAddress, now_ms
from .errors import BrokerError
from .mqttclient import LeanClient
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
                   stop: threading.Event | None = None, timeout: float = 60.0, linger_s: float = 1.0,
                   window: int = 500, burst: int = 50, ready: Callable[[], object] | None = None) -> int:
    """Publish ``series`` as device ``dev`` (QoS 1), at most one reading per ``period_ms`` (0: as fast as
    possible, ``burst`` messages per write, at most ``window`` unacknowledged; timestamps then are the send
    times); wait for every PUBACK, reconnecting and resending what was not acknowledged when the broker
    goes away (at least once); how many were acknowledged. ``ready`` is called once connected, before
    the first reading (the bench's start barrier).

    Raises:
        BrokerError: the broker refused the device, or did not acknowledge everything within ``timeout``
            of the last send (or of a lost connection).
    """
    client = LeanClient(address, f"sim-{dev.device_id}", dev.device_id, dev.password, clean_session=True)
    client.connect()
    if ready is not None:
        ready()
    topic = telemetry_topic(dev.org, dev.device_id)
    outstanding: dict[int, tuple[str, bytes]] = {}       # packet id -> message not yet acknowledged
    deadline = time.monotonic() + timeout
    acked = 0

    def settle(wait: float) -> None:
        nonlocal acked
        client.wait_acks(wait)
        for pid in [p for p in outstanding if p in client.acked]:
            del outstanding[pid]
            acked += 1

    def guarded(action: Callable[[], None]) -> None:
        while True:
            try:
                action()
                return
            except BrokerError as exc:
                if "refused" in str(exc) or time.monotonic() > deadline:
                    raise
                log.info("device %s reconnecting: %s", dev.device_id, exc)
                time.sleep(0.2)
                try:
                    client.connect()
                except BrokerError as again:
                    if "refused" in str(again) and "unavailable" not in str(again):
                        raise
                    continue
                resend = list(outstanding.values())          # clean session: the broker forgot them
                outstanding.clear()
                for pid, item in zip(client.publish(resend, dup=True), resend):
                    outstanding[pid] = item

    def send(items: list[tuple[str, bytes]]) -> None:
        nonlocal deadline
        for pid, item in zip(client.publish(items), items):
            outstanding[pid] = item
        deadline = time.monotonic() + timeout              # ``timeout`` counts from the last send

    try:
        start = t0_ms if t0_ms is not None else now_ms()
        batch: list[tuple[str, bytes]] = []
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
            batch.append((topic, encode_reading(first_seq + i, ts, dev.quantity, value, dev.unit)))
            if period_ms or len(batch) >= burst:
                items, batch = batch, []
                guarded(lambda: send(items))
                guarded(lambda: settle(0.0))
                while len(outstanding) >= window and time.monotonic() < deadline:
                    guarded(lambda: settle(0.2))
        if batch:
            guarded(lambda: send(batch))
        while outstanding and time.monotonic() < deadline:
            guarded(lambda: settle(0.2))
        if outstanding:
            raise BrokerError(f"device {dev.device_id}: {len(outstanding)} readings not acknowledged")
        time.sleep(linger_s)
        return acked
    finally:
        client.close()
