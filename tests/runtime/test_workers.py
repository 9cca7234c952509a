"""Several server processes behind one address (``CHAINCODE_WORKERS``): configuration, streams spread over
the workers, a killed worker restarted, SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from ccproc import connect, free_port, start_server
from qcchain_shim.errors import ConfigError
from qcchain_shim.server import config_from_env, server_options
from qcchain_shim.workers import WORKER_ENV, run_workers, worker_count

BASE = {"CHAINCODE_ID": "cc:1", "CHAINCODE_SERVER_ADDRESS": "127.0.0.1:7052"}


def test_worker_count_parses_auto_and_bounds() -> None:
    assert worker_count({}) == 1
    assert worker_count({"CHAINCODE_WORKERS": "3"}) == 3
    assert worker_count({"CHAINCODE_WORKERS": "auto"}, cpus=2) == 2
    for bad in ("0", "65", "two", "-1"):
        with pytest.raises(ConfigError, match="CHAINCODE_WORKERS"):
            worker_count({"CHAINCODE_WORKERS": bad})


def test_config_parent_and_worker() -> None:
    parent = config_from_env({**BASE, "CHAINCODE_WORKERS": "2"})
    assert (parent.workers, parent.reuse_port) == (2, False)
    worker = config_from_env({**BASE, "CHAINCODE_WORKERS": "2", WORKER_ENV: "1"})
    assert (worker.workers, worker.reuse_port) == (1, True)
    assert ("grpc.so_reuseport", 1) in server_options(reuse_port=True)
    assert all(name != "grpc.so_reuseport" for name, _ in server_options())
    with pytest.raises(ConfigError, match="fixed port"):
        config_from_env({**BASE, "CHAINCODE_SERVER_ADDRESS": "127.0.0.1:0", "CHAINCODE_WORKERS": "2"})


def test_run_workers_rejects_bad_count() -> None:
    with pytest.raises(ValueError, match="1..64"):
        run_workers(0, ["true"])


def _children(pid: int) -> list[int]:
    """Children of every thread of ``pid`` (a restart is started by the supervising thread)."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def _cpu_ticks(pid: int) -> int:
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def _wait_children(pid: int, count: int, timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = _children(pid)
        if len(kids) == count:
            return kids
        time.sleep(0.1)
    raise AssertionError(f"expected {count} workers, have {_children(pid)}")


def test_streams_spread_over_workers_and_a_killed_worker_is_restarted() -> None:
    port = free_port()
    proc = start_server(port, CHAINCODE_WORKERS="2")
    peers = []
    try:
        workers = _wait_children(proc.pid, 2)
        busy: set[int] = set()
        # The kernel hashes each connection to one worker: open streams until both have served some
        # (all of 16 streams landing on one worker has probability 2**-15).
        for i in range(16):
            peer = connect(port, proc)
            peers.append(peer)
            before = {w: _cpu_ticks(w) for w in workers}
            for j in range(60):
                assert peer.submit(["load:spin", "20000"], timeout=30).ok
            busy |= {w for w in workers if _cpu_ticks(w) - before[w] >= 2}
            if busy == set(workers):
                break
        assert busy == set(workers), "every stream landed on one worker"
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (workers[0] in _children(proc.pid) or len(_children(proc.pid)) < 2):
            time.sleep(0.1)
        assert len(_children(proc.pid)) == 2 and workers[0] not in _children(proc.pid)
        fresh = connect(port, proc)  # the address still serves
        peers.append(fresh)
        assert fresh.submit(["load:put", "k", "v"], timeout=30).ok
    finally:
        for peer in peers:
            peer.close()
        kids = _children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{k}").exists() for k in kids):
        time.sleep(0.1)
    assert not [k for k in kids if Path(f"/proc/{k}").exists()], "workers left running after SIGTERM"
