"""The devnet's chaincode servers: chaincode-as-a-service, one server process per chaincode (``python -m
<module>`` with ``CHAINCODE_ID`` = package id and ``CHAINCODE_SERVER_ADDRESS``), dialled by the devnet core
as a peer dials it, each kept running by a :class:`qcchain_shim.supervise.Supervisor` (one that exits is
restarted with exponential backoff, each restart logged in ``operations.log``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

from qcchain_shim.supervise import Supervisor

from .config import DaemonError, DevnetConfig

log = logging.getLogger(__name__)

__all__ = ["CHAINCODE_START_TIMEOUT", "ChaincodeServers", "package_id", "resolve_chaincode_module"]

CHAINCODE_START_TIMEOUT = 20.0


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def resolve_chaincode_module(requested: str) -> str:
    """``requested`` if ``python -m requested`` can run.

    Raises:
        DaemonError: no module was given, or it cannot be found.
    """
    if not requested:
        raise DaemonError("no chaincode module given (pass --chaincode-module)")
    if not _runnable(requested):
        raise DaemonError(f"chaincode module not found: {requested}")
    return requested


def _runnable(name: str) -> bool:
    """Whether ``python -m name`` can run: a plain module, or a package with ``__main__``."""
    try:
        spec = importlib.util.find_spec(name)
        if spec is None:
            return False
        if spec.submodule_search_locations is None:
            return True
        return importlib.util.find_spec(f"{name}.__main__") is not None
    except (ImportError, ValueError):
        return False


def package_id(name: str, version: str, module: str) -> str:
    """A CCaaS package id ``<name>_<version>:<sha256>`` over the package description."""
    label = f"{name}_{version}"
    digest = hashlib.sha256(f'{{"label":"{label}","module":"{module}","type":"ccaas"}}'.encode()).hexdigest()
    return f"{label}:{digest}"


# Runs ``python -m <module>`` after asking the kernel for SIGTERM when the devnet dies
# (PR_SET_PDEATHSIG). Done in the new interpreter, not in a ``preexec_fn``: running Python code between
# fork and exec of a process with threads (gRPC's) can deadlock or abort the child.
_LAUNCHER = ("import ctypes, runpy, signal, sys\n"
             "try:\n"
             "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)\n"
             "except Exception:\n"
             "    pass\n"
             "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)\n")


class ChaincodeServers:
    """The CCaaS chaincode server processes of one devnet run, each kept running by a :class:`Supervisor`."""

    def __init__(self, state_dir: Path, host: str, module: str) -> None:
        self.state_dir, self.host, self.module = state_dir, host, module
        self.supervisors: dict[str, Supervisor] = {}
        self.addresses: dict[str, str] = {}
        self.package_ids: dict[str, str] = {}

    @property
    def procs(self) -> dict[str, subprocess.Popen[bytes]]:
        """The current process of each server (those running or not yet restarted)."""
        return {name: sup.proc for name, sup in self.supervisors.items() if sup.proc is not None}

    def start(self, config: DevnetConfig) -> None:
        """Start one server per chaincode and wait until each listens.

        Raises:
            DaemonError: a server exits or does not listen within the timeout (names its log file).
        """
        logs = self.state_dir / "logs"
        logs.mkdir(exist_ok=True)
        versions = {cc.name: cc.version for ch in config.channels for cc in ch.chaincodes}
        for name in config.chaincode_names():
            port = _free_port(self.host)
            self.addresses[name] = f"{self.host}:{port}"
            self.package_ids[name] = package_id(name, versions[name], self.module)
            env = {"CHAINCODE_ID": self.package_ids[name], "CHAINCODE_SERVER_ADDRESS": self.addresses[name],
                   "PYTHONUNBUFFERED": "1"}
            sup = Supervisor(f"chaincode-{name}", [sys.executable, "-c", _LAUNCHER, self.module], env=env,
                             log_file=logs / f"chaincode-{name}.log",
                             operations_log=self.state_dir / "operations.log")
            sup.start()
            self.supervisors[name] = sup
        for name, proc in self.procs.items():
            self._wait_listening(name, proc)

    def _wait_listening(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        port = int(self.addresses[name].rsplit(":", 1)[1])
        deadline = time.monotonic() + CHAINCODE_START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DaemonError(f"chaincode server {name!r} ({self.module}) exited with status "
                                  f"{proc.returncode}; see {self.state_dir / 'logs' / f'chaincode-{name}.log'}")
            if _listening(self.host, port):
                return
            time.sleep(0.05)
        raise DaemonError(f"chaincode server {name!r} did not listen on {self.addresses[name]} "
                          f"within {CHAINCODE_START_TIMEOUT:.0f} s")

    def dead(self) -> list[str]:
        """Names of chaincode servers that have exited (and are not restarted yet)."""
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def supervise(self) -> list[str]:
        """Restart servers that exited, once their backoff has passed (each restart is logged in
        ``operations.log``); returns the names restarted now."""
        restarted = []
        for name, sup in self.supervisors.items():
            try:
                if sup.check():
                    restarted.append(name)
            except OSError as exc:
                log.error("chaincode server %s: restart failed: %s", name, exc.strerror or exc)
        return restarted

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate every server (SIGTERM, then SIGKILL after ``timeout``); no more restarts."""
        for sup in self.supervisors.values():
            if sup.proc is not None and sup.proc.poll() is None:
                sup.proc.terminate()
        for sup in self.supervisors.values():
            sup.stop(timeout)
        self.supervisors.clear()


# ----------------------------------------------------------------------------- foreground run
