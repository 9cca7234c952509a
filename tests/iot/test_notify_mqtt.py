"""Warning notifications on an MQTT topic per org (issue 15), against the embedded broker and Mosquitto:
the org's ``qcchain.warning`` events from a devnet published with QoS 1 on ``qcchain/<org>/notifications``
by the org's notifier account, at least once with the SDK's FileCheckpointer: a broker that is down refuses
the delivery (nothing checkpointed), after its restart the rest arrives at the org's listener (persistent
session) and a restart from an older checkpoint sends nothing twice. Another org can neither read the
topic nor be written to by this org's notifier."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from brokerkit import make_broker

from qcchain_bench.iotchain import iot_chain
from qcchain_gateway.checkpoint import FileCheckpointer
from qcchain_gateway.profile import connect_profile
from qcchain_iot.chain import WarningRelay
from qcchain_iot.consumer import BrokerAddress, make_client
from qcchain_iot.credentials import CredentialStore
from qcchain_iot.errors import NotifyError
from qcchain_iot.mosquitto import free_port
from qcchain_iot.notify import MqttSink, Notifier
from qcchain_iot.pipeline import Message, Pipeline
from qcchain_iot.reading import encode_reading
from qcchain_iot.store import open_store, sqlite_url
from qcchain_iot.tlsfiles import write_broker_tls
from qcchain_iot.topics import notification_topic, telemetry_topic

DEVICE = "PV-NOTE-M1"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, policy: Any) -> Iterator[tuple[Any, list[str]]]:
    """A devnet with the device's band warnings raised on chain; the expected ``warning_id:raised`` keys."""
    tmp = tmp_path_factory.mktemp("notify-mqtt")
    engine = open_store(sqlite_url(str(tmp / "iot.db")))
    with iot_chain(tmp / "devnet", [DEVICE]) as net:
        now = int(time.time() * 1000)
        found = Pipeline(engine, policy, {DEVICE: "pressure_vessel"}).process(
            [Message(telemetry_topic("UsingUnit", DEVICE),
                     encode_reading(i, now - (60 - i) * 15_000, "pressure", round(1.20 + i * 0.01, 2), "MPa"), now)
             for i in range(48)]).alerts
        WarningRelay(engine, net.warnings("UsingUnit"), net.msp("UsingUnit")).relay(batch=1)  # an event each
        yield net, [f"{a.warning_id}:raised" for a in found]
    engine.dispose()


class _Listener:
    """A persistent-session QoS 1 subscriber collecting notification keys."""

    def __init__(self, addr: BrokerAddress, user: str, password: str, topic: str) -> None:
        self.keys: list[str] = []
        self.granted: list[int] = []
        self.subscribed = threading.Event()
        self.client = make_client(addr, f"listen-{user}", user, password, clean_session=False)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda c, u, mid, codes, p: (self.granted.extend(int(x.value) for x in codes),
                                                                self.subscribed.set())
        self.client.on_message = lambda c, u, m: self.keys.append(json.loads(m.payload)["key"])
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect(addr.host, addr.port, keepalive=30)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _wait(pred: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(pred())


@pytest.mark.parametrize("kind", ["embedded", "mosquitto"])
def test_mqtt_notifications_at_least_once(kind: str, tmp_path: Path, chain: tuple[Any, list[str]]) -> None:
    net, expected = chain
    creds = CredentialStore(tmp_path / "cred")
    npw = creds.issue("notify-uu", "UsingUnit", kind="notifier")
    lpw = creds.issue("listen-uu", "UsingUnit", kind="listener")
    rpw = creds.issue("listen-reg", "Regulator", kind="listener")
    ca, cert, key = write_broker_tls(tmp_path / "tls")
    port = free_port()
    broker = make_broker(kind, tmp_path, port, cert, key)
    broker.start()
    addr = BrokerAddress("127.0.0.1", port, str(ca))
    gateway = connect_profile(net.profiles["UsingUnit"], user="Admin")
    network = gateway.get_network("qcchannel")
    cp_file, log_file = tmp_path / "notify.cp.json", tmp_path / "notify.delivered"
    topic = notification_topic("UsingUnit")

    def run(max_events: int | None = None, to: str = topic) -> int:
        sink = MqttSink(addr, to, "notify-uu", npw, timeout=3)
        notifier = Notifier(net.msp("UsingUnit"), "using_unit", [sink], FileCheckpointer(cp_file), log_file)
        try:
            with network.get_chaincode_events("qcchain", start_block=0, checkpoint=notifier.checkpointer,
                                              timeout=2) as events:
                return notifier.run(events, max_events)
        finally:
            sink.close()

    listener = _Listener(addr, "listen-uu", lpw, topic)
    other = _Listener(addr, "listen-reg", rpw, topic)                 # another org's account: refused
    own = _Listener(addr, "listen-reg", rpw, notification_topic("Regulator"))
    try:
        assert other.granted == [128] or kind == "mosquitto"             # Mosquitto may grant and never deliver
        assert run(max_events=2) == 2
        assert _wait(lambda: len(listener.keys) == 2)
        broker.stop()
        with pytest.raises(NotifyError):
            run()                                                         # broker down: not checkpointed
        broker.start()
        shutil.copy(cp_file, tmp_path / "older.cp.json")
        assert run() == len(expected) - 2                                 # the rest, nothing twice
        assert _wait(lambda: len(listener.keys) >= len(expected))
        shutil.copy(tmp_path / "older.cp.json", cp_file)
        assert run() == 0                                                 # re-read events, all deduplicated
        log_file.unlink()                                                 # lost delivered log: at least once
        cp_file.unlink()
        assert run(to=notification_topic("Regulator")) == len(expected)   # a topic this notifier may not write
        time.sleep(1.0)
    finally:
        for client in (listener, other, own):
            client.close()
        gateway.close()
        broker.stop()
    assert sorted(listener.keys) == sorted(expected) and len(set(listener.keys)) == len(listener.keys)
    assert other.keys == [] and own.keys == []
