"""Per-process settings: one block of ``CORE_*`` / ``ORDERER_*`` environment variables per process."""

from __future__ import annotations

from ..derive import Layout, OrdererNode, PeerNode


def peer_env(layout: Layout, peer: PeerNode) -> dict[str, str]:
    """Environment of one peer (FABRIC-NOTES.md "Settings that mattered"); it listens on and advertises
    its own address (its org's host)."""
    host = peer.address
    anchor = layout.peers_of(peer.org)[0]
    tls = peer.tls_dir
    return {
        "FABRIC_CFG_PATH": str(layout.out / "config"),
        "FABRIC_LOGGING_SPEC": layout.log_spec,
        "CORE_PEER_ID": peer.host,
        "CORE_PEER_LISTENADDRESS": f"{host}:{peer.listen}",
        "CORE_PEER_ADDRESS": f"{host}:{peer.listen}",
        "CORE_PEER_CHAINCODELISTENADDRESS": f"{host}:{peer.chaincode}",
        "CORE_PEER_CHAINCODEADDRESS": f"{host}:{peer.chaincode}",
        "CORE_PEER_GOSSIP_BOOTSTRAP": f"{anchor.address}:{anchor.listen}",
        "CORE_PEER_GOSSIP_EXTERNALENDPOINT": f"{host}:{peer.listen}",
        "CORE_PEER_GOSSIP_RECONNECTINTERVAL": "5s",
        "CORE_PEER_LOCALMSPID": peer.msp_id,
        "CORE_PEER_MSPCONFIGPATH": str(peer.msp_dir),
        "CORE_PEER_TLS_ENABLED": "true",
        "CORE_PEER_TLS_CERT_FILE": str(tls / "server.crt"),
        "CORE_PEER_TLS_KEY_FILE": str(tls / "server.key"),
        "CORE_PEER_TLS_ROOTCERT_FILE": str(tls / "ca.crt"),
        "CORE_PEER_FILESYSTEMPATH": str(peer.data_dir / "production"),
        "CORE_LEDGER_SNAPSHOTS_ROOTDIR": str(peer.data_dir / "snapshots"),
        "CORE_LEDGER_HISTORY_ENABLEHISTORYDATABASE": "true",
        "CORE_OPERATIONS_LISTENADDRESS": f"{host}:{peer.operations}",
        "CORE_METRICS_PROVIDER": "prometheus",
        "CORE_CHAINCODE_EXECUTETIMEOUT": "30s",
    }


def orderer_env(layout: Layout, node: OrdererNode) -> dict[str, str]:
    """Environment of one orderer (listening on its own address, the orderer org's host); its TLS pair
    doubles as its cluster client certificate."""
    host = node.address
    tls = node.tls_dir
    ca = str(tls / "ca.crt")
    admin_ca = str(layout.orderer_org_dir / "tlsca" / f"tlsca.{layout.consortium.orderer.domain}-cert.pem")
    return {
        "FABRIC_CFG_PATH": str(layout.out / "config"),
        "FABRIC_LOGGING_SPEC": layout.log_spec,
        "ORDERER_GENERAL_LISTENADDRESS": host,
        "ORDERER_GENERAL_LISTENPORT": str(node.listen),
        "ORDERER_GENERAL_LOCALMSPID": layout.consortium.orderer.msp_id,
        "ORDERER_GENERAL_LOCALMSPDIR": str(node.msp_dir),
        "ORDERER_GENERAL_BOOTSTRAPMETHOD": "none",
        "ORDERER_GENERAL_TLS_ENABLED": "true",
        "ORDERER_GENERAL_TLS_PRIVATEKEY": str(tls / "server.key"),
        "ORDERER_GENERAL_TLS_CERTIFICATE": str(tls / "server.crt"),
        "ORDERER_GENERAL_TLS_ROOTCAS": f"[{ca}]",
        "ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE": str(tls / "server.crt"),
        "ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY": str(tls / "server.key"),
        "ORDERER_GENERAL_CLUSTER_ROOTCAS": f"[{ca}]",
        "ORDERER_CHANNELPARTICIPATION_ENABLED": "true",
        "ORDERER_ADMIN_LISTENADDRESS": f"{host}:{node.admin}",
        "ORDERER_ADMIN_TLS_ENABLED": "true",
        "ORDERER_ADMIN_TLS_CERTIFICATE": str(tls / "server.crt"),
        "ORDERER_ADMIN_TLS_PRIVATEKEY": str(tls / "server.key"),
        "ORDERER_ADMIN_TLS_ROOTCAS": f"[{ca}]",
        "ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED": "true",
        "ORDERER_ADMIN_TLS_CLIENTROOTCAS": f"[{admin_ca}]",
        "ORDERER_OPERATIONS_LISTENADDRESS": f"{host}:{node.operations}",
        "ORDERER_METRICS_PROVIDER": "prometheus",
        "ORDERER_FILELEDGER_LOCATION": str(node.data_dir / "ledger"),
        "ORDERER_CONSENSUS_WALDIR": str(node.data_dir / "etcdraft" / "wal"),
        "ORDERER_CONSENSUS_SNAPDIR": str(node.data_dir / "etcdraft" / "snapshot"),
    }


def env_text(env: dict[str, str]) -> str:
    """``KEY=value`` lines (sourceable with ``set -a``), values single-quoted, keys in a stable order."""
    return "".join(f"{key}='{value}'\n" for key, value in env.items())
