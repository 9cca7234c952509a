"""The telemetry consumer: one MQTT client (:class:`~.mqttclient.LeanClient`) with a persistent session
(clean session false, fixed client id) subscribed with QoS 1, acknowledging a batch's messages only after
the :class:`~.pipeline.Pipeline` committed it, on the connection they arrived on (one thread does both).
A consumer or broker restart therefore loses no reading: unacknowledged messages are redelivered, and
redeliveries are recognised as stored. :func:`make_client` builds the paho clients of everything else.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import paho.mqtt.client as mqtt

from .errors import BrokerError
from .mqttclient import LeanClient
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
    batch_max: int = 500
    batch_wait_s: float = 0.01
    ticks: list[tuple[float, Callable[[], None]]] = field(default_factory=list)  # (period s, action)
    on_batch: Callable[[BatchResult], None] | None = None
    reconnect_max_s: float = 2.0
    _connected: threading.Event = field(default_factory=threading.Event)

    def connect(self) -> LeanClient:
        """Connect (persistent session) and subscribe with QoS 1.

        Raises:
            BrokerError: unreachable, refused (the broker's reason) or timed out.
        """
        client = LeanClient(self.address, self.client_id, self.username, self.password, clean_session=False)
        client.connect()
        client.subscribe(SUBSCRIPTION, 1)
        self._connected.set()
        return client

    def _reconnect(self, client: LeanClient, stop: threading.Event) -> None:
        delay = 0.1
        while not stop.is_set():
            try:
                client.connect()
                client.subscribe(SUBSCRIPTION, 1)
                log.info("consumer reconnected to %s", self.address.url())
                return
            except BrokerError as exc:
                log.warning("consumer reconnect failed: %s", exc)
                stop.wait(delay)
                delay = min(delay * 2, self.reconnect_max_s)

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set, reconnecting after a broker failure. Raises BrokerError (the first
        connection) and StoreError (database): the unacknowledged messages of a failed batch stay with the
        broker."""
        client = self.connect()
        next_tick = [time.monotonic() + period for period, _ in self.ticks]
        try:
            while not stop.is_set():
                try:
                    items = client.poll(self.batch_max, self.batch_wait_s)
                    if items:
                        at = now_ms()
                        result = self.pipeline.process([Message(t, p, at) for t, p, _, _ in items])
                        client.ack([pid for _, _, qos, pid in items if qos])
                        if self.on_batch:
                            self.on_batch(result)
                except BrokerError as exc:
                    # what was not acknowledged is redelivered on the new connection (found stored, acked then)
                    log.warning("consumer connection lost: %s", exc)
                    self._reconnect(client, stop)
                now = time.monotonic()
                for i, (period, action) in enumerate(self.ticks):
                    if now >= next_tick[i]:
                        action()
                        next_tick[i] = now + period
        finally:
            client.close()
