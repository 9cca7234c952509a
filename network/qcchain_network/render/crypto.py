"""crypto-config.yaml for ``cryptogen`` (the Fabric CA variant is chosen with ``--ca``)."""

from __future__ import annotations

from typing import Any

from ..derive import Layout

SANS = ["localhost", "127.0.0.1"]


def crypto_config(layout: Layout) -> dict[str, Any]:
    """cryptogen's input: orderer org with one spec per node, peer orgs with a template of N peers."""
    ord_org = layout.consortium.orderer
    return {
        "OrdererOrgs": [{
            "Name": ord_org.name, "Domain": ord_org.domain, "EnableNodeOUs": True,
            "Specs": [{"Hostname": node.host.split(".")[0], "SANS": SANS} for node in layout.orderers],
        }],
        "PeerOrgs": [{
            "Name": org.name, "Domain": org.domain, "EnableNodeOUs": True,
            "Template": {"Count": org.peers, "SANS": SANS},
            "Users": {"Count": 1},
        } for org in layout.consortium.orgs],
    }


def fabric_ca_config(layout: Layout) -> dict[str, Any]:
    """With ``--ca``: one Fabric CA server per org, and the identities to enrol from it."""
    cas = []
    port = max(layout.chaincode_ports.values(), default=layout.consortium.base_port) + 10
    orgs = [(layout.consortium.orderer.name, layout.consortium.orderer.domain, [n.host for n in layout.orderers],
             "orderer")] + [(o.name, o.domain, [p.host for p in layout.peers_of(o.name)], "peer")
                            for o in layout.consortium.orgs]
    for i, (name, domain, hosts, node_type) in enumerate(orgs):
        cas.append({
            "org": name, "ca_name": f"ca-{name.lower()}", "listen": f"{layout.host}:{port + 2 * i}",
            "operations": f"{layout.host}:{port + 2 * i + 1}", "home": str(layout.out / "fabric-ca" / domain),
            "csr_hosts": SANS + [f"ca.{domain}"],
            "identities": [{"name": h, "type": node_type} for h in hosts]
            + [{"name": f"Admin@{domain}", "type": "admin"}, {"name": f"User1@{domain}", "type": "client"}],
        })
    return {"fabric_ca": cas}
