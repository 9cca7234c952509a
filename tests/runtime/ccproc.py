"""Run ``loadcc`` as a chaincode server process and connect the bench's in-process peer to it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qcchain_bench.peerdriver import PeerDriver
from qcchain_devnet.errors import ChaincodeUnavailable

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, **env: str) -> subprocess.Popen[bytes]:
    """``python -m loadcc`` listening on ``port``."""
    full = dict(os.environ, CHAINCODE_ID="load:0", CHAINCODE_SERVER_ADDRESS=f"127.0.0.1:{port}",
                PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]), **env)
    return subprocess.Popen([sys.executable, "-m", "loadcc"], env=full, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def connect(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> PeerDriver:
    """A PeerDriver registered with the server on ``port``. Raises: RuntimeError if it never becomes ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}: {proc.stderr.read().decode()[-500:]}")
        peer = PeerDriver(f"127.0.0.1:{port}", chaincode="load")
        try:
            peer.connect(5.0)
            return peer
        except (ChaincodeUnavailable, TimeoutError):
            peer.close()
            time.sleep(0.1)
    raise RuntimeError("chaincode server did not become ready")


@contextmanager
def served(**env: str) -> Iterator[tuple[PeerDriver, subprocess.Popen[bytes]]]:
    """A loadcc server process and a connected peer; both stopped afterwards."""
    port = free_port()
    proc = start_server(port, **env)
    try:
        peer = connect(port, proc)
        try:
            yield peer, proc
        finally:
            peer.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
