"""A lean single-threaded MQTT 3.1.1 client for the telemetry hot paths (the consumer and the simulated
fleet): one blocking socket (TLS when the address has a CA), reads in large chunks cut into packets by
:func:`.mqttwire.split_packets`, QoS 1 acknowledgements written together in one send.

Why not paho here: paho reads every packet with several socket reads, builds a message object, takes
locks and calls back per message, and writes one PUBACK per call; at 10 000 readings/s that was most of
the consumer's CPU. paho stays the client of everything else (notifications, tests).
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections import deque
from typing import Iterable

from . import mqttwire as w
from .errors import BrokerError, MqttProtocolError

__all__ = ["LeanClient", "Received"]

Received = tuple[str, bytes, int, int]      # topic, payload, qos, packet id (0 for QoS 0)
_CONNACK_REASONS = {1: "unacceptable protocol version", 2: "identifier rejected", 3: "server unavailable",
                    4: "bad user name or password", 5: "not authorized"}


def _string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


class LeanClient:
    """``LeanClient(address, client_id, username, password, clean_session=False)``; :meth:`connect` first.
    Not thread-safe: one thread uses it."""

    def __init__(self, address: object, client_id: str, username: str, password: str, *, clean_session: bool,
                 keepalive: int = 30) -> None:
        self.address = address
        self.client_id, self.username, self.password = client_id, username, password
        self.clean_session, self.keepalive = clean_session, keepalive
        self.sock: socket.socket | None = None
        self.generation = 0                 # connections made so far
        self._buf = bytearray()
        self._rbuf = bytearray(1 << 16)
        self._rview = memoryview(self._rbuf)
        self._packets: deque[tuple[int, int, bytes]] = deque()
        self._last_send = 0.0
        self._pid = 0
        self.acked: set[int] = set()        # packet ids of our QoS 1 publishes the broker acknowledged

    # ---- connection ------------------------------------------------------------------------------
    def connect(self, timeout: float = 10.0) -> bool:
        """Connect and wait for CONNACK; True when the broker kept a session.

        Raises:
            BrokerError: unreachable, TLS failure, refused (with the broker's reason) or timed out.
        """
        self.close()
        addr = self.address
        url = addr.url()  # type: ignore[attr-defined]
        try:
            raw = socket.create_connection((addr.host, addr.port), timeout=timeout)  # type: ignore[attr-defined]
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if addr.tls_ca:  # type: ignore[attr-defined]
                ctx = ssl.create_default_context(cafile=addr.tls_ca)  # type: ignore[attr-defined]
                raw = ctx.wrap_socket(raw, server_hostname=addr.tls_hostname)  # type: ignore[attr-defined]
        except (OSError, ssl.SSLError) as exc:
            raise BrokerError(f"cannot reach the broker at {url}: {type(exc).__name__}") from exc
        self.sock, self._buf, self._packets = raw, bytearray(), deque()
        flags = 0x80 | 0x40 | (0x02 if self.clean_session else 0)
        body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", self.keepalive) + _string(self.client_id) \
            + _string(self.username) + _string(self.password)
        self._send(bytes([w.CONNECT << 4]) + w.encode_remaining(len(body)) + body)
        ptype, _flags, ack = self._next_packet(timeout, url)
        if ptype != 2 or len(ack) != 2:
            self.close()
            raise BrokerError(f"the broker at {url} answered CONNECT with packet type {ptype}")
        if ack[1]:
            self.close()
            raise BrokerError(f"the broker at {url} refused {self.username}: {_CONNACK_REASONS.get(ack[1], ack[1])}")
        self.generation += 1
        return bool(ack[0] & 1)

    def subscribe(self, topic_filter: str, qos: int = 1, timeout: float = 10.0) -> int:
        """Subscribe; the granted QoS. Raises BrokerError: refused (0x80) or no SUBACK in time."""
        pid = self._next_pid()
        body = struct.pack("!H", pid) + _string(topic_filter) + bytes([qos])
        self._send(bytes([w.SUBSCRIBE << 4 | 0x02]) + w.encode_remaining(len(body)) + body)
        deadline = time.monotonic() + timeout
        held: list[tuple[int, int, bytes]] = []             # PUBLISHes that came before the SUBACK: kept
        try:
            while True:
                ptype, flags, ack = self._next_packet(max(0.0, deadline - time.monotonic()), "subscribe")
                if ptype == 9 and ack[:2] == struct.pack("!H", pid):
                    if ack[2:3] == b"\x80":
                        raise BrokerError(f"the broker refused the subscription to {topic_filter}")
                    return ack[2]
                held.append((ptype, flags, ack))
        finally:
            self._packets.extendleft(reversed(held))

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.sendall(bytes([w.DISCONNECT << 4, 0]))
            except OSError:
                pass
            self.sock.close()
            self.sock = None

    # ---- I/O -------------------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        if self.sock is None:
            raise BrokerError("not connected to the broker")
        try:
            self.sock.settimeout(30)
            self.sock.sendall(data)
        except OSError as exc:
            self.close()
            raise BrokerError(f"connection to the broker lost: {type(exc).__name__}") from exc
        self._last_send = time.monotonic()

    def _fill(self, timeout: float) -> bool:
        """Read what arrives within ``timeout`` (0: only what is already there); False if nothing came."""
        if self.sock is None:
            raise BrokerError("not connected to the broker")
        self.sock.settimeout(timeout if timeout > 0 else 0.0)
        got = eof = False
        try:
            while True:
                n = self.sock.recv_into(self._rbuf)        # a TLS record is at most 16 KiB: no big allocation
                if not n:
                    eof = True
                    break
                self._buf += self._rview[:n]
                got = True
                self.sock.settimeout(0.0)
                if len(self._buf) > (1 << 22):
                    break
        except (BlockingIOError, ssl.SSLWantReadError, socket.timeout, TimeoutError):
            pass
        except OSError as exc:
            self.close()
            raise BrokerError(f"connection to the broker lost: {type(exc).__name__}") from exc
        if got:
            try:
                self._packets.extend(w.split_packets(self._buf, 1 << 20))
            except MqttProtocolError as exc:
                self.close()
                raise BrokerError(f"the broker sent a malformed packet: {exc}") from exc
        if eof:
            self.sock.close()           # what came before the end (a refusing CONNACK) is still handled
            self.sock = None
            if not self._packets:
                raise BrokerError("the broker closed the connection")
        return got

    def _next_packet(self, timeout: float, what: str) -> tuple[int, int, bytes]:
        deadline = time.monotonic() + timeout
        while not self._packets:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise BrokerError(f"no answer from the broker ({what})")
            self._fill(left)
        return self._packets.popleft()

    def _maybe_ping(self) -> None:
        if self.keepalive and time.monotonic() - self._last_send > self.keepalive / 2:
            self._send(bytes([w.PINGREQ << 4, 0]))

    def poll(self, max_messages: int, timeout: float) -> list[Received]:
        """Received PUBLISHes: waits up to ``timeout`` for the first, then takes what is already there (at
        most ``max_messages``). PUBACKs of our publishes are collected in :attr:`acked`.

        Raises:
            BrokerError: the connection failed (reconnect with :meth:`connect`).
        """
        out: list[Received] = []
        deadline = time.monotonic() + timeout
        while len(out) < max_messages:
            while self._packets and len(out) < max_messages:
                ptype, flags, body = self._packets.popleft()
                if ptype == w.PUBLISH:
                    out.append(_publish_fields(flags, body, self))
                elif ptype == w.PUBACK and len(body) == 2:
                    self.acked.add(struct.unpack("!H", body)[0])
            if len(out) >= max_messages:
                break
            left = 0.0 if out else deadline - time.monotonic()
            if not self._fill(left) and (out or left <= 0):
                break
        self._maybe_ping()
        return out

    def wait_acks(self, timeout: float) -> None:
        """Read for up to ``timeout`` (0: what is there) and collect PUBACKs into :attr:`acked`.

        Raises:
            BrokerError: the connection failed.
        """
        self._fill(timeout)
        while self._packets:
            ptype, _flags, body = self._packets.popleft()
            if ptype == w.PUBACK and len(body) == 2:
                self.acked.add(struct.unpack("!H", body)[0])
        self._maybe_ping()

    def ack(self, packet_ids: Iterable[int]) -> None:
        """PUBACK each id, in one write. Raises BrokerError: the connection failed."""
        data = b"".join(w.encode_ack(w.PUBACK, pid) for pid in packet_ids)
        if data:
            self._send(data)

    def _next_pid(self) -> int:
        self._pid = self._pid % 65535 + 1
        return self._pid

    def publish(self, items: Iterable[tuple[str, bytes]], dup: bool = False) -> list[int]:
        """Send QoS 1 PUBLISHes in one write; their packet ids (PUBACKs arrive in :attr:`acked` via
        :meth:`poll`). Raises BrokerError: the connection failed."""
        pids, parts = [], []
        for topic, payload in items:
            pid = self._next_pid()
            self.acked.discard(pid)
            pids.append(pid)
            parts.append(w.encode_publish(topic.encode(), payload, 1, pid, dup))
        if parts:
            self._send(b"".join(parts))
        return pids


def _publish_fields(flags: int, body: bytes, client: LeanClient) -> Received:
    """``(topic, payload, qos, packet id)`` of a PUBLISH from the broker (the hot path: no objects).

    Raises:
        BrokerError: malformed (the connection is closed).
    """
    qos = (flags >> 1) & 0x03
    try:
        n = (body[0] << 8) | body[1]
        pos = 2 + n + (2 if qos else 0)
        if qos == 3 or len(body) < pos:
            raise MqttProtocolError("bad QoS or truncated PUBLISH")
        topic = body[2:2 + n].decode("utf-8")
        pid = ((body[pos - 2] << 8) | body[pos - 1]) if qos else 0
        if qos and not pid:
            raise MqttProtocolError("packet id 0")
    except (IndexError, UnicodeDecodeError, MqttProtocolError) as exc:
        client.close()
        raise BrokerError(f"the broker sent a malformed PUBLISH: {type(exc).__name__}") from exc
    return topic, body[pos:], qos, pid
