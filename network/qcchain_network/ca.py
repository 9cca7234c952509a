"""``--ca`` mode: crypto material from one Fabric CA server per org instead of ``cryptogen``.

Like fabric-samples' test-network ``network.sh up -ca`` (``organizations/fabric-ca/registerEnroll.sh``):
each org (and the orderer org) gets a ``fabric-ca-server`` on loopback with TLS on (ports from
:func:`qcchain_network.derive.ca_nodes`); ``fabric-ca-client`` enrolls the CA's bootstrap registrar,
registers every node and user with its NodeOU type (``peer``, ``orderer``, ``admin``, ``client``) and
enrolls each twice (signing identity, then ``--enrollment.profile tls`` with the node's host names).
The results are laid out exactly where ``cryptogen`` puts them (``<out>/crypto/...``, the paths
:class:`~qcchain_network.derive.Layout` expects, ``config.yaml`` with NodeOUs), so the rest of ``up``
runs unchanged. The CA is both the signing and the TLS CA of its org, as in fabric-samples.

Server homes, the registrar's MSP and the server logs live under ``<out>/fabric-ca/<domain>/`` and
``<out>/logs/ca.<domain>.log``; the servers run as recorded processes (``status``, ``down``).
Passwords are random, never logged, passed to the tools through the environment, and only the
server's own config file (mode 0600, in its home) keeps the bootstrap registrar's.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import admin, procs
from .binaries import FabricLocations, find_binary
from .derive import CANode, Layout, ca_nodes
from .errors import BinaryNotFound, NetworkError

log = logging.getLogger(__name__)

CA_TOOLS = ("fabric-ca-server", "fabric-ca-client")
REGISTRAR = "admin"
SUBJECT = [{"C": "US", "ST": "California", "L": "San Francisco"}]
CLIENT_NAMES = "C=US,ST=California,L=San Francisco"
NODE_OUS = ("client", "peer", "admin", "orderer")


class EnrollError(NetworkError, RuntimeError):
    """Crypto material from a Fabric CA is incomplete (names the file or directory)."""


@dataclass(frozen=True)
class Enrollee:
    """One identity to register and enroll, and where cryptogen would have put its material."""

    name: str
    type: str
    msp_dir: Path
    tls_dir: Path
    hosts: tuple[str, ...]
    server: bool


def find_ca_binaries(where: FabricLocations | None = None) -> dict[str, Path]:
    """``fabric-ca-server`` and ``fabric-ca-client``.

    Raises:
        BinaryNotFound: one is in neither FABRIC_BIN nor PATH (one line naming both places).
    """
    where = FabricLocations.from_environ() if where is None else where
    found: dict[str, Path] = {}
    for name in CA_TOOLS:
        try:
            found[name] = find_binary(name, where=where)
        except BinaryNotFound:
            place = f"FABRIC_BIN={where.fabric_bin}" if where.fabric_bin else "FABRIC_BIN (unset)"
            raise BinaryNotFound(f"--ca needs the Fabric CA binary '{name}', found neither in {place} nor on "
                                 "PATH (build or install hyperledger/fabric-ca v1.5.x, or drop --ca)") from None
    return found


def org_dir(layout: Layout, node: CANode) -> Path:
    """``crypto/{ordererOrganizations,peerOrganizations}/<domain>`` of a CA's org."""
    kind = "ordererOrganizations" if node.kind == "orderer" else "peerOrganizations"
    return layout.crypto / kind / node.domain


def server_home(node: CANode) -> Path:
    """The ``fabric-ca-server`` home (config, database, CA key and certificate)."""
    return node.home / "server"


def ca_cert(node: CANode) -> Path:
    """The CA's self-signed root certificate (also the root of its server's TLS certificate)."""
    return server_home(node) / "ca-cert.pem"


def enrollees(layout: Layout, node: CANode) -> list[Enrollee]:
    """The identities of a CA's org, as cryptogen makes them: its nodes, ``Admin`` and (peer orgs) ``User1``."""
    base = org_dir(layout, node)
    found: list[Enrollee] = []
    if node.kind == "orderer":
        for o in layout.orderers:
            found.append(Enrollee(o.host, "orderer", o.msp_dir, o.tls_dir, _hosts(layout, o.host, o.address), True))
    else:
        for p in layout.peers:
            if p.org == node.org:
                found.append(Enrollee(p.host, "peer", p.msp_dir, p.tls_dir, _hosts(layout, p.host, p.address), True))
    users = [("Admin", "admin")] + ([("User1", "client")] if node.kind == "peer" else [])
    for user, kind in users:
        name = f"{user}@{node.domain}"
        found.append(Enrollee(name, kind, base / "users" / name / "msp", base / "users" / name / "tls",
                              ("localhost",), False))
    return found


def _hosts(layout: Layout, host: str, address: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((host, host.split(".")[0], "localhost", layout.host, address)))


def server_config(layout: Layout, node: CANode, registrar_secret: str) -> dict[str, Any]:
    """The ``fabric-ca-server-config.yaml`` of one CA (fabric-ca v1.5 defaults, our names and ports)."""
    attrs = {"hf.Registrar.Roles": "*", "hf.Registrar.DelegateRoles": "*", "hf.Revoker": True,
             "hf.IntermediateCA": True, "hf.GenCRL": True, "hf.Registrar.Attributes": "*",
             "hf.AffiliationMgr": True}
    return {
        "port": node.listen, "address": layout.host, "debug": False, "crlsizelimit": 512000,
        "tls": {"enabled": True, "clientauth": {"type": "noclientcert"}},
        "ca": {"name": node.ca_name},
        "crl": {"expiry": "24h"},
        "registry": {"maxenrollments": -1, "identities": [
            {"name": REGISTRAR, "pass": registrar_secret, "type": "client", "affiliation": "", "attrs": attrs}]},
        "db": {"type": "sqlite3", "datasource": "fabric-ca-server.db"},
        "affiliations": {node.org.lower(): ["nodes"]},
        "signing": {
            "default": {"usage": ["digital signature"], "expiry": "8760h"},
            "profiles": {
                "ca": {"usage": ["cert sign", "crl sign"], "expiry": "43800h",
                       "caconstraint": {"isca": True, "maxpathlen": 0}},
                "tls": {"usage": ["signing", "key encipherment", "server auth", "client auth", "key agreement"],
                        "expiry": "8760h"}}},
        "csr": {"cn": node.host, "keyrequest": {"algo": "ecdsa", "size": 256},
                "names": [{**SUBJECT[0], "O": node.domain}],
                "hosts": list(dict.fromkeys([node.host, "localhost", layout.host])),
                "ca": {"expiry": "131400h", "pathlength": 1}},
        "bccsp": {"default": "SW", "sw": {"hash": "SHA2", "security": 256,
                                          "filekeystore": {"keystore": "msp/keystore"}}},
        "operations": {"listenAddress": f"{layout.host}:{node.operations}", "tls": {"enabled": False}},
        "metrics": {"provider": "disabled"},
    }


def nodeou_config(cert_name: str) -> str:
    """An MSP ``config.yaml`` enabling NodeOUs against ``cacerts/<cert_name>`` (cryptogen's text)."""
    ous = {f"{ou.capitalize()}OUIdentifier": {"Certificate": f"cacerts/{cert_name}",
                                              "OrganizationalUnitIdentifier": ou} for ou in NODE_OUS}
    return str(yaml.safe_dump({"NodeOUs": {"Enable": True, **ous}}, sort_keys=False))


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def start_servers(layout: Layout, bins: dict[str, Path], secrets_by_host: dict[str, str] | None = None) -> None:
    """Start every CA server and wait for its ``/healthz`` and TLS listener.

    With ``secrets_by_host`` (a fresh network) each server's config is written first; without it the
    servers restart from the homes they already have.

    Raises:
        OSError: a config cannot be written. StartError: a server died or did not become healthy.
    """
    started = []
    for node in ca_nodes(layout):
        home = server_home(node)
        if secrets_by_host is not None:
            body = yaml.safe_dump(server_config(layout, node, secrets_by_host[node.host]), sort_keys=False)
            _write_private(home / "fabric-ca-server-config.yaml", body)
        elif not (home / "fabric-ca-server-config.yaml").is_file():
            raise procs.StartError(f"{node.host}: no server config in {home} (network.sh clean, then up --ca)")
        argv = [str(bins["fabric-ca-server"]), "start", "-H", str(home)]
        started.append((node, procs.start(layout.out, node.host, argv, {}, node.log_file)))
    for node, proc in started:
        procs.wait_healthy(f"http://{layout.host}:{node.operations}/healthz", proc)
        procs.wait_listening(layout.host, node.listen, proc, tls_ca=ca_cert(node), server_name=node.host)


def _url(layout: Layout, node: CANode, user: str = "", secret: str = "") -> str:
    cred = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(secret, safe='')}@" if user else ""
    return f"https://{cred}{layout.host}:{node.listen}"


def _client(bins: dict[str, Path], node: CANode, home: Path, args: list[str], url: str,
            secret_env: dict[str, str] | None = None) -> None:
    """One ``fabric-ca-client`` call; URL (with credentials) and secrets go through the environment."""
    argv = [str(bins["fabric-ca-client"]), *args, "--caname", node.ca_name,
            "--tls.certfiles", str(ca_cert(node)), "-H", str(home)]
    admin.run_tool(argv, env={"FABRIC_CA_CLIENT_URL": url, **(secret_env or {})}, timeout=60)


def _only(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern)) if directory.is_dir() else []
    if len(found) != 1:
        raise EnrollError(f"expected one {pattern} in {directory} after enrollment, found {len(found)}")
    return found[0]


def _copy_key(src: Path, dst: Path) -> None:
    _write_private(dst, src.read_text(encoding="utf-8"))


def _names(domain: str) -> tuple[str, str]:
    return f"ca.{domain}-cert.pem", f"tlsca.{domain}-cert.pem"


def place_org(layout: Layout, node: CANode) -> None:
    """The org-level folders cryptogen writes: ``ca/``, ``tlsca/`` and the org ``msp/`` (no CA keys: the
    CA server keeps its own).

    Raises:
        OSError: the CA certificate is missing or a file cannot be written.
    """
    base = org_dir(layout, node)
    cert_name, tls_name = _names(node.domain)
    root = ca_cert(node).read_text(encoding="utf-8")
    for sub in ("ca", "tlsca", "msp/admincerts", "msp/cacerts", "msp/tlscacerts"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for path in (base / "ca" / cert_name, base / "msp" / "cacerts" / cert_name):
        path.write_text(root, encoding="utf-8")
    for path in (base / "tlsca" / tls_name, base / "msp" / "tlscacerts" / tls_name):
        path.write_text(root, encoding="utf-8")
    (base / "msp" / "config.yaml").write_text(nodeou_config(cert_name), encoding="utf-8")


def place_identity(staged: Path, who: Enrollee, domain: str) -> None:
    """Copy an enrollment (``staged/msp``, ``staged/tls``) to cryptogen's file names under ``who``'s dirs.

    Raises:
        EnrollError: an enrollment did not produce exactly one certificate/key. OSError: I/O failed.
    """
    cert_name, tls_name = _names(domain)
    msp, tls = who.msp_dir, who.tls_dir
    for sub in ("admincerts", "cacerts", "keystore", "signcerts", "tlscacerts"):
        (msp / sub).mkdir(parents=True, exist_ok=True)
    tls.mkdir(parents=True, exist_ok=True)
    root = _only(staged / "msp" / "cacerts", "*.pem").read_text(encoding="utf-8")
    (msp / "cacerts" / cert_name).write_text(root, encoding="utf-8")
    tls_root = _only(staged / "tls" / "tlscacerts", "*.pem").read_text(encoding="utf-8")
    (msp / "tlscacerts" / tls_name).write_text(tls_root, encoding="utf-8")
    shutil.copyfile(_only(staged / "msp" / "signcerts", "*.pem"), msp / "signcerts" / f"{who.name}-cert.pem")
    _copy_key(_only(staged / "msp" / "keystore", "*_sk"), msp / "keystore" / "priv_sk")
    (msp / "config.yaml").write_text(nodeou_config(cert_name), encoding="utf-8")
    prefix = "server" if who.server else "client"
    (tls / "ca.crt").write_text(tls_root, encoding="utf-8")
    shutil.copyfile(_only(staged / "tls" / "signcerts", "*.pem"), tls / f"{prefix}.crt")
    _copy_key(_only(staged / "tls" / "keystore", "*_sk"), tls / f"{prefix}.key")


def enroll_identity(layout: Layout, bins: dict[str, Path], node: CANode, who: Enrollee) -> None:
    """Register ``who`` with its NodeOU type, enroll its signing and TLS identities, lay them out.

    Raises:
        ToolError: fabric-ca-client failed. EnrollError, OSError: the material is incomplete.
    """
    secret = secrets.token_urlsafe(18)
    _client(bins, node, node.home / "registrar", ["register", "--id.name", who.name, "--id.type", who.type],
            _url(layout, node), {"FABRIC_CA_CLIENT_ID_SECRET": secret})
    enroll_registered(layout, bins, node, who, secret)


def enroll_registered(layout: Layout, bins: dict[str, Path], node: CANode, who: Enrollee, secret: str) -> None:
    """Enroll the registered identity ``who`` (signing, then TLS with its ``csr.hosts``) and lay it out.

    Raises:
        ToolError: fabric-ca-client failed. EnrollError, OSError: the material is incomplete.
    """
    url = _url(layout, node, who.name, secret)
    csr = ["--csr.names", CLIENT_NAMES, "--csr.hosts", ",".join(who.hosts)]
    with tempfile.TemporaryDirectory(prefix="enroll-", dir=node.home) as tmp:
        staged = Path(tmp)
        _client(bins, node, staged, ["enroll", "-M", str(staged / "msp"), *csr], url)
        _client(bins, node, staged, ["enroll", "-M", str(staged / "tls"), "--enrollment.profile", "tls", *csr], url)
        place_identity(staged, who, node.domain)


def enroll_org(layout: Layout, bins: dict[str, Path], node: CANode, registrar_secret: str) -> int:
    """Enroll the registrar of one CA, then every identity of its org; returns how many.

    Raises:
        ToolError, EnrollError, OSError: a step failed.
    """
    _client(bins, node, node.home / "registrar", ["enroll"], _url(layout, node, REGISTRAR, registrar_secret))
    place_org(layout, node)
    people = enrollees(layout, node)
    for who in people:
        enroll_identity(layout, bins, node, who)
    log.info("%s: enrolled %d identities", node.host, len(people))
    return len(people)


def bootstrap(layout: Layout, bins: dict[str, Path]) -> int:
    """Fresh ``--ca`` network: configure and start every CA server, enroll all identities; returns how many.
    The servers keep running (recorded processes) so that later enrollments can use them.

    Raises:
        StartError, ToolError, EnrollError, OSError: a step failed (the caller stops what was started).
    """
    nodes = ca_nodes(layout)
    registrar_secrets = {n.host: secrets.token_urlsafe(18) for n in nodes}
    start_servers(layout, bins, registrar_secrets)
    return sum(enroll_org(layout, bins, node, registrar_secrets[node.host]) for node in nodes)


def uses_ca(layout: Layout) -> bool:
    """True when the network in ``layout.out`` was generated in ``--ca`` mode."""
    return any((server_home(n) / "fabric-ca-server-config.yaml").is_file() for n in ca_nodes(layout))


def planned_ports(layout: Layout) -> list[tuple[str, int]]:
    """``(owner, port)`` of every CA server (listen and operations)."""
    return [(n.host, p) for n in ca_nodes(layout) for p in (n.listen, n.operations)]
