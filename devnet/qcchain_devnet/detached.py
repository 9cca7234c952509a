"""A devnet in the background: ``start_detached`` spawns ``python -m qcchain_devnet.daemon`` in a new session
(its output in ``devnet.log``) and waits until it is ready; ``stop`` ends it (SIGTERM, then SIGKILL) and
removes its PID file; ``status`` says whether one runs from a directory, where, and its block heights.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from qcchain_core.procs import pid_alive

from .config import DaemonError
from .daemon import LOG_FILE, PID_FILE, READY_TIMEOUT, UpOptions, StateLock, check_port_free, check_state_dir, read_pid
from .profiles import read_devnet_json

__all__ = ["start_detached", "status", "stop"]

def _child_argv(options: UpOptions, state_dir: Path) -> list[str]:
    argv = [sys.executable, "-m", "qcchain_devnet.daemon", "--dir", str(state_dir),
            "--host", options.host, "--port", str(options.port), "--chaincode-module", options.chaincode_module]
    if options.consortium is not None:
        argv += ["--consortium", str(options.consortium.resolve())]
    if not options.tls:
        argv.append("--no-tls")
    return argv


def _last_error(log_file: Path, offset: int) -> str:
    try:
        with open(log_file, "rb") as handle:
            handle.seek(offset)
            lines = [ln.strip() for ln in handle.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        lines = []
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or ["no output"])[-1]


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def start_detached(options: UpOptions, timeout: float = READY_TIMEOUT) -> int:
    """Start a devnet in the background (new session, output to ``<dir>/devnet.log``); return its PID.

    Returns once the devnet is ready (its PID file is written).

    Raises:
        DaemonError (PortInUseError, AlreadyRunningError): the one-line reason it could not start;
            nothing is left running.
    """
    state_dir = options.state_dir.resolve()
    check_state_dir(state_dir)
    probe = StateLock(state_dir)
    probe.acquire()
    probe.release()
    check_port_free(options.host, options.port)
    log_file = state_dir / LOG_FILE
    offset = log_file.stat().st_size if log_file.exists() else 0
    with open(log_file, "ab") as out:
        child = subprocess.Popen(_child_argv(options, state_dir), stdin=subprocess.DEVNULL, stdout=out,  # noqa: S603
                                 stderr=subprocess.STDOUT, start_new_session=True, cwd=state_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise DaemonError(_last_error(log_file, offset).removeprefix("qcchain devnet: error: "))
        if read_pid(state_dir) == child.pid:
            return child.pid
        time.sleep(0.1)
    with contextlib.suppress(OSError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    raise DaemonError(f"devnet did not become ready within {timeout:.0f} s; see {log_file}")


def _is_devnet_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return True  # cannot tell (no /proc): trust the PID file
    return b"qcchain" in cmdline


def stop(state_dir: Path, timeout: float = 10.0) -> str:
    """Stop the devnet running from ``state_dir``: SIGTERM, wait ``timeout``, then SIGKILL.

    Returns a one-line description of what happened ("not running" is not an error).

    Raises:
        DaemonError: the process cannot be signalled (e.g. it belongs to another user).
    """
    state_dir = state_dir.resolve()
    pid_file = state_dir / PID_FILE
    pid = read_pid(state_dir)
    if pid is None:
        return f"devnet is not running (no PID file in {state_dir})"
    if not pid_alive(pid) or not _is_devnet_process(pid):
        pid_file.unlink(missing_ok=True)
        return f"devnet is not running (removed stale PID file for PID {pid})"
    try:
        os.kill(pid, signal.SIGTERM)
    except PermissionError as exc:
        raise DaemonError(f"cannot stop PID {pid}: permission denied") from exc
    if _wait_gone(pid, timeout):
        pid_file.unlink(missing_ok=True)
        return f"devnet stopped (PID {pid})"
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    _wait_gone(pid, 5.0)
    pid_file.unlink(missing_ok=True)
    return f"devnet killed (PID {pid} did not stop within {timeout:g} s)"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        _reap(pid)
        if not pid_alive(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def status(state_dir: Path) -> dict[str, Any]:
    """Whether a devnet runs from ``state_dir``, its endpoint, and its block height if reachable."""
    state_dir = state_dir.resolve()
    pid = read_pid(state_dir)
    running = pid is not None and pid_alive(pid) and _is_devnet_process(pid)
    info = read_devnet_json(state_dir) or {}
    result: dict[str, Any] = {"running": running, "pid": pid if running else None, "state_dir": str(state_dir),
                              "url": info.get("url") if running else None, "heights": {}, "height_error": None}
    if running:
        result["heights"], result["height_error"] = _heights(info)
    return result


def _heights(info: dict[str, Any]) -> tuple[dict[str, int], str | None]:
    """Block height per channel through qscc GetChainInfo (needs the SDK), or the reason it is unknown."""
    try:
        from fabric_protos.common import ledger_pb2
        from qcchain_gateway.profile import connect_profile
    except ImportError as exc:
        return {}, f"height unknown: SDK not available ({exc})"
    profiles = info.get("connection_profiles") or {}
    if not profiles:
        return {}, "height unknown: no connection profile"
    heights: dict[str, int] = {}
    gateways: dict[str, Any] = {}
    try:
        for channel, desc in info.get("channels", {}).items():
            org = next((m for m in desc.get("members", []) if m in profiles), None)
            if org is None:
                continue
            if org not in gateways:
                gateways[org] = connect_profile(profiles[org], user="Admin")
            raw = gateways[org].get_network(channel).get_contract("qscc").evaluate_transaction("GetChainInfo", channel)
            heights[channel] = ledger_pb2.BlockchainInfo.FromString(raw).height
    except Exception as exc:  # noqa: BLE001 - status reports, never fails
        return heights, f"height unknown: {type(exc).__name__}: {exc}"
    finally:
        for gateway in gateways.values():
            with contextlib.suppress(Exception):
                gateway.close()
    return heights, None


# ----------------------------------------------------------------------------- python -m
