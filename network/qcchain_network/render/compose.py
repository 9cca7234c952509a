"""Docker compose file: the same processes and env files as the native mode, images pinned by version."""

from __future__ import annotations

from typing import Any

from ..derive import Layout


def compose(layout: Layout) -> dict[str, Any]:
    """One service per orderer and peer; host networking keeps the loopback addresses of the env files."""
    version = layout.consortium.fabric_version
    out = str(layout.out)
    services: dict[str, Any] = {}
    for node in layout.orderers:
        services[node.host] = {
            "image": f"hyperledger/fabric-orderer:{version}", "container_name": node.host,
            "network_mode": "host", "env_file": [str(node.env_file)], "volumes": [f"{out}:{out}"],
            "command": "orderer"}
    for peer in layout.peers:
        services[peer.host] = {
            "image": f"hyperledger/fabric-peer:{version}", "container_name": peer.host,
            "network_mode": "host", "env_file": [str(peer.env_file)], "volumes": [f"{out}:{out}"],
            "command": "peer node start", "depends_on": [n.host for n in layout.orderers]}
    return {"name": f"qcchain-{layout.consortium.name}", "services": services}
