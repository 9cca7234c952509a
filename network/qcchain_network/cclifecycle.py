"""Chaincode-as-a-service deployment with Fabric's own ``peer lifecycle`` commands.

``package`` builds a ``type: ccaas`` package (metadata.json + code.tar.gz holding connection.json) with
fixed tar metadata, so the same address and label always give the same package id
(``label:sha256(package)``, as the peer computes it). ``deploy`` installs it on every member peer,
approves it for every member org (sequence = committed + 1), commits it, and starts the chaincode server.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import admin, procs
from qcchain_consortium.consortium import Channel
from .derive import Layout
from .errors import NetworkError
from .render.configtx import collections_config

log = logging.getLogger(__name__)

LEADER_WAIT_S = 30.0


class DeployError(NetworkError, RuntimeError):
    """The chaincode cannot be deployed (names the channel, chaincode and step)."""


@dataclass(frozen=True)
class Package:
    """A CCaaS package file and its id."""

    path: Path
    label: str
    package_id: str
    address: str


def _tar_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 0, 0o644, "", ""
    tar.addfile(info, io.BytesIO(data))


def _targz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members.items():
            _tar_member(tar, name, data)
    raw = bytearray(buf.getvalue())
    raw[4:8] = b"\0\0\0\0"  # gzip header mtime: deterministic package bytes
    return bytes(raw)


def package(out_dir: Path, label: str, address: str) -> Package:
    """Write ``<out_dir>/<label>.tar.gz`` (a ``ccaas`` package pointing at ``address``).

    Raises:
        OSError: the file cannot be written.
    """
    connection = {"address": address, "dial_timeout": "10s", "tls_required": False}
    code = _targz({"connection.json": json.dumps(connection, indent=2).encode()})
    metadata = json.dumps({"type": "ccaas", "label": label}).encode()
    data = _targz({"metadata.json": metadata, "code.tar.gz": code})
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{label}.tar.gz"
    path.write_bytes(data)
    return Package(path, label, f"{label}:{hashlib.sha256(data).hexdigest()}", address)


def committed_definition(layout: Layout, peer_bin: Path, channel: Channel, name: str,
                         asker: str = "") -> dict[str, Any]:
    """``peer lifecycle chaincode querycommitted -O json`` of ``name`` on ``channel`` as the Admin of
    ``asker`` (default: the channel's first member): ``sequence``, ``version``, ``collections``,
    ``approvals`` (MSP ID -> bool), ...; ``{}`` when nothing is committed (or the query failed)."""
    org = layout.consortium.org(asker or channel.members[0])
    try:
        text = admin.run_tool([str(peer_bin), "lifecycle", "chaincode", "querycommitted", "--channelID",
                               channel.name, "--name", name, "-O", "json"], env=admin.admin_env(layout, org))
    except admin.ToolError:
        return {}
    doc, _ = json.JSONDecoder().raw_decode(text[text.index("{"):])
    return dict(doc)


def committed_sequence(layout: Layout, peer_bin: Path, channel: Channel, name: str) -> int:
    """The committed definition's sequence on ``channel`` (0 when none)."""
    return int(committed_definition(layout, peer_bin, channel, name).get("sequence", 0))


def _policy_args(layout: Layout, channel: Channel, name: str) -> list[str]:
    (cc,) = [c for c in channel.chaincodes if c.name == name]
    args = [] if cc.uses_channel_policy else ["--signature-policy", cc.endorsement_policy]
    if cc.collections:
        path = layout.collections_file(channel.name, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(collections_config(layout, channel, name), indent=2) + "\n", encoding="utf-8")
        args += ["--collections-config", str(path)]
    return args


def deploy(layout: Layout, peer_bin: Path, channel: Channel, name: str, pkg: Package, version: str = "1.0",
           policy: list[str] | None = None, members: list[str] | None = None) -> int:
    """Install, approve (every member org) and commit; returns the new sequence (previous + 1).

    ``policy`` overrides the endorsement-policy arguments (default: the consortium file's for ``name``);
    ``members`` (default: every member of the channel) are the orgs that install, approve and are asked
    to endorse the commit (the others approve on their own; the commit needs the channel's
    ``LifecycleEndorsement`` policy, a majority of the members).

    Raises:
        DeployError: a lifecycle step failed.
    """
    orgs = list(channel.members if members is None else members)
    try:
        for member in orgs:
            org = layout.consortium.org(member)
            for peer in layout.peers_of(member):
                _install(layout, peer_bin, org, peer, pkg)
        seq = committed_sequence(layout, peer_bin, channel, name) + 1
        common = ["--channelID", channel.name, "--name", name, "--version", version, "--sequence", str(seq),
                  *(_policy_args(layout, channel, name) if policy is None else policy), *admin.orderer_args(layout)]
        for member in orgs:
            _approve(layout, peer_bin, member, pkg, common)
        targets: list[str] = []
        for member in orgs:
            peer = layout.peers_of(member)[0]
            targets += ["--peerAddresses", f"{peer.address}:{peer.listen}", "--tlsRootCertFiles",
                        str(admin.peer_ca(layout, peer))]
        org0 = layout.consortium.org(orgs[0])
        _ordered([str(peer_bin), "lifecycle", "chaincode", "commit", *common, *targets],
                 env=admin.admin_env(layout, org0))
    except admin.ToolError as exc:
        raise DeployError(f"peer lifecycle for {name} on {channel.name}: {exc}") from exc
    procs.ops_log(layout.out, "deploy" if seq == 1 else "upgrade", f"{name}@{channel.name}", sequence=seq,
                  package_id=pkg.package_id)
    log.info("committed %s on %s at sequence %d", name, channel.name, seq)
    return seq


def _ordered(argv: list[str], env: dict[str, str], timeout: float = LEADER_WAIT_S) -> str:
    """``admin.run_tool`` for a transaction sent to the orderers, retried while the channel's orderers
    answer ``SERVICE_UNAVAILABLE`` (a channel just joined by them has no Raft leader for a few seconds).

    Raises:
        admin.ToolError: any other failure, or still unavailable after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return admin.run_tool(argv, env=env)
        except admin.ToolError as exc:
            if "SERVICE_UNAVAILABLE" not in str(exc) or time.monotonic() > deadline:
                raise
            log.info("orderers not ready (%s): retrying", str(exc).strip().splitlines()[-1][:80])
            time.sleep(1.0)


def _approve(layout: Layout, peer_bin: Path, member: str, pkg: Package, common: list[str]) -> None:
    org = layout.consortium.org(member)
    try:
        _ordered([str(peer_bin), "lifecycle", "chaincode", "approveformyorg", "--package-id",
                  pkg.package_id, *common], env=admin.admin_env(layout, org))
    except admin.ToolError as exc:
        if "unchanged content" not in str(exc):  # already approved by this org: idempotent re-run
            raise


def _install(layout: Layout, peer_bin: Path, org: object, peer: object, pkg: Package) -> None:
    env = admin.admin_env(layout, org, peer)  # type: ignore[arg-type]
    installed = admin.run_tool([str(peer_bin), "lifecycle", "chaincode", "queryinstalled", "-O", "json"], env=env)
    if pkg.package_id in installed:
        return
    admin.run_tool([str(peer_bin), "lifecycle", "chaincode", "install", str(pkg.path)], env=env)


def start_server(layout: Layout, pkg: Package, argv: list[str] | None = None,
                 extra_env: dict[str, str] | None = None) -> procs.Proc:
    """Start the chaincode server (default ``python -m qcchain_contracts``) for ``pkg``; logs to
    ``logs/chaincode-<label>.log``."""
    argv = argv or [sys.executable, "-m", "qcchain_contracts"]
    env = {"CHAINCODE_ID": pkg.package_id, "CHAINCODE_SERVER_ADDRESS": pkg.address, **(extra_env or {})}
    return procs.start(layout.out, f"chaincode-{pkg.label}", argv, env,
                       layout.out / "logs" / f"chaincode-{pkg.label}.log")
