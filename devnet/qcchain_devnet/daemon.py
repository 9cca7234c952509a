"""Run the devnet: material, profiles, chaincode servers, the devnet core; PID file, log, up/down/status.

State directory layout (``--dir``, default ``.devnet/``)::

    crypto-config/            cryptogen layout (material.py)
    connection-profiles/      one Fabric connection profile per org (profiles.py)
    devnet.json               endpoint, channels, chaincodes, PID (written when ready)
    devnet.pid                PID of the running devnet (written when ready, removed at stop)
    devnet.lock               flock held by the running devnet: one devnet per directory
    devnet.log                output of a detached devnet
    logs/chaincode-<cc>.log   output of each chaincode server
    operations.log            one JSON line per chaincode server restart (time, node, exit status, backoff)
    (the devnet core keeps its ledger under the same directory)

The chaincode runs as chaincode-as-a-service: one server process per chaincode (``python -m <module>``
with ``CHAINCODE_ID`` = package id and ``CHAINCODE_SERVER_ADDRESS``), dialled by the devnet core as a
peer dials it. The servers are supervised (:class:`qcchain_shim.supervise.Supervisor`): one that exits is
restarted with exponential backoff, each restart logged in ``operations.log``; the devnet core re-dials it
at the next transaction. ``python -m qcchain_devnet.daemon`` runs a devnet in the foreground (``--detach`` spawns
exactly that in a new session).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import hashlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Callable, Protocol

from qcchain_core.logconfig import configure
from qcchain_core.procs import pid_alive
from qcchain_shim.server import quiet_gc
from qcchain_shim.supervise import Supervisor

from .config import (DEFAULT_HOST, DEFAULT_PORT, AlreadyRunningError, ConfigError, DaemonError, DevnetConfig,
                     DevnetShellError, PortInUseError, crypto_dir_of, load_devnet_config)
from .material import ensure_material
from .node import DevNet

from .profiles import node_config, read_devnet_json, write_devnet_json, write_profiles

log = logging.getLogger(__name__)

__all__ = ["BANNER", "NodeFactory", "RunningNode", "UpOptions", "devnet_node", "main", "pid_alive",
           "resolve_chaincode_module", "run_foreground", "start_detached", "status", "stop"]

BANNER = ("qcchain devnet: DEVELOPMENT RUNTIME - one process, no consensus, no fault tolerance. "
          "Production runs on Hyperledger Fabric.")
PID_FILE, LOCK_FILE, LOG_FILE = "devnet.pid", "devnet.lock", "devnet.log"
CHAINCODE_START_TIMEOUT = 20.0
READY_TIMEOUT = 60.0
Echo = Callable[[str], None]


@dataclass
class UpOptions:
    """What ``devnet up`` was asked for. ``chaincode_module`` (run as ``python -m``) is the caller's choice:
    the runtime has no default chaincode."""

    chaincode_module: str = field(kw_only=True)
    state_dir: Path = field(default_factory=lambda: Path(".devnet"))
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    consortium: Path | None = None
    tls: bool = True
    use_uvloop: bool = True


class RunningNode(Protocol):
    """What the daemon needs of the devnet node it runs (:class:`~qcchain_devnet.node.DevNet`)."""

    @property
    def port(self) -> int:
        """The port the node listens on once started."""
        ...

    def start(self) -> None:
        """Start serving. Raises: DevnetError (or any error: the run is then stopped and it re-raised)."""
        ...

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        ...


NodeFactory = Callable[[Path, DevnetConfig, UpOptions], RunningNode]
"""Builds the node from the state directory, the complete ``DevnetConfig`` and the options."""


def devnet_node(state_dir: Path, config: DevnetConfig, options: UpOptions) -> RunningNode:
    """The real node: :class:`~qcchain_devnet.node.DevNet` over ``config``'s ``NodeConfig``.

    Raises:
        ConfigError, MaterialError: the crypto material is incomplete; LedgerError: a ledger cannot be opened.
    """
    return DevNet(state_dir, node_config(config), use_uvloop=options.use_uvloop)


# ----------------------------------------------------------------------------- checks

def check_state_dir(state_dir: Path) -> None:
    """Create ``state_dir`` if needed and make sure it is writable.

    Raises:
        DaemonError: it cannot be created or written.
    """
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        probe = state_dir / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DaemonError(f"state directory {state_dir} is not writable: {exc.strerror or exc}") from exc


def check_port_free(host: str, port: int) -> None:
    """Raises: PortInUseError if ``host:port`` cannot be bound (port 0 always passes)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(f"port {port} on {host} is already in use") from exc
            raise DaemonError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


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


def read_pid(state_dir: Path) -> int | None:
    """The PID in ``<dir>/devnet.pid``, or None if absent or malformed."""
    try:
        return int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


class _Lock:
    """An exclusive, non-blocking flock on ``<dir>/devnet.lock`` held while a devnet runs."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self.handle: IO[str] | None = None

    def acquire(self) -> None:
        """Raises: AlreadyRunningError if another devnet holds the lock."""
        handle = open(self.path, "a+", encoding="ascii")  # noqa: SIM115 - held for the run
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            pid = read_pid(self.path.parent)
            who = f" (PID {pid})" if pid else ""
            raise AlreadyRunningError(f"a devnet is already running from {self.path.parent}{who}") from exc
        self.handle = handle

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


# ----------------------------------------------------------------------------- chaincode servers

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

class Runner:
    """One devnet run in this process: lock, material, profiles, chaincode servers, the devnet node
    (built by ``node_factory``, default :func:`devnet_node`)."""

    def __init__(self, options: UpOptions, echo: Echo | None = None, node_factory: NodeFactory = devnet_node) -> None:
        self.options = options
        self.node_factory = node_factory
        self.state_dir = options.state_dir.resolve()
        self.echo: Echo = echo or (lambda _msg: None)
        self.lock = _Lock(self.state_dir)
        self.servers: ChaincodeServers | None = None
        self.devnet: RunningNode | None = None
        self.config: DevnetConfig | None = None

    def start(self) -> DevnetConfig:
        """Bring everything up; on any failure stop what was started and re-raise.

        Raises:
            DaemonError (PortInUseError, AlreadyRunningError): the one-line reason it cannot run.
            ConfigError, MaterialError: bad consortium or crypto material.
        """
        check_state_dir(self.state_dir)
        self.lock.acquire()
        try:
            return self._start_locked()
        except BaseException:
            self.stop()
            raise

    def _start_locked(self) -> DevnetConfig:
        opts = self.options
        check_port_free(opts.host, opts.port)
        config = replace(load_devnet_config(opts.consortium, self.state_dir).with_endpoint(opts.host, opts.port),
                         tls=opts.tls)
        crypto = crypto_dir_of(self.state_dir)
        tls_files = ensure_material(crypto, config)
        module = resolve_chaincode_module(opts.chaincode_module)
        self.servers = ChaincodeServers(self.state_dir, opts.host, module)
        self.servers.start(config)
        config = replace(config.with_material(crypto, tls_files).with_chaincode_servers(
            self.servers.addresses, self.servers.package_ids), chaincode_module=module)
        self.devnet = self.node_factory(self.state_dir, config, opts)
        self.devnet.start()
        config = config.with_endpoint(opts.host, int(self.devnet.port))
        write_profiles(self.state_dir, config, crypto, tls_files)
        write_devnet_json(self.state_dir, config, tls_files, os.getpid(), extra={"up_options": {
            "host": opts.host, "port": int(self.devnet.port), "chaincode_module": opts.chaincode_module,
            "consortium": str(opts.consortium.resolve()) if opts.consortium else None, "tls": opts.tls}})
        (self.state_dir / PID_FILE).write_text(f"{os.getpid()}\n", encoding="ascii")
        self.config = config
        return config

    def stop(self) -> None:
        """Stop the devnet node, then the chaincode servers; remove the PID file; release the lock."""
        if self.devnet is not None:
            try:
                self.devnet.stop()
            except Exception:  # noqa: BLE001 - keep stopping the rest
                log.exception("error while stopping the devnet node")
            self.devnet = None
        if self.servers is not None:
            self.servers.stop()
            self.servers = None
        if self.lock.handle is not None:
            if read_pid(self.state_dir) == os.getpid():
                (self.state_dir / PID_FILE).unlink(missing_ok=True)
            self.lock.release()


@contextlib.contextmanager
def running_devnet(options: UpOptions, echo: Echo | None = None, node_factory: NodeFactory = devnet_node) -> Any:
    """Context manager: a devnet running in this process; yields its :class:`DevnetConfig`.

    Raises:
        DaemonError, ConfigError, MaterialError: as :meth:`Runner.start`.
    """
    runner = Runner(options, echo, node_factory)
    config = runner.start()
    try:
        yield config
    finally:
        runner.stop()


def _describe(config: DevnetConfig, state_dir: Path) -> list[str]:
    scheme = "grpcs" if config.tls else "grpc"
    channels = ", ".join(c.name + " [" + ", ".join(cc.name for cc in c.chaincodes) + "]" for c in config.channels)
    servers = ", ".join(f"{k}={v}" for k, v in sorted(config.chaincode_addresses.items()))
    return [f"gateway: {scheme}://{config.host}:{config.port} (all orgs' peers on one endpoint)",
            "orgs: " + ", ".join(o.msp_id for o in config.orgs),
            f"channels: {channels}",
            f"chaincode: python -m {config.chaincode_module} (CCaaS) at {servers}",
            f"connection profiles: {state_dir / 'connection-profiles'}",
            f"state: {state_dir}"]


def run_foreground(options: UpOptions, echo: Echo, stop_event: threading.Event | None = None,
                   node_factory: NodeFactory = devnet_node) -> None:
    """Run a devnet until SIGINT/SIGTERM (or ``stop_event``); print the banner and where it listens.

    Raises:
        DaemonError, ConfigError, MaterialError: it could not start (nothing is left running).
    """
    echo(BANNER)
    stop_event = stop_event or threading.Event()
    runner = Runner(options, echo, node_factory)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            previous[sig] = signal.signal(sig, lambda *_: stop_event.set())
    try:
        config = runner.start()
        for line in _describe(config, runner.state_dir):
            echo(line)
        echo(f"ready (PID {os.getpid()}); stop with Ctrl-C or `qcchain devnet down --dir {options.state_dir}`")
        while not stop_event.wait(0.2):
            for name in runner.servers.supervise() if runner.servers else []:
                echo(f"chaincode server {name} exited; restarted (see {runner.state_dir / 'operations.log'})")
    finally:
        runner.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    echo("devnet stopped")


# ----------------------------------------------------------------------------- detach / down / status

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
    probe = _Lock(state_dir)
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

def main(argv: list[str] | None = None) -> int:
    """``python -m qcchain_devnet.daemon``: run a devnet in the foreground; 1-line error, status 1.

    The entry point reads the environment: ``QCCHAIN_DEVNET_UVLOOP=0`` runs the node on asyncio's own loop.
    """
    parser = argparse.ArgumentParser(prog="python -m qcchain_devnet.daemon", description=BANNER)
    parser.add_argument("--dir", type=Path, default=Path(".devnet"))
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--chaincode-module", required=True)
    parser.add_argument("--consortium", type=Path, default=None)
    parser.add_argument("--no-tls", action="store_true")
    args = parser.parse_args(argv)
    configure(os.environ.get("QCCHAIN_LOG_DIR") or None, process="devnet")  # graded logs (docs/OPERATIONS.md)
    options = UpOptions(state_dir=args.dir, host=args.host, port=args.port,
                        chaincode_module=args.chaincode_module, consortium=args.consortium, tls=not args.no_tls,
                        use_uvloop=os.environ.get("QCCHAIN_DEVNET_UVLOOP", "1") != "0")
    quiet_gc()  # this process is the devnet's: tune its garbage collector
    try:
        run_foreground(options, lambda msg: print(msg, flush=True))
    except (DevnetShellError, ConfigError, OSError) as exc:
        print(f"qcchain devnet: error: {exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
