"""The embedded MQTT broker (:mod:`.mqttbroker`) run on an event loop in a background thread: the default
broker of the main job, tests and CI. Authentication and ACL come from the shared credential files; TLS
when a certificate is given; persistent sessions and their queues are durable in ``state_dir``, so a
restart of this broker (same ``state_dir``) loses no acknowledged message.

amqtt (the embedded broker before) was dropped because it loses acknowledged QoS 1 messages; see
docs/IOT.md ("Why not amqtt") for the three places.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from .errors import BrokerError
from .mqttbroker import MqttBroker

log = logging.getLogger(__name__)

__all__ = ["EmbeddedBroker"]


class EmbeddedBroker:
    """``with EmbeddedBroker(port, credentials_dir) as b: ...`` — listens on ``host:port``; its durable
    state lives in ``state_dir`` (default: ``embedded-broker`` beside the credential directory)."""

    def __init__(self, port: int, credentials_dir: str | Path, certfile: str | Path | None = None,
                 keyfile: str | Path | None = None, host: str = "127.0.0.1", state_dir: str | Path | None = None,
                 max_inflight: int = 1000) -> None:
        self.port = port
        cred = Path(credentials_dir).resolve()
        self.state_dir = Path(state_dir) if state_dir else cred.parent / "embedded-broker"
        self._args = (host, port, cred, self.state_dir, certfile, keyfile, max_inflight)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.broker: MqttBroker | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start listening. Raises BrokerError: the broker did not start (port in use, bad TLS or state files)."""
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        try:
            broker = MqttBroker(*self._args)
        except (OSError, ValueError) as exc:
            loop.close()
            raise BrokerError(f"the embedded broker cannot use its TLS files: {type(exc).__name__}") from exc
        self._thread = threading.Thread(target=loop.run_forever, name=f"mqtt-{self.port}", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(broker.start(), loop).result(timeout)
        except Exception as exc:  # noqa: BLE001 - OSError, sqlite3.Error, timeout: reported in one line
            asyncio.run_coroutine_threadsafe(broker.stop(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout)
            loop.close()
            self._thread = None
            raise BrokerError(f"the embedded broker did not start on port {self.port}: {type(exc).__name__}") from exc
        self._loop, self.broker = loop, broker

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the broker down (idempotent); its durable state stays in ``state_dir``."""
        loop, broker = self._loop, self.broker
        if loop is None or broker is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(broker.stop(), loop).result(timeout)
        except Exception as exc:  # noqa: BLE001 - shutting down anyway
            log.warning("embedded broker shutdown: %s", type(exc).__name__)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(timeout)
        loop.close()
        self._loop = self.broker = self._thread = None

    def __enter__(self) -> "EmbeddedBroker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
