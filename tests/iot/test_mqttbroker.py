"""The embedded broker's wire codec and its refusals: packets cut from a byte stream, topic filters,
a client id bound to the account that created its session, ACL on subscribe and publish, a non-MQTT
client disconnected, QoS 1 held until PUBACK across a reconnect (same packet id, DUP set)."""

from __future__ import annotations

import socket
import time

import pytest

from qcchain_iot import mqttwire as w
from qcchain_iot.consumer import BrokerAddress
from qcchain_iot.embedded import EmbeddedBroker
from qcchain_iot.errors import BrokerError, MqttProtocolError
from qcchain_iot.mosquitto import free_port
from qcchain_iot.mqttclient import LeanClient
from qcchain_iot.topics import SUBSCRIPTION, telemetry_topic


def test_split_packets_keeps_partial_input_and_refuses_oversize() -> None:
    one = w.encode_publish(b"a/b", b"x" * 200, 1, 7)                    # a 2-byte remaining length
    buf = bytearray(one + one[:5])
    got = w.split_packets(buf, 1024)
    assert [(t, w.decode_publish(f, b).packet_id) for t, f, b in got] == [(w.PUBLISH, 7)] and buf == one[:5]
    buf += one[5:]
    assert len(w.split_packets(buf, 1024)) == 1 and buf == bytearray()
    with pytest.raises(MqttProtocolError, match="exceeds"):
        w.split_packets(bytearray(one), 100)
    with pytest.raises(MqttProtocolError, match="longer than 4 bytes"):
        w.split_packets(bytearray(b"\x30\xff\xff\xff\xff\x01"), 1 << 30)


def test_topic_filters() -> None:
    assert w.topic_matches(SUBSCRIPTION, "qcchain/U/devices/d1/telemetry")
    assert not w.topic_matches(SUBSCRIPTION, "qcchain/U/devices/d1/telemetry/x")
    assert w.topic_matches("qcchain/#", "qcchain/U/notifications") and not w.topic_matches("#", "$SYS/x")
    assert w.valid_filter("a/+/#") and not w.valid_filter("a/b#") and not w.valid_filter("a/#/b")
    assert not w.valid_topic("a/+") and w.valid_topic("a/b")


@pytest.fixture()
def broker(tmp_path, creds):
    port = free_port()
    with EmbeddedBroker(port, tmp_path / "cred", state_dir=tmp_path / "state") as b:
        yield b, BrokerAddress("127.0.0.1", port)


def test_refusals(broker, creds) -> None:
    b, addr = broker
    cpw = creds.issue("consumer1", "Regulator", kind="consumer")
    dpw = creds.issue("pv1", "UsingUnit", device_type="pressure_vessel")
    c = LeanClient(addr, "shared-id", "consumer1", cpw, clean_session=False)
    c.connect()
    c.close()
    with pytest.raises(BrokerError, match="identifier rejected"):      # another account takes the session id
        LeanClient(addr, "shared-id", "pv1", dpw, clean_session=False).connect()
    with pytest.raises(BrokerError, match="not authorized"):
        LeanClient(addr, "x", "pv1", "wrong", clean_session=True).connect()
    dev = LeanClient(addr, "pv1", "pv1", dpw, clean_session=True)
    dev.connect()
    with pytest.raises(BrokerError, match="refused the subscription"):   # a device may not read telemetry
        dev.subscribe(SUBSCRIPTION)
    with socket.create_connection(("127.0.0.1", addr.port), timeout=5) as raw:   # not MQTT: closed
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert raw.recv(100) == b""


def test_qos1_held_until_puback_across_reconnect(broker, creds) -> None:
    b, addr = broker
    cpw = creds.issue("consumer1", "Regulator", kind="consumer")
    dpw = creds.issue("pv1", "UsingUnit", device_type="pressure_vessel")
    creds.issue("pv2", "UsingUnit", device_type="pressure_vessel")
    c = LeanClient(addr, "cons", "consumer1", cpw, clean_session=False)
    c.connect()
    c.subscribe(SUBSCRIPTION)
    dev = LeanClient(addr, "pv1", "pv1", dpw, clean_session=True)
    dev.connect()
    pids = dev.publish([(telemetry_topic("UsingUnit", "pv1"), b"r%d" % i) for i in range(3)]
                       + [(telemetry_topic("UsingUnit", "pv2"), b"forged")])   # not pv1's topic: dropped
    deadline = time.monotonic() + 5
    while not dev.acked.issuperset(pids) and time.monotonic() < deadline:
        dev.wait_acks(0.2)
    assert dev.acked.issuperset(pids)                                   # MQTT 3.1.1: a drop is acknowledged too
    got = c.poll(10, 5.0)
    assert [p for _, p, _, _ in got] == [b"r0", b"r1", b"r2"]
    c.ack([got[0][3]])
    time.sleep(0.2)
    c.close()                                                           # r1, r2 not acknowledged
    c.connect()
    again = c.poll(10, 5.0)                                             # resent with their packet ids
    assert [(p, pid) for _, p, _, pid in again] == [(b"r1", got[1][3]), (b"r2", got[2][3])]
    c.close()
    b.stop()
    b.start()                                                           # and after a broker restart too
    c.connect()
    third = c.poll(10, 5.0)
    assert [p for _, p, _, _ in third] == [b"r1", b"r2"]
    c.ack([pid for *_, pid in third])
    time.sleep(0.2)
    assert b.broker is not None and b.broker.stats()["cons"]["queued"] == 0
    c.close()
    b.stop()
    b.start()
    c.connect()
    assert c.poll(10, 0.5) == []                                        # acknowledged: gone for good
    c.close()
