"""Derive every name, port and path of a native network from a validated consortium (pure, no I/O).

Layout of an output directory ``out``::

    out/crypto-config.yaml  out/crypto/{peer,orderer}Organizations/...   (cryptogen / Fabric CA)
    out/configtx/configtx.yaml   out/channel-artifacts/<channel>.block
    out/env/<host>.env   out/data/<host>/   out/logs/<host>.log   out/collections/<channel>-<cc>.json
    out/connection-profiles/connection-<org>.json   out/compose/compose.yaml   out/network.json
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .overlay import FILE as OVERLAY_FILE
from .overlay import Overlay, OverlayError
from qcchain_consortium.consortium import Consortium, Org
from qcchain_consortium.ports import BLOCK

DEFAULT_LOG_SPEC = "info:gossip=warning:msp=warning"
GAP = 100  # ports left free above the consortium's plan for added nodes (the Fabric CA servers of --ca live there)


@dataclass(frozen=True)
class OrdererNode:
    """One orderer process."""

    index: int
    host: str
    listen: int
    admin: int
    operations: int
    msp_dir: Path
    tls_dir: Path
    data_dir: Path
    env_file: Path
    log_file: Path
    #: where it listens and is reached (its org's host, else the network's)
    address: str = "127.0.0.1"


@dataclass(frozen=True)
class PeerNode:
    """One peer process."""

    org: str
    msp_id: str
    index: int
    host: str
    listen: int
    chaincode: int
    operations: int
    msp_dir: Path
    tls_dir: Path
    data_dir: Path
    env_file: Path
    log_file: Path
    #: where it listens and is reached (its org's host, else the network's)
    address: str = "127.0.0.1"


@dataclass(frozen=True)
class Layout:
    """Everything derived: the consortium, the output directory, its processes and files."""

    consortium: Consortium
    out: Path
    host: str
    orderers: list[OrdererNode]
    peers: list[PeerNode]
    chaincode_ports: dict[str, int]
    log_spec: str = DEFAULT_LOG_SPEC
    #: org name -> its own crypto home (an org that joined and runs its processes from its own material);
    #: other orgs' material is under ``out/crypto``.
    org_homes: dict[str, Path] = field(default_factory=dict)

    @property
    def crypto(self) -> Path:
        """cryptogen's output directory."""
        return self.out / "crypto"

    def org_dir(self, org: Org) -> Path:
        """``crypto/peerOrganizations/<domain>`` (of the org's own home, for a joined org that has one)."""
        home = self.org_homes.get(org.name)
        return (home if home is not None else self.crypto) / "peerOrganizations" / org.domain

    @property
    def orderer_org_dir(self) -> Path:
        """``crypto/ordererOrganizations/<domain>``."""
        return self.crypto / "ordererOrganizations" / self.consortium.orderer.domain

    def user_msp(self, org: Org, user: str = "Admin") -> Path:
        """MSP dir of ``<user>@<domain>``."""
        return self.org_dir(org) / "users" / f"{user}@{org.domain}" / "msp"

    @property
    def orderer_admin_tls(self) -> Path:
        """TLS dir of the orderer org's Admin user (osnadmin's mutual-TLS client)."""
        dom = self.consortium.orderer.domain
        return self.orderer_org_dir / "users" / f"Admin@{dom}" / "tls"

    def addresses(self) -> list[str]:
        """Every distinct host address of the network's processes (the network's host first)."""
        found = [self.host] + [n.address for n in self.orderers] + [p.address for p in self.peers]
        return list(dict.fromkeys(found))

    def peers_of(self, org_name: str) -> list[PeerNode]:
        """The peers of one org, peer0 first."""
        return [p for p in self.peers if p.org == org_name]

    def block_file(self, channel: str) -> Path:
        """The channel's genesis block."""
        return self.out / "channel-artifacts" / f"{channel}.block"

    def collections_file(self, channel: str, chaincode: str) -> Path:
        """Fabric collection-config JSON of a chaincode on a channel."""
        return self.out / "collections" / f"{channel}-{chaincode}.json"

    def profile_file(self, org: Org) -> Path:
        """Connection profile of an org (INTERFACES.md format)."""
        return self.out / "connection-profiles" / f"connection-{org.name.lower()}.json"


def derive(consortium: Consortium, out: Path, log_spec: str = DEFAULT_LOG_SPEC,
           overlay: Overlay | None = None, homes: dict[str, Path] | None = None) -> Layout:
    """The :class:`Layout` of ``consortium`` generated into ``out`` (an absolute path is used as is), with
    the node overlay (nodes added/removed after ``up``, read by the caller with
    :func:`qcchain_network.overlay.load`) folded in when one is given (pure). ``homes``: the crypto home
    of a joined org (``Consortium.joined``: its peers are in the overlay, not in the base plan).

    Raises:
        OverlayError: an added peer of ``overlay`` names an org that is not in the consortium.
    """
    out = Path(out).absolute()
    plan = consortium.ports()
    ord_org = consortium.orderer
    orderers = []
    for i, block in enumerate(plan.orderers):
        host = f"orderer{i}.{ord_org.domain}"
        node_dir = out / "crypto" / "ordererOrganizations" / ord_org.domain / "orderers" / host
        orderers.append(OrdererNode(i, host, block.listen, block.second, block.operations, node_dir / "msp",
                                    node_dir / "tls", out / "data" / host, out / "env" / f"{host}.env",
                                    out / "logs" / f"{host}.log", block.host))
    peers = []
    homes = dict(homes or {})
    for org in consortium.orgs:
        if org.name in consortium.joined:
            continue
        for i in range(org.peers):
            block = plan.peers[(org.name, i)]
            host = f"peer{i}.{org.domain}"
            node_dir = (homes.get(org.name) or out / "crypto") / "peerOrganizations" / org.domain / "peers" / host
            peers.append(PeerNode(org.name, org.msp_id, i, host, block.listen, block.second, block.operations,
                                  node_dir / "msp", node_dir / "tls", out / "data" / host,
                                  out / "env" / f"{host}.env", out / "logs" / f"{host}.log", block.host))
    layout = Layout(consortium, out, consortium.host, orderers, peers, dict(plan.chaincodes), log_spec, homes)
    return apply_overlay(layout, overlay) if overlay is not None else layout


def extra_base(layout: Layout) -> int:
    """First port of overlay slot 0: the block boundary above every port of the base plan, plus :data:`GAP`."""
    plan = layout.consortium.ports()
    top = [b.operations for b in plan.orderers] + [b.operations for b in plan.peers.values()]
    top += list(plan.chaincodes.values())
    return (max(top) // BLOCK + 1) * BLOCK + GAP


def apply_overlay(layout: Layout, overlay: Overlay) -> Layout:
    """``layout`` with the overlay's added nodes appended (each in the port block of its slot, above
    :func:`extra_base`) and its removed nodes left out (pure).

    Raises:
        OverlayError: an added peer names an org that is not in the consortium.
    """
    if not overlay.added and not overlay.removed:
        return layout
    base, out = extra_base(layout), layout.out
    orderers = [n for n in layout.orderers if n.host not in overlay.removed]
    peers = [p for p in layout.peers if p.host not in overlay.removed]
    orgs = {o.name: o for o in layout.consortium.orgs}
    for a in overlay.added:
        port = base + BLOCK * a.slot
        if a.kind == "orderer":
            node_dir = layout.orderer_org_dir / "orderers" / a.host
            orderers.append(OrdererNode(a.index, a.host, port, port + 1, port + 2, node_dir / "msp",
                                        node_dir / "tls", out / "data" / a.host, out / "env" / f"{a.host}.env",
                                        out / "logs" / f"{a.host}.log",
                                        layout.consortium.host_of(layout.consortium.orderer)))
            continue
        if a.org not in orgs:
            raise OverlayError(f"{OVERLAY_FILE}: added peer {a.host} belongs to unknown org {a.org!r}")
        node_dir = layout.org_dir(orgs[a.org]) / "peers" / a.host
        peers.append(PeerNode(a.org, orgs[a.org].msp_id, a.index, a.host, port, port + 1, port + 2,
                              node_dir / "msp", node_dir / "tls", out / "data" / a.host,
                              out / "env" / f"{a.host}.env", out / "logs" / f"{a.host}.log",
                              layout.consortium.host_of(orgs[a.org])))
    order = {o.name: i for i, o in enumerate(layout.consortium.orgs)}
    peers.sort(key=lambda p: (order[p.org], p.index))
    orderers.sort(key=lambda n: n.index)
    return replace(layout, orderers=orderers, peers=peers)


@dataclass(frozen=True)
class CANode:
    """One Fabric CA server (``--ca`` mode): one per member org and one for the orderer org."""

    org: str
    domain: str
    ca_name: str
    host: str
    listen: int
    operations: int
    home: Path
    log_file: Path
    kind: str  # "orderer" (the orderer org) or "peer" (a member org)


def ca_nodes(layout: Layout) -> list[CANode]:
    """The Fabric CA servers of ``--ca`` mode, orderer org first; two ports each (listen, operations),
    in the first block of 10 above every port the consortium file plans for orderers, peers and chaincode
    servers (pure). Nodes of the overlay (added later, in port slots above these) never move them."""
    plan = layout.consortium.ports()
    used = [b.operations for b in plan.orderers] + [b.operations for b in plan.peers.values()]
    used += list(plan.chaincodes.values()) or [layout.consortium.base_port]
    start = (max(used) // 10 + 1) * 10
    ord_org = layout.consortium.orderer
    orgs = [(ord_org.name, ord_org.domain, "orderer")] + [(o.name, o.domain, "peer") for o in layout.consortium.orgs]
    return [CANode(name, domain, f"ca-{name.lower()}", f"ca.{domain}", start + 2 * i, start + 2 * i + 1,
                   layout.out / "fabric-ca" / domain, layout.out / "logs" / f"ca.{domain}.log", kind)
            for i, (name, domain, kind) in enumerate(orgs)]
