"""Native processes of a network: start with a log file each, stop by PID, health checks, ops log."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from qcchain_core.procs import pid_alive as alive  # the project's one PID-liveness check

from .errors import NetworkError

log = logging.getLogger(__name__)


class PortInUse(NetworkError, OSError):
    """A planned port is already taken on the host."""


class StartError(NetworkError, RuntimeError):
    """A process did not start or did not become healthy (names it and its log file)."""


@dataclass
class Proc:
    """A started process as recorded in ``pids.json``."""

    name: str
    pid: int
    log_file: str


def check_ports_free(host: str, ports: list[tuple[str, int]]) -> None:
    """Raises PortInUse naming the first (owner, port) that cannot be bound on ``host``; when ``host`` is
    not an address of this machine (another host, or another network namespace), the first port where
    something already accepts connections."""
    for owner, port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL and not _accepts(host, port):
                    continue
                raise PortInUse(f"port {host}:{port} (planned for {owner}) is already in use") from None


def _accepts(host: str, port: int) -> bool:
    """True when something accepts a TCP connection at ``host:port`` (a remote port in use)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _describe(node: str) -> dict[str, str]:
    """``kind`` and ``org`` (domain) of a process name such as ``peer1.org.example`` (best effort)."""
    head, _, domain = node.partition(".")
    for kind in ("orderer", "peer", "chaincode", "ca"):
        if head.startswith(kind):
            return {"kind": kind, "org": domain}
    return {"kind": "process", "org": domain}


def ops_log(out: Path, op: str, node: str, **extra: object) -> None:
    """Append one JSON line to ``<out>/operations.log`` (T-8.2 b: start, stop, add, remove): time, op
    (= action), node, kind, org, result, plus ``extra``."""
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "op": op, "action": op, "node": node,
             **_describe(node), "result": "ok", **extra}
    with open(out / "operations.log", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")


def read_pids(out: Path) -> list[Proc]:
    """Processes recorded in ``<out>/pids.json`` (empty when none)."""
    try:
        raw = json.loads((out / "pids.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [Proc(**entry) for entry in raw]


def write_pids(out: Path, procs: list[Proc]) -> None:
    """Record the started processes."""
    (out / "pids.json").write_text(json.dumps([p.__dict__ for p in procs], indent=2) + "\n", encoding="utf-8")


def start(out: Path, name: str, argv: list[str], env: dict[str, str], log_file: Path) -> Proc:
    """Start ``argv`` in its own session with ``env`` added, logging to ``log_file``; record it."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as fh:
        child = subprocess.Popen(argv, env={**os.environ, **env}, stdout=fh, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(out))
    proc = Proc(name, child.pid, str(log_file))
    write_pids(out, read_pids(out) + [proc])
    ops_log(out, "start", name, pid=child.pid)
    return proc


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop_all(out: Path, timeout: float = 10.0) -> list[str]:
    """SIGTERM every recorded process (its process group), SIGKILL after ``timeout``; names stopped."""
    procs = read_pids(out)
    for proc in procs:
        if alive(proc.pid):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except OSError:
                pass
    deadline = time.monotonic() + timeout
    for proc in procs:
        while alive(proc.pid) and time.monotonic() < deadline:
            _reap(proc.pid)
            time.sleep(0.05)
        if alive(proc.pid):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        _reap(proc.pid)
        ops_log(out, "stop", proc.name, pid=proc.pid)
    write_pids(out, [])
    return [p.name for p in procs]


def stop_one(out: Path, name: str, timeout: float = 10.0) -> Proc:
    """Stop one recorded process by name (SIGTERM to its group, SIGKILL after ``timeout``).

    Raises:
        KeyError: no running process of that name is recorded under ``out``.
    """
    recorded = read_pids(out)
    matches = [p for p in recorded if p.name == name and alive(p.pid)]
    if not matches:
        raise KeyError(f"no running process named {name!r} in {out}")
    proc = matches[0]
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except OSError:
        pass
    deadline = time.monotonic() + timeout
    while alive(proc.pid) and time.monotonic() < deadline:
        _reap(proc.pid)
        time.sleep(0.05)
    if alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
    _reap(proc.pid)
    write_pids(out, [p for p in recorded if p.pid != proc.pid])
    ops_log(out, "stop", name, pid=proc.pid)
    return proc


def wait_listening(host: str, port: int, proc: Proc, timeout: float = 30.0, tls_ca: Path | None = None,
                   server_name: str | None = None, is_alive: Callable[[Proc], bool] | None = None) -> None:
    """Wait until ``host:port`` accepts connections (completing a TLS handshake when ``tls_ca`` is given,
    so the node logs no failed handshake). ``is_alive`` checks the process (default: its PID; a
    container backend passes its own).

    Raises:
        StartError: the process died or did not listen within ``timeout`` seconds.
    """
    context = None
    if tls_ca is not None:
        context = ssl.create_default_context(cafile=str(tls_ca))
    deadline = time.monotonic() + timeout
    check = is_alive or (lambda p: alive(p.pid))
    while time.monotonic() < deadline:
        if not check(proc):
            raise StartError(f"{proc.name} exited during start-up; see {proc.log_file}")
        try:
            with socket.create_connection((host, port), timeout=1) as sock:
                if context is not None:
                    with context.wrap_socket(sock, server_hostname=server_name or host):
                        pass
                return
        except (OSError, ssl.SSLError):
            time.sleep(0.1)
    raise StartError(f"{proc.name} not listening on {host}:{port} after {timeout:.0f}s; see {proc.log_file}")


def wait_healthy(url: str, proc: Proc, timeout: float = 30.0,
                 is_alive: Callable[[Proc], bool] | None = None) -> None:
    """Poll an operations ``/healthz`` URL until it answers 200 (``is_alive``: as in :func:`wait_listening`).

    Raises:
        StartError: the process died or stayed unhealthy for ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    check = is_alive or (lambda p: alive(p.pid))
    while time.monotonic() < deadline:
        if not check(proc):
            raise StartError(f"{proc.name} exited during start-up; see {proc.log_file}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise StartError(f"{proc.name} not healthy at {url} after {timeout:.0f}s; see {proc.log_file}")
