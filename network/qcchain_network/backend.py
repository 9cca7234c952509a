"""Process backends: how the orderers and peers of a network run -- native processes or Docker containers.

Everything else (crypto material, configtxgen, ``/healthz`` waits, channel joins, deploy, node operations)
is the same code in both modes; only start / stop / running / logs / down differ. The mode a network was
brought up with is remembered in ``<out>/mode.json`` so later commands use the same backend; asking for
the other mode on an existing network is an error (:class:`ModeMismatch`).

Docker mode drives ``docker compose -f <out>/compose/compose.yaml -p <project>``: every service uses
``network_mode: host``, the process's own env file and a bind mount of ``<out>`` at the same path, so a
container behaves exactly like the native process. Chaincode servers (CCaaS) stay native processes.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Protocol

import yaml

from . import netns, procs
from .derive import Layout
from .errors import NetworkError
from .render import write_compose

log = logging.getLogger(__name__)

MODE_FILE = "mode.json"
MODES = ("native", "docker")
INSTALL_HINT = "run scripts/install-fabric.sh --docker"


class ModeMismatch(NetworkError, ValueError):
    """A command asked for the other mode than the one the network was brought up with."""


class DockerError(NetworkError, RuntimeError):
    """The docker CLI, engine, compose plugin or an image is missing, or a docker command failed."""


def read_mode(out: Path) -> str | None:
    """The mode recorded in ``<out>/mode.json`` (None when the network predates it or does not exist).

    Raises:
        NetworkError: the file exists but is unreadable or names an unknown mode.
    """
    path = out / MODE_FILE
    if not path.is_file():
        return None
    try:
        mode = json.loads(path.read_text(encoding="utf-8")).get("mode")
    except (OSError, ValueError, AttributeError) as exc:
        raise NetworkError(f"{path}: unreadable ({exc})") from None
    if mode not in MODES:
        raise NetworkError(f"{path}: unknown mode {mode!r} (expected one of {', '.join(MODES)})")
    return str(mode)


def write_mode(out: Path, mode: str) -> None:
    """Record ``mode`` in ``<out>/mode.json``.

    Raises:
        ValueError: unknown mode. OSError: the file cannot be written.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (expected one of {', '.join(MODES)})")
    out.mkdir(parents=True, exist_ok=True)
    (out / MODE_FILE).write_text(json.dumps({"mode": mode}) + "\n", encoding="utf-8")


def resolve_mode(out: Path, docker: bool | None) -> str:
    """The mode to use on ``out``: the recorded one; ``docker`` (True/False) is what the command asked for
    (None = whatever was recorded). A network without a mode file is native unless ``docker`` says so.

    Raises:
        ModeMismatch: the request contradicts the recorded mode.
    """
    recorded = read_mode(out)
    wanted = None if docker is None else ("docker" if docker else "native")
    if recorded is None:
        return wanted or "native"
    if wanted is not None and wanted != recorded:
        hint = "add --docker" if recorded == "docker" else "drop --docker"
        raise ModeMismatch(f"{out} holds a network brought up in {recorded} mode; {hint} "
                           f"(or network.sh clean first)")
    return recorded


class Backend(Protocol):
    """How the orderer and peer processes of a network are started, stopped, listed and logged."""

    mode: str

    def start(self, layout: Layout, host: str, argv: list[str], env: dict[str, str],
              log_file: Path) -> procs.Proc: ...

    def stop(self, out: Path, host: str) -> None: ...

    def running(self, out: Path) -> set[str]: ...

    def status(self, out: Path) -> list[tuple[str, str, bool]]: ...

    def down(self, out: Path) -> list[str]: ...

    def logs(self, out: Path) -> list[Path]: ...

    def alive(self, proc: procs.Proc) -> bool: ...


class NativeBackend:
    """Native processes recorded in ``<out>/pids.json`` (one log file each under ``<out>/logs``)."""

    mode = "native"

    def start(self, layout: Layout, host: str, argv: list[str], env: dict[str, str],
              log_file: Path) -> procs.Proc:
        """Start the process (see :func:`procs.start`)."""
        return procs.start(layout.out, host, argv, env, log_file)

    def stop(self, out: Path, host: str) -> None:
        """Raises: KeyError: no running process named ``host``."""
        procs.stop_one(out, host)

    def running(self, out: Path) -> set[str]:
        """Names of the recorded processes still alive."""
        return {p.name for p in procs.read_pids(out) if procs.alive(p.pid)}

    def status(self, out: Path) -> list[tuple[str, str, bool]]:
        """``(name, "pid N", alive)`` of every recorded process."""
        return [(p.name, f"pid {p.pid}", procs.alive(p.pid)) for p in procs.read_pids(out)]

    def down(self, out: Path) -> list[str]:
        """Stop every recorded process; returns their names."""
        return procs.stop_all(out) if out.is_dir() else []

    def logs(self, out: Path) -> list[Path]:
        """The log files under ``<out>/logs``."""
        return sorted((out / "logs").glob("*.log"))

    def alive(self, proc: procs.Proc) -> bool:
        """True while the process runs."""
        return procs.alive(proc.pid)


class DockerBackend:
    """Orderers and peers as ``docker compose`` services; chaincode servers as native processes."""

    mode = "docker"

    def __init__(self, out: Path, docker: str = "docker") -> None:
        self.out = out
        self.docker = docker
        self._seen: tuple[float, set[str]] = (0.0, set())

    @property
    def compose_file(self) -> Path:
        return self.out / "compose" / "compose.yaml"

    def project(self) -> str:
        """The compose project: the ``name`` of the compose file (``qcchain-<consortium>``).

        Raises:
            DockerError: the compose file is missing or has no name.
        """
        try:
            name = yaml.safe_load(self.compose_file.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError, AttributeError) as exc:
            raise DockerError(f"cannot read {self.compose_file} ({exc})") from None
        if not name:
            raise DockerError(f"{self.compose_file} has no project name")
        return str(name)

    def argv(self, *args: str) -> list[str]:
        """``docker compose -f <file> -p <project> ARGS...``."""
        return [self.docker, "compose", "-f", str(self.compose_file), "-p", self.project(), *args]

    def _run(self, *args: str, timeout: float = 120.0) -> str:
        argv = self.argv(*args)
        log.debug("running %s", " ".join(argv))
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DockerError(f"docker compose {' '.join(args)}: {exc}") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise DockerError(f"docker compose {' '.join(args)} failed: {detail[-1] if detail else done.returncode}")
        return done.stdout

    def start(self, layout: Layout, host: str, argv: list[str], env: dict[str, str],
              log_file: Path) -> procs.Proc:
        """(Re)write the compose file from ``layout`` (it may hold added nodes), then ``up -d --no-deps``.

        Raises:
            DockerError: the compose command failed.
        """
        write_compose(layout)
        self._run("up", "-d", "--no-deps", host)
        self._seen = (0.0, set())
        procs.ops_log(layout.out, "start", host, container=host)
        return procs.Proc(host, 0, f"docker compose -p {self.project()} logs {host}")

    def stop(self, out: Path, host: str) -> None:
        """Raises: KeyError: no running container named ``host``. DockerError: docker failed."""
        if host not in self.running(out):
            if host in {p.name for p in procs.read_pids(out) if procs.alive(p.pid)}:
                procs.stop_one(out, host)  # a chaincode server
                return
            raise KeyError(f"no running container or process named {host!r} in {out}")
        self._snapshot_log(host)
        self._run("stop", host)
        self._seen = (0.0, set())
        procs.ops_log(out, "stop", host, container=host)

    def running(self, out: Path) -> set[str]:
        """Services whose container is running (``docker compose ps --format json``)."""
        if not self.compose_file.is_file():
            return set()
        return {row["Service"] for row in parse_ps(self._run("ps", "--format", "json"))
                if row.get("State") == "running"}

    def status(self, out: Path) -> list[tuple[str, str, bool]]:
        """Containers of the project, then native chaincode servers."""
        running = self.running(out)
        rows: list[tuple[str, str, bool]] = [(name, "container", name in running) for name in self._services()]
        return rows + NativeBackend().status(out)

    def down(self, out: Path) -> list[str]:
        """Save each container's log under ``<out>/logs``, ``docker compose down`` (no volumes: the state
        lives in ``<out>``), stop native chaincode servers; returns what was stopped."""
        if not self.compose_file.is_file():
            return NativeBackend().down(out)
        stopped = sorted(self.running(out))
        for host in self._services():
            self._snapshot_log(host)
        self._run("down")
        for host in stopped:
            procs.ops_log(out, "stop", host, container=host)
        return stopped + NativeBackend().down(out)

    def logs(self, out: Path) -> list[Path]:
        """Write each container's log to ``<out>/logs/<service>.log``; returns every log file."""
        for host in self._services():
            self._snapshot_log(host)
        return NativeBackend().logs(out)

    def alive(self, proc: procs.Proc) -> bool:
        """True while the container runs (``ps`` at most once a second)."""
        if proc.pid:
            return procs.alive(proc.pid)
        at, seen = self._seen
        if time.monotonic() - at > 1.0:
            seen = self.running(self.out)
            self._seen = (time.monotonic(), seen)
        return proc.name in seen

    def _services(self) -> list[str]:
        try:
            doc: dict[str, Any] = yaml.safe_load(self.compose_file.read_text(encoding="utf-8")) or {}
        except (OSError, ValueError):
            return []
        return list(doc.get("services") or {})

    def _snapshot_log(self, host: str) -> None:
        try:
            text = self._run("logs", "--no-color", "--no-log-prefix", host)
        except DockerError as exc:
            log.warning("no log for %s: %s", host, exc)
            return
        path = self.out / "logs" / f"{host}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def parse_ps(text: str) -> list[dict[str, Any]]:
    """Rows of ``docker compose ps --format json``: a JSON array (compose < 2.21) or one object a line.

    Raises:
        DockerError: the output is not JSON.
    """
    text = text.strip()
    if not text:
        return []
    try:
        if text.startswith("["):
            return list(json.loads(text))
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        raise DockerError(f"docker compose ps: unexpected output {text[:80]!r}") from None


def docker_check(images: list[str], docker: str = "docker") -> None:
    """Before ``up --docker``: the docker CLI, the engine, the compose plugin and every pinned image.

    Raises:
        DockerError: naming the first thing missing (nothing is started).
    """
    if shutil.which(docker) is None:
        raise DockerError("--docker: the docker command is not installed (use the native mode, the default)")

    def ok(*args: str) -> bool:
        try:
            return subprocess.run([docker, *args], capture_output=True, timeout=60, check=False).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    if not ok("info"):
        raise DockerError("--docker: the Docker engine is not reachable (docker info failed)")
    if not ok("compose", "version"):
        raise DockerError("--docker: the Docker compose plugin is missing (docker compose version failed)")
    missing = [image for image in images if not ok("image", "inspect", image)]
    if missing:
        raise DockerError(f"--docker: image(s) not present: {', '.join(missing)} ({INSTALL_HINT})")


def pinned_images(layout: Layout) -> list[str]:
    """The images of the compose file: orderer and peer at the consortium's Fabric version."""
    version = layout.consortium.fabric_version
    return [f"hyperledger/fabric-orderer:{version}", f"hyperledger/fabric-peer:{version}"]


def backend_for(out: Path, docker: bool | None = None) -> Backend:
    """The backend of the network in ``out`` (see :func:`resolve_mode`).

    Raises:
        ModeMismatch: ``docker`` contradicts the recorded mode.
    """
    if resolve_mode(out, docker) == "docker":
        return DockerBackend(out)
    return native_for(out)


class NetnsBackend(NativeBackend):
    """Native processes; a node whose address is in a recorded network namespace starts inside it
    (:mod:`qcchain_network.netns`: hosts simulated on one machine)."""

    def __init__(self, namespaces: dict[str, str], ip: str = "ip") -> None:
        self.namespaces = dict(namespaces)
        self.ip = ip

    def wrap(self, layout: Layout, host: str, argv: list[str]) -> list[str]:
        """``argv`` prefixed with ``ip netns exec NS`` when node ``host`` is at a namespaced address."""
        return netns.wrap(layout, self.namespaces, host, argv, self.ip)

    def start(self, layout: Layout, host: str, argv: list[str], env: dict[str, str],
              log_file: Path) -> procs.Proc:
        """Start the node (inside its namespace when it has one; see :func:`procs.start`)."""
        return procs.start(layout.out, host, self.wrap(layout, host, argv), env, log_file)


def native_for(out: Path) -> Backend:
    """Native processes -- inside the network namespaces recorded in ``<out>/netns.json`` when there is one.

    Raises:
        NetnsError: ``netns.json`` is malformed.
    """
    namespaces = netns.load(out)
    return NetnsBackend(namespaces) if namespaces else NativeBackend()
