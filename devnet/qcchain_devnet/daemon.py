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

The chaincode runs as chaincode-as-a-service (:mod:`.ccservers`): one server process per chaincode (``python -m <module>``
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
import logging
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Callable, Protocol

from qcchain_core.logconfig import configure
from qcchain_core.procs import pid_alive
from qcchain_shim.server import quiet_gc

from .config import (DEFAULT_HOST, DEFAULT_PORT, AlreadyRunningError, ConfigError, DaemonError, DevnetConfig,
                     DevnetShellError, PortInUseError, crypto_dir_of, load_devnet_config)
from .ccservers import ChaincodeServers, resolve_chaincode_module
from .material import ensure_material
from .node import DevNet

from .profiles import node_config, write_devnet_json, write_profiles

log = logging.getLogger(__name__)

__all__ = ["BANNER", "NodeFactory", "RunningNode", "UpOptions", "devnet_node", "main", "pid_alive",
           "resolve_chaincode_module", "run_foreground"]

BANNER = ("qcchain devnet: DEVELOPMENT RUNTIME - one process, no consensus, no fault tolerance. "
          "Production runs on Hyperledger Fabric.")
PID_FILE, LOCK_FILE, LOG_FILE = "devnet.pid", "devnet.lock", "devnet.log"
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
        # as gRPC binds: connections of a devnet that just stopped (TIME_WAIT) do not block it; a listener does
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(f"port {port} on {host} is already in use") from exc
            raise DaemonError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def read_pid(state_dir: Path) -> int | None:
    """The PID in ``<dir>/devnet.pid``, or None if absent or malformed."""
    try:
        return int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


class StateLock:
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


class Runner:
    """One devnet run in this process: lock, material, profiles, chaincode servers, the devnet node
    (built by ``node_factory``, default :func:`devnet_node`)."""

    def __init__(self, options: UpOptions, echo: Echo | None = None, node_factory: NodeFactory = devnet_node) -> None:
        self.options = options
        self.node_factory = node_factory
        self.state_dir = options.state_dir.resolve()
        self.echo: Echo = echo or (lambda _msg: None)
        self.lock = StateLock(self.state_dir)
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
