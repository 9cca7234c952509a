"""Supervision: a chaincode server that dies is restarted with backoff, each restart in the operations log;
the devnet supervises its servers (killed with SIGKILL, then a transaction through the Gateway succeeds)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from ccproc import HERE, connect, free_port

from qcchain_devnet.daemon import UpOptions, run_foreground
from qcchain_gateway.profile import connect_profile
from qcchain_shim.supervise import Backoff, Supervisor, main


def _wait(cond, timeout: float = 20.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _oplog(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_backoff_grows_and_is_capped() -> None:
    b = Backoff(initial=0.5, factor=2, maximum=3)
    assert [b.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3, 3]


def test_quick_failures_back_off_and_every_restart_is_logged(tmp_path: Path) -> None:
    ops = tmp_path / "operations.log"
    sup = Supervisor("crasher", [sys.executable, "-c", "raise SystemExit(7)"], operations_log=ops,
                     backoff=Backoff(initial=0.05, factor=2, maximum=0.2))
    sup.start()
    deadline = time.monotonic() + 10
    while sup.restarts < 3 and time.monotonic() < deadline:
        sup.check()
        time.sleep(0.01)
    sup.stop()
    assert sup.restarts == 3
    entries = _oplog(ops)
    scheduled = [e for e in entries if e["op"] == "restart-scheduled"]
    assert [e["backoff_s"] for e in scheduled[:3]] == [0.05, 0.1, 0.2]
    assert all(e["exit"] == 7 and e["kind"] == "chaincode" and e["node"] == "crasher" for e in scheduled)
    assert len([e for e in entries if e["op"] == "restart"]) == 3


def test_killed_server_is_restarted_and_serves_again(tmp_path: Path) -> None:
    port = free_port()
    env = {"CHAINCODE_ID": "load:0", "CHAINCODE_SERVER_ADDRESS": f"127.0.0.1:{port}",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    ops = tmp_path / "operations.log"
    sup = Supervisor("chaincode-load", [sys.executable, "-m", "loadcc"], env=env, operations_log=ops,
                     log_file=tmp_path / "cc.log", backoff=Backoff(initial=0.1))
    stop = threading.Event()
    runner = threading.Thread(target=sup.run, args=(stop, 0.05), daemon=True)
    runner.start()
    try:
        _wait(lambda: sup.pid is not None)
        peer = connect(port, sup.proc)
        assert peer.submit(["load:put", "k", "1"]).ok
        peer.close()
        first = sup.pid
        os.kill(first, signal.SIGKILL)
        _wait(lambda: sup.restarts == 1 and sup.pid is not None)
        assert sup.pid != first
        peer = connect(port, sup.proc)
        assert peer.submit(["load:put", "k", "2"]).ok
        peer.close()
    finally:
        stop.set()
        runner.join(15)
    restart = [e for e in _oplog(ops) if e["op"] == "restart"]
    assert len(restart) == 1 and restart[0]["previous_exit"] == -signal.SIGKILL


def test_cli_refuses_a_missing_program(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--name", "x", "--"])
    assert info.value.code == 2 and "no program given" in capsys.readouterr().err


def test_devnet_restarts_its_killed_chaincode_server(tmp_path: Path) -> None:
    state = tmp_path / "devnet"
    lines: list[str] = []
    stop = threading.Event()
    options = UpOptions(state_dir=state, port=0, chaincode_module="qcchain_bench.example")
    thread = threading.Thread(target=run_foreground, args=(options, lines.append, stop), daemon=True)
    thread.start()
    try:
        _wait(lambda: any(line.startswith("ready") for line in lines), 60)
        profile = state / "connection-profiles" / "connection-inspection.json"
        with connect_profile(profile, user="User1") as gateway:
            contract = gateway.get_network("qcchannel").get_contract("qcchain")
            contract.submit_transaction("put", "sup", "before")
            pids = [int(p) for p in _server_pids(state)]
            assert pids
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            _wait(lambda: any("restarted" in line for line in lines), 30)
            deadline = time.monotonic() + 20
            while True:  # the devnet core re-dials the restarted server at the next transaction
                try:
                    contract.submit_transaction("put", "sup", "after")
                    break
                except Exception:  # noqa: BLE001 - the server may still be starting
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            assert contract.evaluate_transaction("get", "sup") == b"after"
    finally:
        stop.set()
        thread.join(30)
    restarts = [e for e in _oplog(state / "operations.log") if e["op"] == "restart"]
    assert restarts and restarts[0]["node"].startswith("chaincode-") and restarts[0]["previous_exit"] == -9


def _server_pids(state: Path) -> list[str]:
    """PIDs of this devnet's chaincode servers (children of this process running qcchain_bench.example)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except OSError:
            continue
        if int(ppid) == os.getpid() and b"qcchain_bench.example" in cmd:
            pids.append(entry.name)
    return pids
