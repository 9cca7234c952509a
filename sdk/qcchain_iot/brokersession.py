"""One client session of the embedded broker: its subscriptions and the messages queued for it, sent with
a bounded in-flight window and kept until the client's PUBACK (QoS 1) — across reconnects when the
session is persistent (clean session false), where the queue mirrors :class:`~.brokerstore.BrokerStore`.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from .mqttwire import encode_publish

__all__ = ["Session"]


class Session:
    """``pending``: row id -> [topic bytes, payload, qos, packet id once sent (0 before)]; insertion order is
    delivery order. Durable rows have positive ids (the store's), in-memory ones (QoS 0, clean sessions)
    negative ids. A message resent after a reconnect keeps its packet id (as Mosquitto does), so a late
    PUBACK of the previous connection can only acknowledge the message it was meant for."""

    def __init__(self, client_id: str, username: str, durable: bool, subscriptions: dict[str, int] | None = None,
                 max_inflight: int = 1000) -> None:
        self.client_id, self.username, self.durable = client_id, username, durable
        self.subscriptions: dict[str, int] = dict(subscriptions or {})
        self.pending: dict[int, list[object]] = {}
        self.unsent: deque[int] = deque()
        self.inflight: dict[int, int] = {}          # packet id -> row id
        self.max_inflight = max_inflight
        self.write: Callable[[bytes], None] | None = None   # the connected transport's write, or None
        self._pid = 0
        self._held: set[int] = set()

    @property
    def connected(self) -> bool:
        return self.write is not None

    def enqueue(self, row: int, topic: bytes, payload: bytes, qos: int) -> None:
        self.pending[row] = [topic, payload, qos, 0]
        if self.write is not None:
            self.unsent.append(row)

    def attach(self, write: Callable[[bytes], None]) -> None:
        """A connection took the session: resend what was sent before (DUP, same packet id), then the rest."""
        self.write = write
        self.inflight.clear()
        resend = [row for row, msg in self.pending.items() if msg[3]]
        self._held = {self.pending[row][3] for row in resend}   # type: ignore[misc]
        self.unsent = deque(resend + [row for row, msg in self.pending.items() if not msg[3]])
        self.pump()

    def detach(self) -> None:
        """The connection is gone: in-memory (QoS 0 / clean) messages are dropped, durable ones kept."""
        self.write = None
        self.inflight.clear()
        self.unsent.clear()
        self._held = set()
        for row in [r for r in self.pending if r < 0]:
            del self.pending[row]

    def _next_pid(self) -> int:
        """A packet id neither in flight nor held by a message awaiting its resend."""
        while True:
            self._pid = self._pid % 65535 + 1
            if self._pid not in self.inflight and self._pid not in self._held:
                return self._pid

    def pump(self) -> None:
        """Send queued messages while the in-flight window has room."""
        write = self.write
        if write is None:
            return
        out = []
        while self.unsent and len(self.inflight) < self.max_inflight:
            row = self.unsent.popleft()
            msg = self.pending.get(row)
            if msg is None:
                continue
            topic, payload, qos, pid = msg
            if qos == 0:
                del self.pending[row]
                out.append(encode_publish(topic, payload, 0, None))      # type: ignore[arg-type]
                continue
            dup = bool(pid)
            if dup:
                self._held.discard(pid)                                    # type: ignore[arg-type]
            else:
                pid = msg[3] = self._next_pid()
            self.inflight[pid] = row                                       # type: ignore[index]
            out.append(encode_publish(topic, payload, 1, pid, dup))       # type: ignore[arg-type]
        if out:
            write(b"".join(out))

    def acknowledged(self, packet_id: int) -> int | None:
        """The client's PUBACK: the row delivered (to delete from the store if positive), or None."""
        row = self.inflight.pop(packet_id, None)
        if row is not None:
            self.pending.pop(row, None)
        return row

    def matching_qos(self, topic: str, matches: Callable[[str, str], bool]) -> int | None:
        """The highest QoS of the subscriptions matching ``topic``, or None."""
        best = None
        for flt, qos in self.subscriptions.items():
            if matches(flt, topic) and (best is None or qos > best):
                best = qos
        return best
