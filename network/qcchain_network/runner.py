"""Native network operations behind ``scripts/network.sh``: up, down, status, clean, logs.

``up`` validates the consortium, derives and renders everything, runs ``cryptogen`` and ``configtxgen``,
starts every orderer and peer (one log file each), waits on each ``/healthz``, joins the orderers via
``osnadmin`` and the peers via ``peer channel join``, and waits until gossip membership on every channel
is complete (what the gateway needs to satisfy cross-org endorsement policies). Any failure stops what
was started and reports one line.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

import yaml

from . import admin, netns, procs
from . import backend as backends
from . import ca as fabric_ca
from .binaries import base_config_dir, find_all
from .derive import DEFAULT_LOG_SPEC, Layout, OrdererNode, PeerNode
from .errors import NetworkError
from .netdir import load_layout
from .render import render_all, render_profiles
from .render.processes import orderer_env, peer_env
from qcchain_consortium.sources import NETWORK_DIR

log = logging.getLogger(__name__)


class GossipTimeout(NetworkError, TimeoutError):
    """Peers did not see each other on a channel in time."""


def prepare_config(layout: Layout, base: Path) -> None:
    """``<out>/config``: Fabric's base core.yaml with vm.endpoint "" and our CCaaS builder; orderer.yaml.

    Raises:
        OSError: the base files cannot be read or the output written.
    """
    cfg = layout.out / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    builders = layout.out / "builders" / "ccaas"
    if builders.exists():
        shutil.rmtree(builders)
    shutil.copytree(NETWORK_DIR / "builders" / "ccaas", builders)
    core = yaml.safe_load((base / "core.yaml").read_text(encoding="utf-8"))
    core.setdefault("vm", {})["endpoint"] = ""
    core.setdefault("chaincode", {})["externalBuilders"] = [
        {"name": "ccaas", "path": str(builders), "propagateEnvironment": ["HOME"]}]
    (cfg / "core.yaml").write_text(yaml.safe_dump(core, sort_keys=False), encoding="utf-8")
    shutil.copy(base / "orderer.yaml", cfg / "orderer.yaml")


def _planned_ports(layout: Layout) -> list[tuple[str, str, int]]:
    """``(owner, address, port)`` of every planned orderer and peer port."""
    ports = [(n.host, n.address, p) for n in layout.orderers for p in (n.listen, n.admin, n.operations)]
    ports += [(p.host, p.address, q) for p in layout.peers for q in (p.listen, p.chaincode, p.operations)]
    return ports


def _check_free(ports: list[tuple[str, str, int]]) -> None:
    """Raises PortInUse naming the first planned port taken (on its own host address)."""
    for address in dict.fromkeys(a for _, a, _ in ports):
        procs.check_ports_free(address, [(owner, port) for owner, a, port in ports if a == address])


def generate(layout: Layout, bins: dict[str, Path], ca_bins: dict[str, Path] | None = None) -> None:
    """Render files, crypto material (``cryptogen``, or Fabric CA servers when ``ca_bins`` is given),
    genesis blocks and connection profiles.

    Raises:
        ToolError, RenderError: a step failed. StartError, EnrollError: a Fabric CA step failed.
    """
    render_all(layout, ca=ca_bins is not None)
    if ca_bins is not None:
        fabric_ca.bootstrap(layout, ca_bins)
    else:
        admin.run_tool([str(bins["cryptogen"]), "generate", "--config", str(layout.out / "crypto-config.yaml"),
                        "--output", str(layout.crypto)])
    for ch in layout.consortium.channels:
        admin.run_tool([str(bins["configtxgen"]), "-profile", ch.name, "-channelID", ch.name,
                        "-outputBlock", str(layout.block_file(ch.name))],
                       env={"FABRIC_CFG_PATH": str(layout.out / "configtx")})
    render_profiles(layout)


def _node(layout: Layout, host: str) -> OrdererNode | PeerNode:
    """The orderer or peer named ``host``.

    Raises:
        KeyError: no such node.
    """
    for node in [*layout.orderers, *layout.peers]:
        if node.host == host:
            return node
    raise KeyError(f"no orderer or peer named {host!r} in consortium {layout.consortium.name!r}")


def _node_command(layout: Layout, bins: dict[str, Path], host: str) -> tuple[list[str], dict[str, str], Path,
                                                                              int, int, Path]:
    """argv, env, log file, operations port, TLS listen port and TLS CA file of one node."""
    node = _node(layout, host)
    if isinstance(node, OrdererNode):
        return ([str(bins["orderer"])], orderer_env(layout, node), node.log_file, node.operations, node.listen,
                node.tls_dir / "ca.crt")
    return ([str(bins["peer"]), "node", "start"], peer_env(layout, node), node.log_file, node.operations,
            node.listen, node.tls_dir / "ca.crt")


def _launch(layout: Layout, bins: dict[str, Path], host: str,
            backend: backends.Backend) -> tuple[procs.Proc, int, int, Path]:
    argv, env, log_file, ops, listen, ca = _node_command(layout, bins, host)
    return backend.start(layout, host, argv, env, log_file), ops, listen, ca


def _await(layout: Layout, proc: procs.Proc, ops: int, listen: int, ca: Path, backend: backends.Backend) -> None:
    address = _node(layout, proc.name).address
    procs.wait_healthy(f"http://{address}:{ops}/healthz", proc, is_alive=backend.alive)
    procs.wait_listening(address, listen, proc, tls_ca=ca, server_name=proc.name, is_alive=backend.alive)


def start_node(layout: Layout, host: str) -> procs.Proc:
    """(Re)start one orderer or peer of a generated network and wait until it is healthy (T-8.2 b).

    Raises:
        KeyError: no such node. BinaryNotFound: binaries missing. PortInUse: its ports are taken.
        StartError: it did not become healthy.
    """
    backend = backends.backend_for(layout.out)
    bins = _node_binaries(backend)
    _, _, _, ops, listen, _ = _node_command(layout, bins, host)
    if host in backend.running(layout.out):
        raise procs.StartError(f"{host} is already running")
    procs.check_ports_free(_node(layout, host).address, [(host, listen), (host, ops)])
    proc, ops, listen, ca = _launch(layout, bins, host, backend)
    _await(layout, proc, ops, listen, ca, backend)
    return proc


def _node_binaries(backend: backends.Backend) -> dict[str, Path]:
    """Host paths of peer/orderer in native mode; in Docker mode the images' own binaries (by name)."""
    if backend.mode == "docker":
        return {"peer": Path("peer"), "orderer": Path("orderer")}
    return find_all(("peer", "orderer"))


def stop_node(layout: Layout, host: str) -> None:
    """Stop one running orderer, peer or chaincode server (T-8.2 b).

    Raises:
        KeyError: no such running process. DockerError: ``docker compose stop`` failed.
    """
    backends.backend_for(layout.out).stop(layout.out, host)


def running(out: Path) -> set[str]:
    """Names of the running nodes (processes or containers) and chaincode servers of the network in ``out``."""
    backend = backends.backend_for(out)
    names = backend.running(out)
    if backend.mode == "docker":
        names |= backends.NativeBackend().running(out)
    return names


def start_nodes(layout: Layout, bins: dict[str, Path], backend: backends.Backend | None = None) -> None:
    """Start orderers and peers (native processes unless ``backend`` says otherwise) and wait for their
    /healthz and TLS listener.

    Raises:
        StartError: a process died or stayed unhealthy. DockerError: a compose command failed.
    """
    backend = backend or backends.NativeBackend()
    hosts = [n.host for n in layout.orderers] + [p.host for p in layout.peers]
    started = [_launch(layout, bins, host, backend) for host in hosts]
    for proc, ops, listen, ca in started:
        _await(layout, proc, ops, listen, ca, backend)


def join_channels(layout: Layout, bins: dict[str, Path]) -> None:
    """Orderers through the channel participation API, then every member peer.

    Raises:
        ToolError: a join failed.
    """
    for ch in layout.consortium.channels:
        for node in layout.orderers:
            _idempotent(admin.osnadmin_join, layout, bins["osnadmin"], node, ch.name)
    for ch in layout.consortium.channels:
        for member in ch.members:
            for peer in layout.peers_of(member):
                _idempotent(admin.peer_join, layout, bins["peer"], peer, ch.name)


def _idempotent(join: Callable[..., None], *args: Any) -> None:
    try:
        join(*args)
    except admin.ToolError as exc:
        if "already exists" not in str(exc):  # joined before the network was brought down
            raise


def _known_peers(address: str, port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://{address}:{port}/metrics", timeout=2) as resp:
        text = resp.read().decode("utf-8", "replace")
    found = re.findall(r'^gossip_membership_total_peers_known\{channel="([^"]+)"\} ([0-9.e+]+)$', text, re.M)
    return {channel: int(float(value)) for channel, value in found}


def wait_gossip(layout: Layout, timeout: float = 90.0) -> float:
    """Wait until every peer knows every other peer of each of its channels; returns seconds waited.

    Raises:
        GossipTimeout: membership incomplete after ``timeout`` seconds (names channel and peer).
    """
    t0 = time.monotonic()
    pending = {(p.host, p.address, p.operations, ch.name, sum(len(layout.peers_of(m)) for m in ch.members) - 1)
               for ch in layout.consortium.channels for p in layout.peers if p.org in ch.members}
    while pending:
        for item in sorted(pending):
            host, address, port, channel, expected = item
            try:
                if _known_peers(address, port).get(channel, 0) >= expected:
                    pending.discard(item)
            except OSError:
                pass
        if not pending:
            break
        if time.monotonic() - t0 > timeout:
            host, _, _, channel, expected = sorted(pending)[0]
            raise GossipTimeout(f"{host} does not see the {expected} other peer(s) of {channel} "
                                f"after {timeout:.0f}s")
        time.sleep(0.25)
    return time.monotonic() - t0


def _ca_mode(layout: Layout, ca_requested: bool, fresh: bool) -> dict[str, Path] | None:
    """The Fabric CA binaries when this ``up`` runs CA servers (``--ca`` on a fresh network, or a restart
    of a network generated with ``--ca``), else None.

    Raises:
        BinaryNotFound: fabric-ca binaries missing. NetworkError: ``--ca`` on a cryptogen network.
    """
    generated_with_ca = not fresh and fabric_ca.uses_ca(layout)
    if ca_requested and not fresh and not generated_with_ca:
        raise NetworkError(f"--ca: {layout.out} already holds cryptogen material (network.sh clean first)")
    return fabric_ca.find_ca_binaries() if ca_requested or generated_with_ca else None


def _generate_or_restart(layout: Layout, bins: dict[str, Path], ca_bins: dict[str, Path] | None,
                         fresh: bool) -> None:
    if fresh:
        try:
            generate(layout, bins, ca_bins)
        except BaseException:  # a retried ``up`` must not take half-made crypto material for a network
            procs.stop_all(layout.out)
            shutil.rmtree(layout.crypto, ignore_errors=True)
            shutil.rmtree(layout.out / "fabric-ca", ignore_errors=True)
            raise
        return
    # restart of a network that was brought down: keep crypto material and ledgers
    render_all(layout, ca=ca_bins is not None)
    if ca_bins is not None:
        fabric_ca.start_servers(layout, ca_bins)
    render_profiles(layout)


def _backend_for_up(layout: Layout, docker: bool, ca_mode: bool) -> backends.Backend:
    """The backend of this ``up`` (checked against the recorded mode; Docker prerequisites checked).

    Raises:
        ModeMismatch, DockerError, NetworkError (``--docker --ca``).
    """
    if docker and ca_mode:
        raise NetworkError("--docker --ca: Fabric CA containers are not supported yet; use --ca natively, "
                           "or --docker with cryptogen material")
    mode = backends.resolve_mode(layout.out, docker)
    if mode == "docker":
        if fabric_ca.uses_ca(layout):
            raise NetworkError("--docker: this network was generated with --ca, which Docker mode does not run")
        backends.docker_check(backends.pinned_images(layout))
        return backends.DockerBackend(layout.out)
    return backends.native_for(layout.out)


def up(consortium_file: Path | None, out: Path, log_spec: str = DEFAULT_LOG_SPEC, ca_mode: bool = False,
       docker: bool = False, namespaces: dict[str, str] | None = None) -> Layout:
    """Bring the network up -- native processes, or Docker containers with ``docker`` (crypto from Fabric
    CA servers with ``ca_mode``, native only); on any failure stop everything started here and re-raise.
    ``namespaces`` (host address -> network namespace, native only) starts each node whose address is
    there inside that namespace (:mod:`qcchain_network.netns`; recorded, so later node commands do too).

    Raises:
        ConsortiumError, BinaryNotFound, PortInUse, ToolError, StartError, GossipTimeout, RenderError,
        ModeMismatch (the other mode than the recorded one), DockerError (docker/compose/images missing),
        NetnsError (``namespaces`` names an address no node has), NetworkError (``docker`` with ``namespaces``).
    """
    layout = load_layout(consortium_file, out, log_spec)
    if namespaces:
        if docker:
            raise NetworkError("--docker with network namespaces: not supported (native processes only)")
        netns.record(layout.out, namespaces, layout)
    backend = _backend_for_up(layout, docker, ca_mode)
    bins = find_all()
    base = base_config_dir(bins["peer"])
    if backend.running(layout.out) or backends.NativeBackend().running(layout.out):
        raise procs.StartError(f"a network already runs from {layout.out} (network.sh down first)")
    fresh = not (layout.out / "crypto").exists()
    ca_bins = _ca_mode(layout, ca_mode, fresh)
    ca_ports = fabric_ca.planned_ports(layout) if ca_bins else []
    _check_free(_planned_ports(layout) + [(owner, layout.host, port) for owner, port in ca_ports])
    layout.out.mkdir(parents=True, exist_ok=True)
    backends.write_mode(layout.out, backend.mode)
    t0 = time.monotonic()
    try:
        _generate_or_restart(layout, bins, ca_bins, fresh)
        prepare_config(layout, base)
        start_nodes(layout, _node_binaries(backend) if backend.mode == "docker" else bins, backend)
        join_channels(layout, bins)
        waited = wait_gossip(layout)
    except BaseException:
        _stop_everything(layout.out, backend)
        raise
    log.info("network up in %.1fs (gossip settled after %.1fs)", time.monotonic() - t0, waited)
    return layout


def _stop_everything(out: Path, backend: backends.Backend) -> None:
    try:
        backend.down(out)
    finally:
        procs.stop_all(out)


def down(out: Path, docker: bool | None = None) -> list[str]:
    """Stop every process (and container, in Docker mode) of the network in ``out``; returns their names.

    Raises:
        ModeMismatch: ``docker`` contradicts the recorded mode. DockerError: ``docker compose down`` failed.
    """
    return backends.backend_for(out, docker).down(out) if out.is_dir() else []


def status(out: Path, docker: bool | None = None) -> list[tuple[str, str, bool]]:
    """``(name, "pid N" or "container", running)`` of every node and chaincode server.

    Raises:
        ModeMismatch, DockerError.
    """
    return backends.backend_for(out, docker).status(out)


def logs(out: Path, docker: bool | None = None) -> list[Path]:
    """The log file of every process (Docker mode: each container's log is saved there first).

    Raises:
        ModeMismatch, DockerError.
    """
    return backends.backend_for(out, docker).logs(out)


def clean(out: Path) -> None:
    """Stop everything and delete the output directory (only if it holds a generated network).

    Raises:
        NetworkError: ``out`` exists but does not look like a generated network.
    """
    if not out.exists():
        return
    if not (out / "network.json").is_file():
        raise NetworkError(f"{out} does not hold a generated network (no network.json); not deleting it")
    down(out)
    shutil.rmtree(out)
