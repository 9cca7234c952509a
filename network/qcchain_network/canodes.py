"""Node identities of a ``--ca`` network after ``up`` (T-8.2 b): an added peer or orderer is registered and
enrolled at its org's running Fabric CA exactly as :mod:`qcchain_network.ca` does at ``up`` (NodeOU type
``peer``/``orderer``, signing + TLS enrollment with the node's ``csr.hosts``, laid out where ``cryptogen``
puts it), with the registrar credentials kept in ``<out>/fabric-ca/<domain>/registrar/``; a removed node's
certificates are revoked there (``fabric-ca-client revoke --gencrl``), leaving the CA's CRL in the
registrar's ``msp/crls/crl.pem``. ``start_ca`` restarts one stopped CA server (``network.sh start-node``).
"""

from __future__ import annotations

import logging
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import admin, ca, procs
from .derive import CANode, Layout, ca_nodes
from .errors import NetworkError

log = logging.getLogger(__name__)

REVOKE_REASON = "cessationofoperation"  # RFC 5280 CRLReason 5; fabric-ca takes it in lower case


class CANotRunning(NetworkError, RuntimeError):
    """The org's Fabric CA server is not running (names it and how to start it)."""


@dataclass(frozen=True)
class Revocation:
    """What ``revoke`` did: the CA, the identity, the reason and where the CA's current CRL is."""

    ca_host: str
    name: str
    reason: str
    crl: Path


def ca_of(layout: Layout, kind: str, org: str = "") -> CANode:
    """The CA that issues a ``kind`` ("peer" of member org ``org``, or "orderer") node's identity.

    Raises:
        KeyError: no CA for that org in the consortium.
    """
    for node in ca_nodes(layout):
        if (kind == "orderer" and node.kind == "orderer") or (kind == "peer" and node.kind == "peer"
                                                               and node.org == org):
            return node
    raise KeyError(f"no Fabric CA for {kind} of org {org!r} in consortium {layout.consortium.name!r}")


def _healthy(layout: Layout, node: CANode) -> bool:
    try:
        with urllib.request.urlopen(f"http://{layout.host}:{node.operations}/healthz", timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def require_running(layout: Layout, node: CANode) -> None:
    """Check that ``node``'s server runs (recorded process alive, ``/healthz`` answers).

    Raises:
        CANotRunning: it does not (one line naming it and the command that starts it).
    """
    running = any(p.name == node.host and procs.alive(p.pid) for p in procs.read_pids(layout.out))
    if not running or not _healthy(layout, node):
        raise CANotRunning(f"the Fabric CA {node.host} of {node.org} is not running (start it with "
                           f"scripts/network.sh start-node {node.host} --dir {layout.out}, or network.sh up)")


def _enrolled(msp_dir: Path, tls_dir: Path) -> bool:
    return any((msp_dir / "signcerts").glob("*.pem")) and (tls_dir / "server.crt").is_file() \
        if (msp_dir / "signcerts").is_dir() else False


def _register(layout: Layout, bins: dict[str, Path], node: CANode, who: ca.Enrollee, secret: str) -> None:
    """Register ``who``; an identity already registered (an add that failed before it was laid out) gets
    the new secret instead."""
    reg_home = node.home / "registrar"
    try:
        ca._client(bins, node, reg_home, ["register", "--id.name", who.name, "--id.type", who.type],  # noqa: SLF001
                   ca._url(layout, node), {"FABRIC_CA_CLIENT_ID_SECRET": secret})  # noqa: SLF001
    except admin.ToolError as exc:
        if "already registered" not in str(exc):
            raise
        _reset_secret(layout, bins, node, who.name, secret)


def _reset_secret(layout: Layout, bins: dict[str, Path], node: CANode, name: str, secret: str) -> None:
    # fabric-ca-client takes --secret only as a flag; this is the one place a secret is on a command line
    # (a short-lived enrollment secret of an identity about to be enrolled, on loopback)
    ca._client(bins, node, node.home / "registrar", ["identity", "modify", name, "--secret", secret],  # noqa: SLF001
               ca._url(layout, node))  # noqa: SLF001


def enroll_node(layout: Layout, kind: str, host: str, msp_dir: Path, tls_dir: Path, org: str = "") -> bool:
    """Register and enroll a new ``kind`` node ``host`` at its org's running CA into ``msp_dir`` / ``tls_dir``;
    returns False when an earlier (refused or failed) add already enrolled it (reused, like ``cryptogen
    extend`` keeps existing identities, so a ``--propose`` file stays valid).

    Raises:
        CANotRunning: the CA is down. BinaryNotFound: fabric-ca-client missing. ToolError: a CA call failed.
        EnrollError, OSError: the material is incomplete.
    """
    node = ca_of(layout, kind, org)
    if _enrolled(msp_dir, tls_dir):
        log.info("%s: identity already enrolled at %s, reused", host, node.host)
        return False
    require_running(layout, node)
    bins = ca.find_ca_binaries()
    who = ca.Enrollee(host, kind, msp_dir, tls_dir, ca._hosts(layout, host), True)  # noqa: SLF001
    secret = secrets.token_urlsafe(18)
    _register(layout, bins, node, who, secret)
    ca.enroll_registered(layout, bins, node, who, secret)
    log.info("%s: enrolled %s (%s)", node.host, host, kind)
    return True


def revoke_node(layout: Layout, node: CANode, name: str, reason: str = REVOKE_REASON) -> Revocation:
    """Revoke every certificate of identity ``name`` (signing and TLS) at ``node`` and regenerate its CRL.

    Raises:
        CANotRunning: the CA is down. BinaryNotFound, ToolError: fabric-ca-client missing or refused.
    """
    require_running(layout, node)
    bins = ca.find_ca_binaries()
    home = node.home / "registrar"
    ca._client(bins, node, home, ["revoke", "-e", name, "-r", reason, "--gencrl"], ca._url(layout, node))  # noqa: SLF001
    log.info("%s: revoked the certificates of %s (%s)", node.host, name, reason)
    return Revocation(node.host, name, reason, home / "msp" / "crls" / "crl.pem")


def start_ca(layout: Layout, host: str) -> procs.Proc:
    """Restart one stopped CA server of a ``--ca`` network from its home and wait until it serves.

    Raises:
        KeyError: no CA of that host name. StartError: already running, no config, or not healthy.
        PortInUse: its ports are taken. BinaryNotFound: fabric-ca-server missing.
    """
    node = next((n for n in ca_nodes(layout) if n.host == host), None)
    if node is None:
        raise KeyError(f"no Fabric CA named {host!r} in consortium {layout.consortium.name!r}")
    if any(p.name == host and procs.alive(p.pid) for p in procs.read_pids(layout.out)):
        raise procs.StartError(f"{host} is already running")
    home = ca.server_home(node)
    if not (home / "fabric-ca-server-config.yaml").is_file():
        raise procs.StartError(f"{host}: no server config in {home} (not a --ca network)")
    procs.check_ports_free(layout.host, [(host, node.listen), (host, node.operations)])
    bins = ca.find_ca_binaries()
    proc = procs.start(layout.out, host, [str(bins["fabric-ca-server"]), "start", "-H", str(home)], {}, node.log_file)
    procs.wait_healthy(f"http://{layout.host}:{node.operations}/healthz", proc)
    procs.wait_listening(layout.host, node.listen, proc, tls_ca=ca.ca_cert(node), server_name=node.host)
    return proc


def is_ca_host(layout: Layout, host: str) -> bool:
    """True when ``host`` names one of the network's Fabric CA servers."""
    return any(n.host == host for n in ca_nodes(layout))
