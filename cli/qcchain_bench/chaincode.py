"""Chaincode efficiency benchmark: CPU time of the chaincode process per transaction.

Starts :mod:`qcchain_bench.example` as a CCaaS server in a subprocess, drives it through the
chaincode protocol with :class:`~qcchain_bench.peerdriver.PeerDriver` (the devnet's peer side over an
in-memory ledger; ``in_flight`` transactions outstanding at once on one stream), and reads the server's CPU time (user + system) from
``/proc/<pid>/stat`` before and after each phase, so the driver's own CPU is not counted.
Phases: ``put`` (get + put + event per transaction) and ``get`` (one read).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from qcchain_devnet.errors import ChaincodeUnavailable

from .errors import BenchError
from .peerdriver import PeerDriver, TxResult

TARGET_PUT_MS = 0.9
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``).

    Raises:
        BenchError: /proc/<pid>/stat cannot be read (not Linux, or the process is gone).
    """
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError as exc:
        raise BenchError(f"cannot read CPU time of process {pid}: {exc}") from exc
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _children(pid: int) -> list[int]:
    """Children started by any thread of ``pid``."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of process ``pid`` and its live descendants (a server with worker processes).

    Raises:
        BenchError: /proc/<pid>/stat cannot be read.
    """
    total = process_cpu_seconds(pid)
    for child in _children(pid):
        try:
            total += tree_cpu_seconds(child)
        except BenchError:
            continue  # exited meanwhile
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_window(peer: PeerDriver, make_args: Callable[[int], Sequence[str]], n: int, in_flight: int) -> None:
    slots = threading.Semaphore(in_flight)
    failures: list[TxResult | BaseException] = []
    futures: list[Future[TxResult]] = []

    def done(future: Future[TxResult]) -> None:
        slots.release()
        exc = future.exception()
        if exc is not None or not future.result().ok:
            failures.append(exc or future.result())

    for i in range(n):
        slots.acquire()
        future = peer.submit_async(make_args(i))
        future.add_done_callback(done)
        futures.append(future)
    for future in futures:
        future.exception(60)
    if failures:
        raise BenchError(f"{len(failures)} of {n} transactions failed: {failures[0]!r}")


def _phase(peers: Sequence[PeerDriver], pid: int, make_args: Callable[[int], Sequence[str]], n: int,
           in_flight: int) -> dict[str, float]:
    """``n`` transactions on each of ``peers`` at once (one thread per stream)."""
    cpu0, t0 = tree_cpu_seconds(pid), time.perf_counter()
    errors: list[BaseException] = []

    def drive(peer: PeerDriver) -> None:
        try:
            _run_window(peer, make_args, n, in_flight)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=drive, args=(p,)) for p in peers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    cpu1, t1 = tree_cpu_seconds(pid), time.perf_counter()
    total = n * len(peers)
    return {"cpu_ms_per_tx": (cpu1 - cpu0) * 1000 / total, "per_s": total / (t1 - t0)}


def run(n: int = 2000, in_flight: int = 50, workers: int = 1, streams: int = 1) -> dict[str, Any]:
    """Run the benchmark; returns figures per put transaction and per get.

    ``streams`` peers connect at once (as several endorsing peers dial one chaincode server), each driving
    ``n`` transactions with ``in_flight`` outstanding; ``workers`` > 1 runs the server with
    ``CHAINCODE_WORKERS`` (:mod:`qcchain_shim.workers`) and counts the CPU of all its processes.

    Raises:
        BenchError: the server did not start or transactions failed.
        ValueError: ``n``, ``in_flight``, ``workers`` or ``streams`` is not positive.
    """
    if n <= 0 or in_flight <= 0 or workers <= 0 or streams <= 0:
        raise ValueError("n, in_flight, workers and streams must be positive")
    port = _free_port()
    env = dict(os.environ, CHAINCODE_ID="bench:0", CHAINCODE_SERVER_ADDRESS=f"127.0.0.1:{port}",
               CHAINCODE_WORKERS=str(workers))
    proc = subprocess.Popen(
        [sys.executable, "-m", "qcchain_bench.example"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        peers: list[PeerDriver] = []
        try:
            for _ in range(streams):
                peers.append(_connect(f"127.0.0.1:{port}", proc))
            _phase(peers, proc.pid, lambda i: ("put", f"warm{i % 100}", "v"), min(n, 500), in_flight)
            put = _phase(peers, proc.pid, lambda i: ("put", f"key{i % 1000}", f"value-{i}"), n, in_flight)
            get = _phase(peers, proc.pid, lambda i: ("get", f"key{i % 1000}"), n, in_flight)
        finally:
            for peer in peers:
                peer.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        "n": n,
        "in_flight": in_flight,
        "workers": workers,
        "streams": streams,
        "put_cpu_ms": round(put["cpu_ms_per_tx"], 4),
        "get_cpu_ms": round(get["cpu_ms_per_tx"], 4),
        "put_tx_per_s": round(put["per_s"], 1),
        "get_per_s": round(get["per_s"], 1),
        "target_put_cpu_ms": TARGET_PUT_MS,
        "meets_target": put["cpu_ms_per_tx"] <= TARGET_PUT_MS,
    }


def _connect(address: str, proc: subprocess.Popen[bytes]) -> PeerDriver:
    deadline = time.monotonic() + 20
    peer = PeerDriver(address, chaincode="bench")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            peer.close()
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise BenchError(f"chaincode server exited with {proc.returncode}: {err[-300:]}")
        try:
            peer.connect(5.0)
            return peer
        except (ChaincodeUnavailable, TimeoutError):
            time.sleep(0.1)
    peer.close()
    raise BenchError(f"chaincode server at {address} did not become ready")


def format_table(res: dict[str, Any]) -> str:
    """Human-readable report."""
    return "\n".join([
        f"chaincode CPU (server process only), n={res['n']}, {res['in_flight']} in flight on one stream",
        f"put (get+put+event): {res['put_cpu_ms']:.3f} ms CPU/tx  ({res['put_tx_per_s']:.0f} tx/s)"
        f"  target <= {res['target_put_cpu_ms']} ms: {'met' if res['meets_target'] else 'NOT met'}",
        f"get:                 {res['get_cpu_ms']:.3f} ms CPU/tx  ({res['get_per_s']:.0f} tx/s)",
        "reference (real v3.1.5 network): Go shim 0.43 ms/put 0.11 ms/get; PyPI Python shim 1.76 / 0.51",
    ])
