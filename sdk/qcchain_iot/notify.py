"""Warning notifications per org (issue 15): each warning of a ``qcchain.warning`` chaincode event that
concerns the org (it is the responsible unit, or its role is in the warning's ``notify_roles``, the event's
for older events) is delivered to a webhook (HTTP POST of JSON) and/or an MQTT topic (QoS 1, PUBACK
awaited), at least once.

Resumption uses the Gateway SDK's chaincode-event checkpoint (a
:class:`qcchain_gateway.checkpoint.FileCheckpointer`): an event is checkpointed only after every sink took
every notification of it, so a crash or a refused delivery re-reads it on restart. Duplicates from that
re-read are dropped by the delivered log (a line per ``warning_id:step`` key, appended after delivery):
each (warning, step) is delivered once — an escalation's step includes the colour it went to.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

import httpx

from qcchain_gateway.errors import EventsError

from .consumer import BrokerAddress, make_client
from .errors import NotifyError

log = logging.getLogger(__name__)

__all__ = ["Sink", "WebhookSink", "MqttSink", "Notifier", "notifications", "EVENT_NAME"]

EVENT_NAME = "qcchain.warning"


class Sink(Protocol):
    def deliver(self, note: dict[str, Any]) -> None: ...


@dataclass
class WebhookSink:
    """POST each notification as JSON; any non-2xx answer or transport error is a failed delivery."""

    url: str
    timeout: float = 10.0

    def deliver(self, note: dict[str, Any]) -> None:
        """Raises NotifyError: the endpoint did not accept it."""
        try:
            answer = httpx.post(self.url, json=note, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise NotifyError(f"webhook unreachable: {type(exc).__name__}") from exc
        if not 200 <= answer.status_code < 300:
            raise NotifyError(f"webhook answered HTTP {answer.status_code}")


@dataclass
class MqttSink:
    """Publish each notification on ``topic`` with QoS 1 and wait for the broker's PUBACK.

    ``topic`` must be the org's ``qcchain/<org>/notifications`` (:func:`.topics.notification_topic`), the
    only topic a ``notifier`` account may write: an MQTT 3.1.1 broker acknowledges a publish it drops for
    the ACL, so a wrong topic cannot be detected here."""

    address: BrokerAddress
    topic: str
    username: str
    password: str
    client_id: str = "qcchain-notifier"
    timeout: float = 10.0
    _client: Any = None
    _acked: set[int] = field(default_factory=set)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def _on_publish(self, _c: object, _u: object, mid: int, _rc: object, _p: object) -> None:
        with self._cond:
            self._acked.add(mid)
            self._cond.notify_all()

    def _connect(self) -> Any:
        client = make_client(self.address, self.client_id, self.username, self.password, clean_session=True)
        up, refused = threading.Event(), []
        client.on_connect = lambda c, u, f, rc, p: (refused.append(str(rc)) if rc.is_failure else None, up.set())
        client.on_publish = self._on_publish
        try:
            client.connect(self.address.host, self.address.port, keepalive=30)
        except OSError as exc:
            raise NotifyError(f"cannot reach the broker at {self.address.url()}: {type(exc).__name__}") from exc
        client.reconnect_delay_set(0.2, 2)
        client.loop_start()
        if not up.wait(self.timeout) or refused:
            client.disconnect()
            client.loop_stop()
            raise NotifyError(f"the broker at {self.address.url()} refused the notifier"
                              f"{': ' + refused[0] if refused else ' (timeout)'}")
        return client

    def deliver(self, note: dict[str, Any]) -> None:
        """Raises NotifyError: the broker is unreachable, refused the account or did not acknowledge in time
        (paho resends an unacknowledged message after a reconnect: at least once)."""
        if self._client is None:
            self._client = self._connect()
        try:
            mid = self._client.publish(self.topic, json.dumps(note, sort_keys=True).encode(), qos=1).mid
        except ValueError as exc:
            raise NotifyError(f"publish to {self.topic} failed: {exc}") from exc
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while mid not in self._acked and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            acked = mid in self._acked
            self._acked.discard(mid)
        if not acked:
            self.close()            # a late PUBACK must not count for a later message with the same id
            raise NotifyError(f"publish to {self.topic} was not acknowledged within {self.timeout} s")

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
        with self._cond:
            self._acked.clear()


def notifications(payload: bytes, msp_id: str, role: str, block: int, tx_id: str) -> list[dict[str, Any]]:
    """The notifications of one ``qcchain.warning`` event payload for the org ``msp_id`` (role ``role``)."""
    event = json.loads(payload)
    out = []
    for w in event.get("warnings", []):   # a warning's own notify_roles (a batch mixes colours), else the event's
        addressed = role in w.get("notify_roles", event.get("notify_roles", []))
        if w.get("responsible_msp") != msp_id and not addressed:
            continue
        step = event["kind"] if event["kind"] != "escalated" else f"escalated:{w['colour']}"
        out.append({"key": f"{w['warning_id']}:{step}", "step": step, "warning": w, "block": block, "tx_id": tx_id,
                    "to": msp_id})
    return out


@dataclass
class Notifier:
    """Deliver the org's warning events from ``events`` (a chaincode event stream of the ``qcchain``
    chaincode, started from ``checkpointer``) to ``sinks``; ``delivered_log`` holds the delivered keys."""

    msp_id: str
    role: str
    sinks: list[Sink]
    checkpointer: Any
    delivered_log: Path
    delivered: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.delivered_log.exists():
            self.delivered = set(self.delivered_log.read_text(encoding="utf-8").split())

    def _record(self, key: str) -> None:
        with self.delivered_log.open("a", encoding="utf-8") as f:
            f.write(key + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.delivered.add(key)

    def run(self, events: Iterable[Any], max_events: int | None = None) -> int:
        """Deliver until the stream ends / times out or ``max_events`` warning events were handled;
        returns the number of notifications delivered now.

        Raises:
            NotifyError: a sink refused (the event is not checkpointed: it is re-read on restart).
        """
        sent = handled = 0
        try:
            for event in events:
                if event.event_name == EVENT_NAME:
                    for note in notifications(event.payload, self.msp_id, self.role, event.block_number,
                                              event.transaction_id):
                        if note["key"] in self.delivered:
                            continue
                        for sink in self.sinks:
                            sink.deliver(note)
                        self._record(note["key"])
                        sent += 1
                    handled += 1
                self.checkpointer.checkpoint_chaincode_event(event)
                if max_events is not None and handled >= max_events:
                    break
        except EventsError as exc:   # the stream's timeout ends a bounded run
            log.info("event stream ended: %s", " ".join(str(exc).split())[:200])
        return sent
