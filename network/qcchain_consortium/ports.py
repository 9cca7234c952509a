"""Port plan of a consortium on one host (pure): a block of 10 ports per orderer node and per peer.

Within a process's block: ``+0`` the gRPC listen port, ``+1`` the orderer's admin (channel participation)
port or the peer's chaincode listen port, ``+2`` the operations (``/healthz``, metrics) port. Orderer
nodes come first (at ``orderer.base_port`` or the network's ``base_port``), then each org's peers (at
``org.base_port`` or the next free block), then one port per chaincode server.
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

    def ports(self) -> tuple[int, int, int]:
        """The three ports, in block order."""
        return (self.listen, self.second, self.operations)


@dataclass(frozen=True)
class PortPlan:
    """Every port of the network: orderer nodes, peers (``(org name, index)``) and chaincode servers."""

    orderers: tuple[PortBlock, ...]
    peers: dict[tuple[str, int], PortBlock]
    chaincodes: dict[str, int]


def _block(owner: str, base: int) -> PortBlock:
    return PortBlock(owner, base, base + 1, base + 2)


def plan_ports(base_port: int, orderer_nodes: int, orderer_base: int | None,
               orgs: list[tuple[str, int, int | None]], chaincodes: list[str]) -> PortPlan:
    """Allocate ports. ``orgs`` is ``[(org name, number of peers, explicit base port or None)]``."""
    cursor = base_port
    start = orderer_base if orderer_base is not None else cursor
    orderers = tuple(_block(f"orderer{i}", start + BLOCK * i) for i in range(orderer_nodes))
    cursor = max(cursor, start + BLOCK * orderer_nodes)
    peers: dict[tuple[str, int], PortBlock] = {}
    for name, count, explicit in orgs:
        start = explicit if explicit is not None else cursor
        for i in range(count):
            peers[(name, i)] = _block(f"peer{i} of {name}", start + BLOCK * i)
        cursor = max(cursor, start + BLOCK * count)
    ccs = {cc: cursor + i for i, cc in enumerate(sorted(set(chaincodes)))}
    return PortPlan(orderers, peers, ccs)


def port_clashes(plan: PortPlan) -> list[str]:
    """Human-readable descriptions of ports used twice or beyond 65535 (empty when the plan is sound)."""
    owners: dict[int, str] = {}
    problems: list[str] = []
    entries: list[tuple[str, int]] = []
    for block in list(plan.orderers) + list(plan.peers.values()):
        entries.extend((block.owner, port) for port in block.ports())
    entries.extend((f"chaincode server {cc}", port) for cc, port in plan.chaincodes.items())
    for owner, port in entries:
        if port > MAX_PORT:
            problems.append(f"port {port} of {owner} is beyond {MAX_PORT}")
        elif port in owners and owners[port] != owner:
            problems.append(f"port {port} is used by both {owners[port]} and {owner}")
        else:
            owners.setdefault(port, owner)
    return problems
