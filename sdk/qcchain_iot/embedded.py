"""The embedded MQTT broker (amqtt) run in a background thread: the default broker of the main job,
tests and CI. Authentication and ACL come from the shared credential files; TLS when a certificate is
given. Queued messages live in memory (a restart of THIS broker drops what it had queued — use Mosquitto
with persistence for deployments).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from amqtt.broker import Broker

from .errors import BrokerError

log = logging.getLogger(__name__)

__all__ = ["EmbeddedBroker"]


class EmbeddedBroker:
    """``with EmbeddedBroker(port, credentials_dir) as b: ...`` — listens on 127.0.0.1:``port``."""

    def __init__(self, port: int, credentials_dir: str | Path, certfile: str | Path | None = None,
                 keyfile: str | Path | None = None, host: str = "127.0.0.1") -> None:
        listener: dict[str, object] = {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 0}
        if certfile:
            listener.update({"ssl": True, "certfile": str(certfile), "keyfile": str(keyfile)})
        cred = {"credentials_dir": str(Path(credentials_dir).resolve())}
        self.config = {"listeners": {"default": listener}, "plugins": {
            "qcchain_iot.amqttauth.DeviceAuthPlugin": cred, "qcchain_iot.amqttauth.DeviceTopicPlugin": cred}}
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Broker | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start listening. Raises BrokerError: the broker did not start (port in use, bad TLS files)."""
        ready, failure = threading.Event(), []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._broker = Broker(self.config, loop=loop)
                loop.run_until_complete(self._broker.start())
            except Exception as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"amqtt-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or failure:
            raise BrokerError(f"the embedded broker did not start on port {self.port}: "
                              f"{type(failure[0]).__name__ if failure else 'timeout'}")

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the broker down (idempotent)."""
        if self._loop is None or self._broker is None:
            return
        loop, broker = self._loop, self._broker
        fut = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
        try:
            fut.result(timeout)
        except Exception as exc:  # noqa: BLE001 - shutting down anyway
            log.warning("embedded broker shutdown: %s", type(exc).__name__)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(timeout)
        self._loop = self._broker = None

    def __enter__(self) -> "EmbeddedBroker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
