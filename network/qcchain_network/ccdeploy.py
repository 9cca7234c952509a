"""Fabric's own ``peer lifecycle`` for any CCaaS package, after governance approved it
(``qcchain contract execute`` of a deploy/upgrade proposal; REQUIREMENTS T-9.2.2).

Unlike :func:`qcchain_network.cclifecycle.deploy` (the consortium's declared chaincodes, packaged by the
network scripts), this takes a package built by ``qcchain contract compile`` for a chaincode that may not
be declared in the consortium file: it installs it on every peer of every channel member, approves it for
every member org with sequence = committed + 1 (so an upgrade is sequence 2, 3, ...), commits it, starts
the new chaincode server and stops the servers of the chaincode's previous packages (the switch).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from . import cclifecycle, procs
from .binaries import find_binary
from .cclifecycle import DeployError, Package
from .derive import Layout
from .errors import NetworkError
from .netdir import load_layout
from qcchain_consortium.consortium import Channel

log = logging.getLogger(__name__)

__all__ = ["FabricTarget", "open_target", "deploy_package", "switch_server", "stop_servers", "after_governance"]


@dataclass(frozen=True)
class FabricTarget:
    """A running native network (``scripts/network.sh up --dir``) and its ``peer`` binary."""

    layout: Layout
    peer_bin: Path

    def channel(self, name: str) -> Channel:
        """The channel ``name``. Raises DeployError when the consortium has no such channel."""
        for channel in self.layout.consortium.channels:
            if channel.name == name:
                return channel
        raise DeployError(f"channel {name!r} is not in the consortium of {self.layout.out}")


def open_target(network_dir: Path, consortium: Path | None = None) -> FabricTarget:
    """The network brought up in ``network_dir`` from ``consortium`` (default: network/consortium.yaml).

    Raises:
        DeployError: the directory holds no running network (no crypto material).
        BinaryNotFound: no ``peer`` binary in FABRIC_BIN or PATH.
        ConsortiumError: the consortium file is invalid.
    """
    layout = load_layout(consortium, Path(network_dir))
    if not layout.crypto.is_dir() or not (layout.out / "config" / "core.yaml").is_file():
        raise DeployError(f"{network_dir} holds no network brought up by `scripts/network.sh up --dir`")
    return FabricTarget(layout, find_binary("peer"))


def deploy_package(target: FabricTarget, channel_name: str, name: str, pkg: Package, version: str,
                   signature_policy: str | None = None) -> int:
    """Install on every member peer, approve for every member org, commit; returns the new sequence.

    Raises:
        DeployError: a ``peer lifecycle`` step failed (names the channel, chaincode and the tool's error).
    """
    layout, peer_bin = target.layout, target.peer_bin
    channel = target.channel(channel_name)
    if any(cc.name == name for cc in channel.chaincodes):
        policy = None  # the consortium file's endorsement policy for this chaincode
    else:
        policy = ["--signature-policy", signature_policy] if signature_policy else []
    return cclifecycle.deploy(layout, peer_bin, channel, name, pkg, version, policy=policy)


def switch_server(target: FabricTarget, name: str, pkg: Package, project_dir: Path, module: str,
                  timeout: float = 30.0) -> list[str]:
    """Start ``python -m <module>`` from ``project_dir`` for ``pkg`` and stop the chaincode's older servers.

    Returns the names of the stopped servers.

    Raises:
        NetworkError: the new server did not listen in time (it is stopped again; the old ones keep running).
    """
    out = target.layout.out
    server = f"chaincode-{pkg.label}"
    running = [p for p in procs.read_pids(out) if p.name == server and procs.alive(p.pid)]
    if not running:
        host, _, port = pkg.address.rpartition(":")
        proc = procs.start(out, server, [sys.executable, "-m", module],
                           {"CHAINCODE_ID": pkg.package_id, "CHAINCODE_SERVER_ADDRESS": pkg.address,
                            "PYTHONPATH": str(Path(project_dir).resolve())}, out / "logs" / f"{server}.log")
        try:
            procs.wait_listening(host, int(port), proc, timeout=timeout)
        except NetworkError:
            procs.stop_one(out, server)
            raise
    return stop_servers(target, name, keep=server)


def stop_servers(target: FabricTarget, name: str, keep: str = "") -> list[str]:
    """Stop every recorded server of chaincode ``name`` (``chaincode-<name>_<version>``) except ``keep``."""
    out = target.layout.out
    stopped = []
    for old in procs.read_pids(out):
        if old.name.startswith(f"chaincode-{name}_") and old.name != keep and procs.alive(old.pid):
            procs.stop_one(out, old.name)
            stopped.append(old.name)
    return stopped


def after_governance(target: FabricTarget, operation: str, unit: dict[str, str], version: str, pkg: Package | None,
                     project_dir: Path | None, module: str) -> list[str]:
    """Fabric's side of an executed governance operation; returns what was done, one line per step.

    deploy/upgrade: :func:`deploy_package`, then (with ``project_dir``) :func:`switch_server`; destroy of a
    whole chaincode: stop its servers (Fabric keeps the definition; the contract refuses to serve anyway).

    Raises:
        DeployError: a ``peer lifecycle`` step failed.
        NetworkError: the new server did not start.
    """
    lines: list[str] = []
    chaincode = unit["chaincode"]
    if operation == "destroy" and not unit["contract"]:
        stopped = stop_servers(target, chaincode)
        lines.append(f"stopped {', '.join(stopped) if stopped else 'no running server'} of {chaincode}")
    if pkg is None:
        return lines
    seq = deploy_package(target, unit["channel"], chaincode, pkg, version)
    lines.append(f"installed on every member peer, approved by every member org, committed {chaincode} "
                 f"version {version} at sequence {seq}")
    if project_dir is not None:
        stopped = switch_server(target, chaincode, pkg, project_dir, module)
        lines.append(f"chaincode server {pkg.label} started at {pkg.address}"
                     f"{'; stopped ' + ', '.join(stopped) if stopped else ''}")
    return lines
