"""Port plan of a consortium (pure): a block of 10 ports per orderer node and per peer.

Within a process's block: ``+0`` the gRPC listen port, ``+1`` the orderer's admin (channel participation)
port or the peer's chaincode listen port, ``+2`` the operations (``/healthz``, metrics) port. Orderer
nodes come first (at ``orderer.base_port`` or the network's ``base_port``), then each org's peers (at
``org.base_port`` or the next free block), then one port per chaincode server.

Ports are counted per host: an org (or the orderer org) on a host of its own starts at ``base_port`` there,
so ports may repeat across hosts but never on one host. With every process on one host the plan is the
single-host one.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCK = 10
MAX_PORT = 65535


@dataclass(frozen=True)
class PortBlock:
    """The ports of one process."""

    owner: str
    listen: int
    second: int
    operations: int
    host: str = ""

    def ports(self) -> tuple[int, int, int]:
        """The three ports, in block order."""
        return (self.listen, self.second, self.operations)


@dataclass(frozen=True)
class PortPlan:
    """Every port of the network: orderer nodes, peers (``(org name, index)``) and chaincode servers."""

    orderers: tuple[PortBlock, ...]
    peers: dict[tuple[str, int], PortBlock]
    chaincodes: dict[str, int]
    #: where the chaincode servers listen (the network's host)
    host: str = ""


def _block(owner: str, base: int, host: str = "") -> PortBlock:
    return PortBlock(owner, base, base + 1, base + 2, host)


def plan_ports(base_port: int, orderer_nodes: int, orderer_base: int | None,
               orgs: list[tuple[str, int, int | None]], chaincodes: list[str],
               hosts: dict[str, str] | None = None, orderer_host: str = "", host: str = "") -> PortPlan:
    """Allocate ports. ``orgs`` is ``[(org name, number of peers, explicit base port or None)]``;
    ``hosts`` maps an org name to its host (default ``host``), ``orderer_host`` is the orderer org's
    (default ``host``); the chaincode servers are on ``host``. Each host has its own cursor."""
    hosts = hosts or {}
    cursors: dict[str, int] = {}
    where = orderer_host or host
    cursor = cursors.get(where, base_port)
    start = orderer_base if orderer_base is not None else cursor
    orderers = tuple(_block(f"orderer{i}", start + BLOCK * i, where) for i in range(orderer_nodes))
    cursors[where] = max(cursor, start + BLOCK * orderer_nodes)
    peers: dict[tuple[str, int], PortBlock] = {}
    for name, count, explicit in orgs:
        where = hosts.get(name) or host
        cursor = cursors.get(where, base_port)
        start = explicit if explicit is not None else cursor
        for i in range(count):
            peers[(name, i)] = _block(f"peer{i} of {name}", start + BLOCK * i, where)
        cursors[where] = max(cursor, start + BLOCK * count)
    cursor = cursors.get(host, base_port)
    ccs = {cc: cursor + i for i, cc in enumerate(sorted(set(chaincodes)))}
    return PortPlan(orderers, peers, ccs, host)


def port_clashes(plan: PortPlan) -> list[str]:
    """Human-readable descriptions of ports used twice on one host or beyond 65535 (empty when the plan is
    sound); a port named with its host when the plan spans several hosts."""
    owners: dict[tuple[str, int], str] = {}
    problems: list[str] = []
    entries: list[tuple[str, str, int]] = []
    for block in list(plan.orderers) + list(plan.peers.values()):
        entries.extend((block.owner, block.host, port) for port in block.ports())
    entries.extend((f"chaincode server {cc}", plan.host, port) for cc, port in plan.chaincodes.items())
    several = len({host for _, host, _ in entries}) > 1
    for owner, host, port in entries:
        name = f"{host}:{port}" if several else str(port)
        if port > MAX_PORT:
            problems.append(f"port {name} of {owner} is beyond {MAX_PORT}")
        elif (host, port) in owners and owners[(host, port)] != owner:
            problems.append(f"port {name} is used by both {owners[(host, port)]} and {owner}")
        else:
            owners.setdefault((host, port), owner)
    return problems
