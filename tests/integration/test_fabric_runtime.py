"""The ten FABRIC-NOTES.md "What a correct chaincode runtime must do" items, on a real Fabric v3.1 peer.

Every test talks to real peers through the project's SDK (Fabric Gateway service); the chaincode is
served as CCaaS by ``probe_cc.py`` (``qcchain_shim``: the example ``kv`` contract plus ``probe``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from qcchain_gateway.errors import EndorseError, EvaluateError

FabricNet = Any  # the ``fabric`` fixture's object (tests/integration/conftest.py)


pytestmark = [pytest.mark.fabric, pytest.mark.slow]


def _kv(gw):  # type: ignore[no-untyped-def]
    return gw.get_network("qcchannel").get_contract("qcchain", "kv")


def _probe(gw, chaincode: str = "qcchain"):  # type: ignore[no-untyped-def]
    return gw.get_network("qcchannel").get_contract(chaincode, "probe")


def test_01_events_reach_the_ledger_and_clients(fabric: FabricNet) -> None:
    with fabric.gateway() as gw:
        submitted = _kv(gw).submit_async("put", ["evt-key", "v"])
        status = submitted.get_status()
        assert status.successful, status.code_name
        with gw.get_network("qcchannel").get_chaincode_events("qcchain", start_block=status.block_number,
                                                              timeout=20) as events:
            event = next(iter(events))
    assert (event.event_name, event.payload) == ("Put", b"evt-key")
    assert event.transaction_id == status.transaction_id and event.chaincode_name == "qcchain"
    assert event.block_number == status.block_number


def test_02_exception_gives_error_response_at_once(fabric: FabricNet) -> None:
    with fabric.gateway() as gw:
        t0 = time.monotonic()
        with pytest.raises(EvaluateError) as info:
            _probe(gw).evaluate_transaction("fail", "boom-on-purpose")
        elapsed = time.monotonic() - t0
        with pytest.raises(EndorseError):
            _probe(gw).submit_transaction("refuse", "refused-on-purpose")
        with pytest.raises(EvaluateError, match="409|refused-on-purpose"):
            _probe(gw).evaluate_transaction("refuse", "refused-on-purpose")
    assert elapsed < 5, f"error response took {elapsed:.1f}s (peer waited for a timeout?)"
    assert "500" in str(info.value) or "boom-on-purpose" in str(info.value)
    fabric.timings["error response to a raising transaction"] = elapsed


def test_03_peer_error_reply_raises_and_nothing_is_written(fabric: FabricNet) -> None:
    with fabric.gateway() as gw:
        with pytest.raises(EndorseError):
            _probe(gw).submit_transaction("page_then_write", "paged-write")
        with pytest.raises(EvaluateError, match="not found"):
            _kv(gw).evaluate_transaction("get", "paged-write")


def test_write_batch_and_multi_key_reads_on_a_v3_1_peer(fabric: FabricNet) -> None:
    """Fabric v3.1 announces write batching in READY: ``put_batch`` sends its 1200 writes as WRITE_BATCH_STATE
    messages (the peer's maximum is 1000) and ``get_many`` reads with GET_STATE_MULTIPLE; all commit."""
    with fabric.gateway() as gw:
        caps = json.loads(_probe(gw).evaluate_transaction("capabilities"))
        assert caps == {"use_write_batch": True, "max_write_batch": 1000, "use_get_multiple": True,
                        "max_get_multiple": 1000}, caps  # core.yaml chaincode.runtimeParams, sent in READY
        assert _kv(gw).submit_transaction("put_batch", "fb", "1200") == b"1200"
        keys = ["fb-0", "fb-missing", "fb-1199"]
        assert json.loads(_kv(gw).evaluate_transaction("get_many", json.dumps(keys))) == ["0", "", "1199"]
        assert _kv(gw).evaluate_transaction("get", "fb-999") == b"999"
        with pytest.raises(EndorseError, match="failed send batch"):
            _probe(gw).submit_transaction("page_then_batch", "paged-batch")
        with pytest.raises(EvaluateError, match="not found"):
            _kv(gw).evaluate_transaction("get", "paged-batch")


def test_04_two_hundred_concurrent_submits(fabric: FabricNet) -> None:
    with fabric.gateway() as gw:
        kv = _kv(gw)
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(lambda i: kv.submit_transaction("put", f"conc-{i}", str(i)), range(200)))
        elapsed = time.monotonic() - t0
        assert results == [b"created"] * 200
        assert kv.evaluate_transaction("get", "conc-199") == b"199"
    fabric.timings["200 concurrent submits (50 threads)"] = elapsed


def test_06_invoke_chaincode(fabric: FabricNet) -> None:
    with fabric.gateway() as gw:
        _kv(gw).submit_transaction("put", "c2c-key", "from-qcchain")
        callee = gw.get_network("qcchannel").get_contract("callee", "kv")
        callee.submit_transaction("put", "c2c-key", "from-callee")
        answer = json.loads(_probe(gw).evaluate_transaction("call", "callee", "kv:get", "c2c-key"))
        missing = json.loads(_probe(gw).evaluate_transaction("call", "callee", "kv:get", "no-such-key"))
    assert answer == {"status": 200, "message": "", "payload": "from-callee"}
    assert missing["status"] == 404 and "not found" in missing["message"]


def test_07_key_rules(fabric: FabricNet) -> None:
    with fabric.gateway() as gw:
        probe = _probe(gw)
        with pytest.raises(EvaluateError):
            probe.evaluate_transaction("put_raw", "")
        with pytest.raises(EvaluateError):  # simple-key range bounds must not start with \x00 (Go shim rule)
            probe.evaluate_transaction("range_raw", "\x00sneaky", "")
        probe.submit_transaction("put_composite", "asset", "a1")
        assert probe.evaluate_transaction("by_type", "asset") == b"1"
        keys = json.loads(probe.evaluate_transaction("all_keys"))
    assert "evt-key" in keys or "warmup" in keys
    assert not [k for k in keys if k.startswith("\x00")], "open range scan returned composite keys"


def test_08_transient_data_is_readable(fabric: FabricNet) -> None:
    with fabric.gateway() as gw:
        value = _probe(gw).evaluate("transient", ["secret"], transient={"secret": b"s3cr3t-transient"})
    assert value == b"s3cr3t-transient"


def test_09_get_metadata(fabric: FabricNet) -> None:
    with fabric.gateway() as gw:
        raw = gw.get_network("qcchannel").get_contract("qcchain").evaluate_transaction(
            "org.hyperledger.fabric:GetMetadata")
    meta = json.loads(raw)
    text = json.dumps(meta)
    assert "kv" in text and "probe" in text and "page_then_write" in text


def test_history_database(fabric: FabricNet) -> None:
    with fabric.gateway() as gw:
        for value in ("h1", "h2"):
            _kv(gw).submit_transaction("put", "hist-key", value)
        history = json.loads(_probe(gw).evaluate_transaction("history", "hist-key"))
    assert sorted(history) == ["h1", "h2"]


def test_sequential_submit_and_evaluate_latency(fabric: FabricNet) -> None:
    with fabric.gateway() as gw:
        kv = _kv(gw)
        t0 = time.monotonic()
        for i in range(10):
            kv.submit_transaction("put", f"seq-{i}", "v")
        submit = (time.monotonic() - t0) / 10
        t1 = time.monotonic()
        for i in range(50):
            kv.evaluate_transaction("get", f"seq-{i % 10}")
        evaluate = (time.monotonic() - t1) / 50
    fabric.timings["sequential submit, mean"] = submit
    fabric.timings["sequential evaluate, mean"] = evaluate
    assert submit < 2.0


def test_10_no_payloads_in_logs_and_no_root_logger_config(fabric: FabricNet) -> None:
    text = "\n".join(p.read_text(errors="replace") for p in fabric.chaincode_logs)
    assert text, "chaincode server logs are empty"
    for secret in ("s3cr3t-transient", "from-callee", "must-not-be-written", "conc-199"):
        assert secret not in text, f"{secret!r} appears in the chaincode server log"
    code = "import logging, qcchain_shim, qcchain_shim.server; print(len(logging.getLogger().handlers))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


IDLE = float(os.environ.get("QCCHAIN_IT_KEEPALIVE_IDLE", "200"))


def _created(text: str, address: str) -> list[str]:
    return re.findall(r'\[Channel #(\d+)\] Channel created for target "' + re.escape(address) + '"', text)


@pytest.mark.skipif(IDLE <= 0, reason="QCCHAIN_IT_KEEPALIVE_IDLE=0: keepalive idle test disabled")
def test_05_keepalive_survives_idle(fabric: FabricNet) -> None:
    """The peer pings the CCaaS server every 60 s; a server with gRPC's default ping policy sends GOAWAY
    "too_many_pings" after ~3 min idle. Across IDLE seconds and the next transaction, each peer's current
    gRPC channel to each chaincode server must never change state and no new one may be opened (read from
    the peers' gRPC INFO log lines, which the default log spec keeps)."""
    addresses = {cc: f"127.0.0.1:{port}" for cc, port in fabric.layout.chaincode_ports.items()}
    before = {p.host: p.log_file.read_text(errors="replace") for p in fabric.layout.peers}
    current = {}
    for host, text in before.items():
        for cc, address in addresses.items():
            ids = _created(text, address)
            assert ids, f"{host}'s log shows no gRPC channel to chaincode {cc} (log spec changed?)"
            current[(host, cc)] = ids[-1]
    time.sleep(IDLE)
    with fabric.gateway() as gw:
        t0 = time.monotonic()
        assert _kv(gw).submit_transaction("put", "after-idle", "v") == b"created"
        fabric.timings[f"submit after {IDLE:.0f}s idle"] = time.monotonic() - t0
    for peer in fabric.layout.peers:
        new = peer.log_file.read_text(errors="replace")[len(before[peer.host]):]
        for cc, address in addresses.items():
            assert not _created(new, address), f"{peer.host} reconnected to chaincode {cc} after idling"
            cid = current[(peer.host, cc)]
            changes = re.findall(r"\[Channel #" + cid + r"\] Channel Connectivity change to (\w+)", new)
            assert changes == [], f"{peer.host}'s connection to chaincode {cc} went {changes} while idle"
