"""MQTT 3.1.1 packets as the embedded broker reads and writes them (OASIS MQTT 3.1.1, section 2-3).

Only what a broker needs: :func:`split_packets` cuts complete packets off a receive buffer, the
``decode_*`` functions read the client's packets, the ``encode_*`` ones build the broker's answers.
Every decoding problem raises :class:`~.errors.MqttProtocolError` (the broker then closes the connection).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import MqttProtocolError as ProtocolViolation

__all__ = ["Connect", "Publish", "split_packets", "decode_connect", "decode_publish",
           "decode_subscribe", "decode_unsubscribe", "decode_packet_id", "encode_connack", "encode_publish",
           "encode_ack", "encode_suback", "encode_remaining", "PINGRESP", "topic_matches", "valid_filter",
           "valid_topic",
           "CONNECT", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE", "UNSUBSCRIBE",
           "PINGREQ", "DISCONNECT"]

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP_TYPE, DISCONNECT = 8, 9, 10, 11, 12, 13, 14
PINGRESP = bytes([PINGRESP_TYPE << 4, 0])


@dataclass(frozen=True)
class Connect:
    client_id: str
    clean_session: bool
    keepalive: int
    username: str | None
    password: str | None
    will: "Publish | None"
    level: int


@dataclass(frozen=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None


def split_packets(buf: bytearray, max_size: int) -> list[tuple[int, int, bytes]]:
    """Remove every complete packet from ``buf``; ``(type, flags, body)`` each.

    Raises:
        ProtocolViolation: a remaining length longer than 4 bytes or than ``max_size``.
    """
    out: list[tuple[int, int, bytes]] = []
    pos, end = 0, len(buf)
    while end - pos >= 2:
        length, mult, i, complete = 0, 1, pos + 1, False
        for _ in range(4):
            if i >= end:
                break
            byte = buf[i]
            i += 1
            length += (byte & 0x7F) * mult
            mult *= 128
            if not byte & 0x80:
                complete = True
                break
        else:
            raise ProtocolViolation("remaining length is longer than 4 bytes")
        if not complete:
            break                                   # the length itself is incomplete
        if length > max_size:
            raise ProtocolViolation(f"packet of {length} bytes exceeds the {max_size}-byte limit")
        if end - i < length:
            break
        out.append((buf[pos] >> 4, buf[pos] & 0x0F, bytes(buf[i:i + length])))
        pos = i + length
    if pos:
        del buf[:pos]
    return out


def _string(body: bytes, pos: int) -> tuple[str, int]:
    if pos + 2 > len(body):
        raise ProtocolViolation("truncated string")
    (n,) = struct.unpack_from("!H", body, pos)
    if pos + 2 + n > len(body):
        raise ProtocolViolation("truncated string")
    try:
        return body[pos + 2:pos + 2 + n].decode("utf-8"), pos + 2 + n
    except UnicodeDecodeError as exc:
        raise ProtocolViolation("string is not UTF-8") from exc


def _binary(body: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 2 > len(body):
        raise ProtocolViolation("truncated field")
    (n,) = struct.unpack_from("!H", body, pos)
    if pos + 2 + n > len(body):
        raise ProtocolViolation("truncated field")
    return body[pos + 2:pos + 2 + n], pos + 2 + n


def decode_connect(body: bytes) -> Connect:
    """Raises ProtocolViolation: malformed CONNECT (unsupported protocol levels are ``level`` != 3/4)."""
    name, pos = _string(body, 0)
    if name not in ("MQTT", "MQIsdp") or pos + 4 > len(body):
        raise ProtocolViolation("not an MQTT CONNECT")
    level, flags = body[pos], body[pos + 1]
    (keepalive,) = struct.unpack_from("!H", body, pos + 2)
    pos += 4
    if flags & 0x01:
        raise ProtocolViolation("reserved connect flag set")
    client_id, pos = _string(body, pos)
    will = None
    if flags & 0x04:
        topic, pos = _string(body, pos)
        message, pos = _binary(body, pos)
        will = Publish(topic, message, (flags >> 3) & 0x03, bool(flags & 0x20))
    username = password = None
    if flags & 0x80:
        username, pos = _string(body, pos)
    if flags & 0x40:
        raw, pos = _binary(body, pos)
        password = raw.decode("utf-8", "replace")
    return Connect(client_id, bool(flags & 0x02), keepalive, username, password, will, level)


def decode_publish(flags: int, body: bytes) -> Publish:
    """Raises ProtocolViolation: bad QoS, topic or packet id."""
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise ProtocolViolation("PUBLISH with QoS 3")
    topic, pos = _string(body, 0)
    packet_id = None
    if qos:
        if pos + 2 > len(body):
            raise ProtocolViolation("PUBLISH without packet id")
        (packet_id,) = struct.unpack_from("!H", body, pos)
        pos += 2
        if packet_id == 0:
            raise ProtocolViolation("packet id 0")
    if not valid_topic(topic):
        raise ProtocolViolation("invalid topic name")
    return Publish(topic, body[pos:], qos, bool(flags & 0x01), bool(flags & 0x08), packet_id)


def decode_packet_id(body: bytes) -> int:
    """The packet id of PUBACK/PUBREC/PUBREL/PUBCOMP. Raises ProtocolViolation: wrong length."""
    if len(body) != 2:
        raise ProtocolViolation("acknowledgement of the wrong length")
    return int(struct.unpack("!H", body)[0])


def decode_subscribe(body: bytes) -> tuple[int, list[tuple[str, int]]]:
    """Raises ProtocolViolation: no topic filters or a bad requested QoS."""
    if len(body) < 2:
        raise ProtocolViolation("SUBSCRIBE without packet id")
    (packet_id,) = struct.unpack_from("!H", body, 0)
    pos, topics = 2, []
    while pos < len(body):
        topic, pos = _string(body, pos)
        if pos >= len(body) or body[pos] > 2:
            raise ProtocolViolation("bad requested QoS")
        topics.append((topic, body[pos]))
        pos += 1
    if not topics:
        raise ProtocolViolation("SUBSCRIBE without topic filters")
    return packet_id, topics


def decode_unsubscribe(body: bytes) -> tuple[int, list[str]]:
    """Raises ProtocolViolation: no topic filters."""
    if len(body) < 2:
        raise ProtocolViolation("UNSUBSCRIBE without packet id")
    (packet_id,) = struct.unpack_from("!H", body, 0)
    pos, topics = 2, []
    while pos < len(body):
        topic, pos = _string(body, pos)
        topics.append(topic)
    if not topics:
        raise ProtocolViolation("UNSUBSCRIBE without topic filters")
    return packet_id, topics


def encode_remaining(n: int) -> bytes:
    """The remaining-length field of ``n`` bytes."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def encode_connack(session_present: bool, code: int) -> bytes:
    return bytes([CONNACK << 4, 2, 1 if session_present and code == 0 else 0, code])


def encode_publish(topic: bytes, payload: bytes, qos: int, packet_id: int | None, dup: bool = False) -> bytes:
    """``topic`` already UTF-8 encoded."""
    head = struct.pack("!H", len(topic)) + topic + (struct.pack("!H", packet_id) if qos else b"")
    flags = (PUBLISH << 4) | (qos << 1) | (0x08 if dup and qos else 0)
    return bytes([flags]) + encode_remaining(len(head) + len(payload)) + head + payload


def encode_ack(kind: int, packet_id: int) -> bytes:
    """PUBACK, PUBREC, PUBCOMP or UNSUBACK of ``packet_id``."""
    return bytes([kind << 4 | (0x02 if kind == PUBREL else 0), 2]) + struct.pack("!H", packet_id)


def encode_suback(packet_id: int, codes: list[int]) -> bytes:
    return bytes([SUBACK << 4]) + encode_remaining(2 + len(codes)) + struct.pack("!H", packet_id) + bytes(codes)


def valid_topic(topic: str) -> bool:
    """A topic name a client may publish to (no wildcards, not empty, no NUL)."""
    return bool(topic) and "+" not in topic and "#" not in topic and "\x00" not in topic


def valid_filter(topic_filter: str) -> bool:
    """A well-formed subscription filter ('+' a whole level, '#' only as the whole last level)."""
    if not topic_filter or "\x00" in topic_filter:
        return False
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def topic_matches(topic_filter: str, topic: str) -> bool:
    """True if ``topic`` matches ``topic_filter`` (wildcards never match a leading '$' level)."""
    if topic_filter == topic:
        return True
    f_levels, t_levels = topic_filter.split("/"), topic.split("/")
    if topic.startswith("$") and f_levels[0] in ("+", "#"):
        return False
    for i, level in enumerate(f_levels):
        if level == "#":
            return True
        if i >= len(t_levels) or (level != "+" and level != t_levels[i]):
            return False
    return len(f_levels) == len(t_levels)
