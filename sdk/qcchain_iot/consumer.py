"""The telemetry consumer: one MQTT client with a persistent session (clean_session false, fixed client
id) subscribed with QoS 1, acknowledging each message only after its batch is committed by the
:class:`~.pipeline.Pipeline` (paho's manual acknowledgement), and only on the connection it arrived on. A consumer or broker restart therefore
loses no reading: unacknowledged messages are redelivered, and redeliveries are recognised as stored.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import paho.mqtt.client as mqtt

from .errors import BrokerError
from .pipeline import BatchResult, Message, Pipeline
from .topics import SUBSCRIPTION

log = logging.getLogger(__name__)

__all__ = ["BrokerAddress", "Consumer", "now_ms", "make_client"]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls_ca: str | None = None          # CA file: connect with TLS and verify the broker
    tls_hostname: str = "localhost"

    def url(self) -> str:
        return f"{'mqtts' if self.tls_ca else 'mqtt'}://{self.host}:{self.port}"


def make_client(address: BrokerAddress, client_id: str, username: str, password: str, *,
                clean_session: bool, manual_ack: bool = False, inflight: int = 1000) -> mqtt.Client:
    """A paho client (MQTT 3.1.1) with credentials and, if the address has a CA, TLS."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                         protocol=mqtt.MQTTv311, manual_ack=manual_ack)
    client.username_pw_set(username, password)
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    if address.tls_ca:
        client.tls_set(ca_certs=address.tls_ca, cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    return client


@dataclass
class Consumer:
    pipeline: Pipeline
    address: BrokerAddress
    username: str
    password: str
    client_id: str = "qcchain-iot-consumer"
    batch_max: int = 2000
    batch_wait_s: float = 0.01
    ticks: list[tuple[float, Callable[[], None]]] = field(default_factory=list)  # (period s, action)
    on_batch: Callable[[BatchResult], None] | None = None
    _queue: "queue.Queue[tuple[Message, int, int, int]]" = field(default_factory=queue.Queue)
    _connected: threading.Event = field(default_factory=threading.Event)
    _refused: list[str] = field(default_factory=list)
    _generation: int = 0      # connections so far: a message is acknowledged only on the one it came on

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        if getattr(rc, "is_failure", False):
            self._refused.append(str(rc))
            return
        self._generation += 1
        client.subscribe(SUBSCRIPTION, qos=1)
        self._connected.set()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self._queue.put((Message(msg.topic, bytes(msg.payload), now_ms()), msg.mid, msg.qos, self._generation))

    def connect(self, timeout: float = 10.0) -> mqtt.Client:
        """Connect and subscribe. Raises BrokerError: unreachable, refused or timed out."""
        client = make_client(self.address, self.client_id, self.username, self.password, clean_session=False,
                             manual_ack=True)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        try:
            client.connect(self.address.host, self.address.port, keepalive=30)
        except OSError as exc:
            raise BrokerError(f"cannot reach the broker at {self.address.url()}: {type(exc).__name__}") from exc
        client.loop_start()
        deadline = time.monotonic() + timeout
        while not self._connected.is_set() and time.monotonic() < deadline and not self._refused:
            time.sleep(0.01)
        if not self._connected.is_set():
            client.loop_stop()
            raise BrokerError(f"the broker at {self.address.url()} refused the consumer"
                              f"{': ' + self._refused[0] if self._refused else ' (timeout)'}")
        return client

    def _drain(self) -> list[tuple[Message, int, int, int]]:
        try:
            items = [self._queue.get(timeout=self.batch_wait_s)]
        except queue.Empty:
            return []
        while len(items) < self.batch_max:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set. Raises BrokerError (connection) and StoreError (database): the
        unacknowledged messages of a failed batch stay with the broker."""
        client = self.connect()
        next_tick = [time.monotonic() + period for period, _ in self.ticks]
        try:
            while not stop.is_set():
                items = self._drain()
                if items:
                    result = self.pipeline.process([m for m, _, _, _ in items])
                    # a message received before a reconnect is not acknowledged: the broker redelivers it
                    # (found stored, acknowledged then), and its old packet id may now name another message
                    for _, mid, qos, generation in items:
                        if qos and generation == self._generation:
                            client.ack(mid, qos)
                    if self.on_batch:
                        self.on_batch(result)
                now = time.monotonic()
                for i, (period, action) in enumerate(self.ticks):
                    if now >= next_tick[i]:
                        action()
                        next_tick[i] = now + period
        finally:
            client.disconnect()
            client.loop_stop()
