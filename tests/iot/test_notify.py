"""Warning notifications on the devnet: the org's ``qcchain.warning`` events delivered to a webhook at least
once with the SDK's FileCheckpointer; a refused delivery and a restart from an older checkpoint neither
lose nor duplicate a (warning, step)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from qcchain_bench.iotchain import iot_chain
from qcchain_gateway.checkpoint import FileCheckpointer
from qcchain_gateway.profile import connect_profile
from qcchain_iot.chain import WarningRelay
from qcchain_iot.errors import NotifyError
from qcchain_iot.notify import Notifier, WebhookSink, notifications
from qcchain_iot.pipeline import Message, Pipeline
from qcchain_iot.policy import WarningsPolicy
from qcchain_iot.reading import encode_reading
from qcchain_iot.store import open_store, sqlite_url
from qcchain_iot.topics import telemetry_topic

DEVICE = "PV-NOTE-P1"


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    fail_next = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Hook.fail_next:
            _Hook.fail_next -= 1
            self.send_response(503)
        else:
            _Hook.received.append(body)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def hook() -> Any:
    _Hook.received, _Hook.fail_next = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_filter_by_org_and_role() -> None:
    payload = json.dumps({"kind": "escalated", "notify_roles": ["regulator"], "warnings": [
        {"warning_id": "a" * 64, "colour": "red", "responsible_msp": "UsingUnitMSP"}]}).encode()
    assert [n["key"] for n in notifications(payload, "UsingUnitMSP", "using_unit", 5, "t")] == ["a" * 64 + ":escalated:red"]
    assert len(notifications(payload, "RegulatorMSP", "regulator", 5, "t")) == 1
    assert notifications(payload, "InspectionMSP", "inspection_body", 5, "t") == []


def test_a_batch_event_addresses_each_warning_by_its_own_roles() -> None:
    payload = json.dumps({"kind": "raised", "notify_roles": ["regulator"], "warnings": [
        {"warning_id": "a" * 64, "colour": "red", "responsible_msp": "UsingUnitMSP", "notify_roles": ["regulator"]},
        {"warning_id": "b" * 64, "colour": "yellow", "responsible_msp": "UsingUnitMSP", "notify_roles": []}]}).encode()
    assert [n["key"] for n in notifications(payload, "UsingUnitMSP", "using_unit", 5, "t")] == \
        ["a" * 64 + ":raised", "b" * 64 + ":raised"]
    assert [n["key"] for n in notifications(payload, "RegulatorMSP", "regulator", 5, "t")] == ["a" * 64 + ":raised"]


def test_restart_resumes_from_the_checkpoint_without_loss_or_duplicate(tmp_path: Path, policy: WarningsPolicy,
                                                                      hook: str) -> None:
    engine = open_store(sqlite_url(str(tmp_path / "iot.db")))
    with iot_chain(tmp_path / "devnet", [DEVICE]) as chain:
        now = int(time.time() * 1000)
        topic = telemetry_topic("UsingUnit", DEVICE)
        found = Pipeline(engine, policy, {DEVICE: "pressure_vessel"}).process(
            [Message(topic, encode_reading(i, now - (60 - i) * 15_000, "pressure", round(1.20 + i * 0.01, 2), "MPa"),
                     now) for i in range(48)]).alerts
        WarningRelay(engine, chain.warnings("UsingUnit"), chain.msp("UsingUnit")).relay(batch=1)  # an event each
        expected = [f"{a.warning_id}:raised" for a in found]
        gateway = connect_profile(chain.profiles["UsingUnit"], user="Admin")
        network = gateway.get_network("qcchannel")
        cp_file, log_file = tmp_path / "notify.cp.json", tmp_path / "notify.delivered"

        def run(max_events: int | None = None) -> int:
            notifier = Notifier(chain.msp("UsingUnit"), "using_unit", [WebhookSink(hook)], FileCheckpointer(cp_file),
                                log_file)
            with network.get_chaincode_events("qcchain", start_block=0, checkpoint=notifier.checkpointer,
                                              timeout=2) as events:
                return notifier.run(events, max_events)

        try:
            assert run(max_events=2) == 2                       # stops after two warning events
            _Hook.fail_next = 1                                  # the webhook refuses the next one
            with pytest.raises(NotifyError, match="HTTP 503"):
                run()
            shutil.copy(cp_file, tmp_path / "older.cp.json")
            assert run() == len(expected) - 2                    # restart: the rest, nothing twice
            shutil.copy(tmp_path / "older.cp.json", cp_file)    # crash before the checkpoint was written
            assert run() == 0                                    # re-read events, all deduplicated
            chain.warnings("UsingUnit").step("acknowledge", found[-1].warning_id)
            assert run() == 1
        finally:
            gateway.close()
        keys = [n["key"] for n in _Hook.received]
        assert sorted(keys[:-1]) == sorted(expected) and keys[-1] == f"{found[-1].warning_id}:acknowledge"
        assert len(set(keys)) == len(keys)
    engine.dispose()


def test_cli_notify_delivers_and_resumes(tmp_path: Path, hook: str) -> None:
    from click.testing import CliRunner

    from qcchain_cli.iot import iot

    with iot_chain(tmp_path / "devnet", [DEVICE]) as chain:
        reg = chain.warnings("Regulator")
        doc = {"warning_id": "e" * 64, "colour": "yellow", "source": "expiry", "subject": "personnel_certificate:TS-1",
               "rule": "personnel_certificate", "responsible_msp": chain.msp("UsingUnit"), "summary": "due in 20 days",
               "evidence": {"note": "due 2026-01-01", "digests": ["ab" * 32]}}
        reg.raise_warning(doc)
        args = ["notify", "--profile", str(chain.profiles["UsingUnit"]), "--role", "using_unit", "--webhook", hook,
                "--state", str(tmp_path / "state"), "--seconds", "2"]
        out = CliRunner().invoke(iot, args)
        assert out.exit_code == 0 and "delivered 1 notification" in out.output, out.output
        out = CliRunner().invoke(iot, args)
        assert out.exit_code == 0 and "delivered 0 notification" in out.output, out.output
        assert [n["key"] for n in _Hook.received] == ["e" * 64 + ":raised"]
        bad = CliRunner().invoke(iot, ["notify", "--profile", str(chain.profiles["UsingUnit"]), "--role", "using_unit"])
        assert bad.exit_code == 1 and "--webhook" in bad.output
