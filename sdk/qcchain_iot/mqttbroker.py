"""The embedded MQTT 3.1.1 broker (asyncio): TLS, authentication and ACL from the shared credential files
(:mod:`.brokeracl`), QoS 0/1 delivery (an inbound QoS 2 message is accepted and delivered at QoS 1),
persistent sessions whose queues are durable (:mod:`.brokerstore`).

Acknowledged means durable: a publisher's PUBACK is written only after the message is committed to the
queue of every persistent session it is routed to (group commit: all messages received in one event-loop
pass share one transaction); a queued message is deleted only after the subscriber's PUBACK. Not
supported: retained messages (kept nowhere; never used by qcchain), MQTT 5.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import sqlite3
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import mqttwire as w
from .brokeracl import BrokerAcl
from .brokersession import Session
from .brokerstore import BrokerStore
from .errors import MqttProtocolError

log = logging.getLogger(__name__)

__all__ = ["MqttBroker"]

MAX_PACKET = 256 * 1024
MAX_PAYLOAD = 64 * 1024


@dataclass(eq=False)
class _Conn:
    writer: asyncio.StreamWriter
    session: Session | None = None
    allowed_topic: set[str] = field(default_factory=set)     # memo of permitted publish topics
    qos2_in: set[int] = field(default_factory=set)
    will: w.Publish | None = None
    graceful: bool = False


class MqttBroker:
    """Serve on ``host:port``; state (persistent sessions and their queues) in ``state_dir/broker.db``."""

    def __init__(self, host: str, port: int, credentials_dir: str | Path, state_dir: str | Path,
                 certfile: str | Path | None = None, keyfile: str | Path | None = None,
                 max_inflight: int = 1000) -> None:
        self.host, self.port, self.max_inflight = host, port, max_inflight
        self.acl = BrokerAcl(credentials_dir)
        self.state_dir = Path(state_dir)
        self.tls: ssl.SSLContext | None = None
        if certfile:
            self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
        self.sessions: dict[str, Session] = {}
        self.store: BrokerStore | None = None
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[_Conn] = set()
        self._incoming: list[tuple[w.Publish, bytes | None, _Conn | None]] = []
        self._done: list[int] = []
        self._flush_scheduled = False
        self._routes: dict[str, list[tuple[Session, int]]] = {}
        self._next_row = 1
        self._mem_ids = itertools.count(-1, -1)

    async def start(self) -> None:
        """Load the durable sessions and listen. Raises OSError (port), sqlite3.Error (state file)."""
        self.store = BrokerStore(self.state_dir / "broker.db")
        sessions, queued = self.store.load()
        self._next_row = self.store.next_id()
        for cid, (user, subs) in sessions.items():
            s = Session(cid, user, True, subs, self.max_inflight)
            for row, topic, payload, qos in queued.get(cid, []):
                s.enqueue(row, topic.encode(), payload, qos)
            self.sessions[cid] = s
        self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self.tls,
                                                  limit=MAX_PACKET)

    async def stop(self) -> None:
        """Stop listening, close every connection, write what is pending, close the store."""
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            conn.writer.transport.abort()
        await asyncio.sleep(0)
        self._flush()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self.store is not None:
            self.store.close()
            self.store = None

    # ---- connections --------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(writer)
        self._conns.add(conn)
        buf = bytearray()
        keepalive: float | None = 10.0                        # the CONNECT must come within 10 s
        try:
            while True:
                async with asyncio.timeout(keepalive):
                    data = await reader.read(65536)
                if not data:
                    break
                buf += data
                if conn.session is None and buf[0] >> 4 != w.CONNECT:
                    raise MqttProtocolError("first packet is not CONNECT")
                for ptype, flags, body in w.split_packets(buf, MAX_PACKET):
                    if conn.session is None:
                        if ptype != w.CONNECT:
                            raise MqttProtocolError("first packet is not CONNECT")
                        keepalive = await self._connect(conn, w.decode_connect(body))
                        if keepalive is None:
                            return
                        keepalive = keepalive * 1.5 if keepalive else None
                    elif not self._packet(conn, ptype, flags, body):
                        return
        except (MqttProtocolError, TimeoutError, ConnectionError, ssl.SSLError, OSError) as exc:
            log.info("closing %s: %s", conn.session.client_id if conn.session else "a connection",
                     type(exc).__name__ if not isinstance(exc, MqttProtocolError) else exc)
        finally:
            self._closed(conn)

    def _closed(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        s = conn.session
        if s is not None and s.write is not None and self.sessions.get(s.client_id) is s:
            s.detach()
            if not s.durable:
                del self.sessions[s.client_id]
                self._routes.clear()
        if s is not None and conn.will is not None and not conn.graceful:
            self._route(conn.will, None, None, s.username)
        conn.writer.transport.abort()

    async def _connect(self, conn: _Conn, c: w.Connect) -> int | None:
        """CONNECT -> CONNACK; the keepalive, or None when refused."""
        def refuse(code: int) -> None:
            conn.writer.write(w.encode_connack(False, code))
        if c.level not in (3, 4):
            refuse(1)
            return None
        if not c.client_id and not c.clean_session:
            refuse(2)
            return None
        self.acl.refresh()
        ok = await asyncio.get_running_loop().run_in_executor(None, self.acl.authenticate, c.username, c.password)
        if not ok:
            refuse(5 if c.username else 4)
            return None
        user, cid = c.username or "", c.client_id or f"auto-{secrets.token_hex(8)}"
        old = self.sessions.get(cid)
        if old is not None and old.username != user:
            refuse(2)                                   # a client id is bound to the account that made it
            log.warning("client id %s refused to account %s (bound to another account)", cid, user)
            return None
        if old is not None and old.write is not None:   # take-over: close the previous connection
            for other in list(self._conns):
                if other.session is old and other is not conn:
                    old.detach()
                    other.session = None                # its close must not touch the session any more
                    other.writer.transport.abort()
        present = old is not None and old.durable and not c.clean_session
        if not present:
            if old is not None and old.durable:
                assert self.store is not None
                self.store.drop_session(cid)
            old = Session(cid, user, not c.clean_session, None, self.max_inflight)
            self.sessions[cid] = old
            if old.durable:
                assert self.store is not None
                self.store.save_session(cid, user, {})
            self._routes.clear()
        conn.session, conn.will = old, c.will
        conn.writer.write(w.encode_connack(present, 0))
        old.attach(conn.writer.write)
        return c.keepalive

    def _packet(self, conn: _Conn, ptype: int, flags: int, body: bytes) -> bool:
        """Handle one packet of a connected client; False to close the connection."""
        s = conn.session
        assert s is not None
        if ptype == w.PUBLISH:
            self._publish(conn, w.decode_publish(flags, body))
        elif ptype == w.PUBACK:
            row = s.acknowledged(w.decode_packet_id(body))
            if row is not None and row > 0:
                self._done.append(row)
                self._schedule()
            s.pump()
        elif ptype == w.PUBREL:
            pid = w.decode_packet_id(body)
            conn.qos2_in.discard(pid)
            conn.writer.write(w.encode_ack(w.PUBCOMP, pid))
        elif ptype == w.SUBSCRIBE:
            self._subscribe(conn, s, *w.decode_subscribe(body))
        elif ptype == w.UNSUBSCRIBE:
            pid, filters = w.decode_unsubscribe(body)
            for flt in filters:
                s.subscriptions.pop(flt, None)
            self._save(s)
            conn.writer.write(w.encode_ack(w.UNSUBACK, pid))
        elif ptype == w.PINGREQ:
            conn.writer.write(w.PINGRESP)
        elif ptype == w.DISCONNECT:
            conn.graceful = True
            return False
        else:
            raise MqttProtocolError(f"unexpected packet type {ptype}")
        return True

    def _subscribe(self, conn: _Conn, s: Session, pid: int, topics: list[tuple[str, int]]) -> None:
        self.acl.refresh()
        codes = []
        for flt, qos in topics:
            if w.valid_filter(flt) and self.acl.may_subscribe(s.username, flt):
                s.subscriptions[flt] = min(qos, 1)
                codes.append(min(qos, 1))
            else:
                log.info("subscription of %s to %s refused", s.client_id, flt[:160])
                codes.append(0x80)
        self._save(s)
        conn.writer.write(w.encode_suback(pid, codes))

    def _save(self, s: Session) -> None:
        self._routes.clear()
        if s.durable:
            assert self.store is not None
            self.store.save_session(s.client_id, s.username, s.subscriptions)

    # ---- routing ----------------------------------------------------------------------------------
    def _publish(self, conn: _Conn, p: w.Publish) -> None:
        s = conn.session
        assert s is not None
        if p.qos == 2 and p.packet_id in conn.qos2_in:
            conn.writer.write(w.encode_ack(w.PUBREC, p.packet_id))   # a resent QoS 2 message: already routed
            return
        ack = None
        if p.qos:
            ack = w.encode_ack(w.PUBACK if p.qos == 1 else w.PUBREC, p.packet_id or 0)
            if p.qos == 2:
                conn.qos2_in.add(p.packet_id or 0)
        if p.topic not in conn.allowed_topic:
            if len(p.payload) > MAX_PAYLOAD or not self.acl.may_publish(s.username, p.topic):
                log.info("publish of %s to %s dropped (not allowed or over %d bytes)", s.client_id, p.topic[:160],
                         MAX_PAYLOAD)
                if ack:
                    conn.writer.write(ack)              # MQTT 3.1.1 has no negative PUBACK (as Mosquitto)
                return
            conn.allowed_topic.add(p.topic)
        elif len(p.payload) > MAX_PAYLOAD:
            if ack:
                conn.writer.write(ack)
            return
        self._incoming.append((p, ack, conn))
        self._schedule()

    def _route(self, p: w.Publish, ack: bytes | None, conn: _Conn | None, username: str) -> None:
        if username and not self.acl.may_publish(username, p.topic):
            return
        self._incoming.append((p, ack, conn))
        self._schedule()

    def _schedule(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _targets(self, topic: str) -> list[tuple[Session, int]]:
        routes = self._routes.get(topic)
        if routes is None:
            routes = []
            for s in self.sessions.values():
                qos = s.matching_qos(topic, w.topic_matches)
                if qos is not None and self.acl.may_receive(s.username, topic):
                    routes.append((s, qos))
            if len(self._routes) > 100_000:
                self._routes.clear()
            self._routes[topic] = routes
        return routes

    def _flush(self) -> None:
        """Route everything received since the last pass in one transaction, then acknowledge it."""
        self._flush_scheduled = False
        incoming, self._incoming = self._incoming, []
        done, self._done = self._done, []
        if not incoming and not done:
            return
        rows: list[tuple[int, str, str, bytes, int]] = []
        deliveries: list[tuple[Session, int, bytes, bytes, int]] = []
        for p, _ack, _conn in incoming:
            topic_b = p.topic.encode()
            for s, sub_qos in self._targets(p.topic):
                qos = min(p.qos, sub_qos, 1)
                if s.durable and qos == 1:
                    row = self._next_row
                    self._next_row += 1
                    rows.append((row, s.client_id, p.topic, p.payload, 1))
                elif s.connected:
                    row = next(self._mem_ids)
                else:
                    continue                               # QoS 0 for an offline session: dropped
                deliveries.append((s, row, topic_b, p.payload, qos))
        try:
            assert self.store is not None
            self.store.commit(rows, done)
        except (sqlite3.Error, AssertionError) as exc:
            log.error("broker store write failed (%s): %d messages not acknowledged", type(exc).__name__,
                      len(incoming))
            for _p, _ack, conn in incoming:
                if conn is not None:
                    conn.writer.transport.abort()         # the publishers resend: nothing was acknowledged
            return
        touched: dict[int, Session] = {}
        for s, row, topic_b, payload, qos in deliveries:
            s.enqueue(row, topic_b, payload, qos)
            touched[id(s)] = s
        for s in touched.values():
            s.pump()
        acks: dict[int, tuple[_Conn, list[bytes]]] = {}
        for _p, ack, conn in incoming:
            if ack is not None and conn is not None:
                acks.setdefault(id(conn), (conn, []))[1].append(ack)
        for conn, parts in acks.values():
            if not conn.writer.transport.is_closing():
                conn.writer.write(b"".join(parts))

    def stats(self) -> dict[str, Any]:
        """Sessions and queued messages (for tests and logs)."""
        return {cid: {"durable": s.durable, "connected": s.connected, "queued": len(s.pending)}
                for cid, s in sorted(self.sessions.items())}
