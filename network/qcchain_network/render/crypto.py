"""crypto-config.yaml for ``cryptogen`` (the Fabric CA variant is chosen with ``--ca``)."""

from __future__ import annotations

from typing import Any

from ..ca import ca_cert, enrollees
from ..derive import Layout, ca_nodes

SANS = ["localhost", "127.0.0.1"]


def sans(address: str) -> list[str]:
    """The TLS subject alternative names of a node reached at ``address`` (besides its host names); the
    shared :data:`SANS` list itself for a loopback node (the YAML then stays as it was, with an alias)."""
    return SANS if address in SANS else [*SANS, address]


def crypto_config(layout: Layout) -> dict[str, Any]:
    """cryptogen's input: orderer org with one spec per node, peer orgs with a template of N peers; each
    node's TLS certificate also names its org's host address."""
    ord_org = layout.consortium.orderer
    c = layout.consortium
    return {
        "OrdererOrgs": [{
            "Name": ord_org.name, "Domain": ord_org.domain, "EnableNodeOUs": True,
            "Specs": [{"Hostname": node.host.split(".")[0], "SANS": sans(node.address)} for node in layout.orderers],
        }],
        "PeerOrgs": [{
            "Name": org.name, "Domain": org.domain, "EnableNodeOUs": True,
            "Template": {"Count": org.peers, "SANS": sans(c.host_of(org))},
            "Users": {"Count": 1},
        } for org in layout.consortium.orgs],
    }


def fabric_ca_config(layout: Layout) -> dict[str, Any]:
    """With ``--ca``: the plan of the Fabric CA servers (one per org, orderer org first) and the identities
    each registers and enrolls (no secrets: those are made at ``up`` time)."""
    cas = []
    for node in ca_nodes(layout):
        cas.append({
            "org": node.org, "ca_name": node.ca_name, "host": node.host,
            "listen": f"{layout.host}:{node.listen}", "operations": f"{layout.host}:{node.operations}",
            "home": str(node.home), "root_cert": str(ca_cert(node)), "log": str(node.log_file),
            "identities": [{"name": e.name, "type": e.type, "msp": str(e.msp_dir), "tls": str(e.tls_dir),
                            "tls_hosts": list(e.hosts)} for e in enrollees(layout, node)],
        })
    return {"fabric_ca": cas}
