"""configtx.yaml: one profile per channel (Fabric v3: no system channel; genesis block per channel)."""

from __future__ import annotations

from typing import Any

from qcchain_consortium.consortium import Channel, Org
from ..derive import Layout

CAPABILITIES = {"Channel": {"V3_0": True}, "Orderer": {"V2_0": True}, "Application": {"V2_5": True}}


def _sig(rule: str) -> dict[str, str]:
    return {"Type": "Signature", "Rule": rule}


def _meta(rule: str) -> dict[str, str]:
    return {"Type": "ImplicitMeta", "Rule": rule}


def _org(layout: Layout, org: Org) -> dict[str, Any]:
    m = org.msp_id
    return {
        "Name": m, "ID": m, "MSPDir": str(layout.org_dir(org) / "msp"),
        "Policies": {
            "Readers": _sig(f"OR('{m}.admin', '{m}.peer', '{m}.client')"),
            "Writers": _sig(f"OR('{m}.admin', '{m}.client')"),
            "Admins": _sig(f"OR('{m}.admin')"),
            "Endorsement": _sig(f"OR('{m}.peer')"),
        },
        "AnchorPeers": [{"Host": layout.peers_of(org.name)[0].address, "Port": layout.peers_of(org.name)[0].listen}],
    }


def _orderer_org(layout: Layout) -> dict[str, Any]:
    m = layout.consortium.orderer.msp_id
    return {
        "Name": m, "ID": m, "MSPDir": str(layout.orderer_org_dir / "msp"),
        "Policies": {"Readers": _sig(f"OR('{m}.member')"), "Writers": _sig(f"OR('{m}.member')"),
                     "Admins": _sig(f"OR('{m}.admin')")},
        "OrdererEndpoints": [f"{n.address}:{n.listen}" for n in layout.orderers],
    }


def _orderer(layout: Layout) -> dict[str, Any]:
    ord_org = layout.consortium.orderer
    section: dict[str, Any] = {
        "BatchTimeout": ord_org.batch_timeout,
        "BatchSize": {"MaxMessageCount": ord_org.max_message_count, "AbsoluteMaxBytes": "10 MB",
                      "PreferredMaxBytes": "2 MB"},
        "Organizations": [_orderer_org(layout)],
        "Policies": {"Readers": _meta("ANY Readers"), "Writers": _meta("ANY Writers"),
                     "Admins": _meta("MAJORITY Admins"), "BlockValidation": _meta("ANY Writers")},
        "Capabilities": CAPABILITIES["Orderer"],
    }
    if ord_org.consensus == "raft":
        section["OrdererType"] = "etcdraft"
        section["EtcdRaft"] = {"Consenters": [
            {"Host": n.address, "Port": n.listen, "ClientTLSCert": str(n.tls_dir / "server.crt"),
             "ServerTLSCert": str(n.tls_dir / "server.crt")} for n in layout.orderers]}
    else:
        section["OrdererType"] = "BFT"
        section["Policies"]["BlockValidation"] = _meta("MAJORITY Writers")  # ignored by BFT; kept explicit
        section["ConsenterMapping"] = [
            {"ID": n.index + 1, "Host": n.address, "Port": n.listen, "MSPID": ord_org.msp_id,
             "Identity": str(n.msp_dir / "signcerts" / f"{n.host}-cert.pem"),
             "ClientTLSCert": str(n.tls_dir / "server.crt"), "ServerTLSCert": str(n.tls_dir / "server.crt")}
            for n in layout.orderers]
        section["SmartBFT"] = {  # configtxgen fills no defaults: every duration must be given
            "RequestBatchMaxInterval": ord_org.batch_timeout, "RequestForwardTimeout": "5s",
            "RequestComplainTimeout": "20s", "RequestAutoRemoveTimeout": "3m0s", "ViewChangeResendInterval": "5s",
            "ViewChangeTimeout": "20s", "LeaderHeartbeatTimeout": "1m0s", "CollectTimeout": "1s",
            "IncomingMessageBufferSize": 200, "RequestPoolSize": 100000, "LeaderHeartbeatCount": 10}
    return section


def _endorsement_rule(channel: Channel) -> str:
    metas = [cc.endorsement_policy for cc in channel.chaincodes if cc.uses_channel_policy]
    return metas[0] if metas else "MAJORITY Endorsement"


def _profile(layout: Layout, channel: Channel) -> dict[str, Any]:
    orgs = [layout.consortium.org(m) for m in channel.members]
    return {
        "Policies": {"Readers": _meta("ANY Readers"), "Writers": _meta("ANY Writers"),
                     "Admins": _meta("MAJORITY Admins")},
        "Capabilities": CAPABILITIES["Channel"],
        "Orderer": _orderer(layout),
        "Application": {
            "Organizations": [_org(layout, o) for o in orgs],
            "Policies": {"Readers": _meta("ANY Readers"), "Writers": _meta("ANY Writers"),
                         "Admins": _meta("MAJORITY Admins"),
                         "LifecycleEndorsement": _meta("MAJORITY Endorsement"),
                         "Endorsement": _meta(_endorsement_rule(channel))},
            "Capabilities": CAPABILITIES["Application"],
        },
    }


def configtx(layout: Layout) -> dict[str, Any]:
    """The configtx.yaml document: a ``Profiles`` entry named after each channel."""
    return {"Profiles": {ch.name: _profile(layout, ch) for ch in layout.consortium.channels}}


def collections_config(layout: Layout, channel: Channel, chaincode: str) -> list[dict[str, Any]]:
    """Fabric's collection-config JSON (``--collections-config``) for one chaincode on one channel."""
    (cc,) = [c for c in channel.chaincodes if c.name == chaincode]
    return [{"name": c.name, "policy": c.policy, "requiredPeerCount": c.required_peer_count,
             "maxPeerCount": c.max_peer_count, "blockToLive": c.block_to_live,
             "memberOnlyRead": c.member_only_read, "memberOnlyWrite": c.member_only_write}
            for c in cc.collections]
