"""The devnet core runs from the shell's DevnetConfig and its cryptogen-layout crypto material."""

from __future__ import annotations

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from devnet_client import GatewayClient
from devnet_crypto import User
from qcchain_devnet.config import (
    ChaincodeConfig,
    ChannelConfig,
    DevnetConfig,
    OrdererConfig,
    OrgConfig,
)
from qcchain_devnet.material import ensure_material, user_msp_dir
from qcchain_devnet.node import DevNet
from qcchain_devnet.profiles import node_config


def _load_user(msp_dir, msp_id: str) -> User:
    key = serialization.load_pem_private_key((msp_dir / "keystore" / "priv_sk").read_bytes(), None)
    cert = next((msp_dir / "signcerts").glob("*.pem")).read_bytes()
    x509.load_pem_x509_certificate(cert)
    return User(msp_id, key, cert)  # type: ignore[arg-type]


def test_devnet_from_shell_config(tmp_path, chaincode) -> None:
    orgs = (OrgConfig("Inspection", "InspectionMSP", "inspection_body", "inspection.qcchain.example"),
            OrgConfig("Regulator", "RegulatorMSP", "regulator", "regulator.qcchain.example"))
    cc = ChaincodeConfig("kv", "AND('InspectionMSP.peer','RegulatorMSP.peer')")
    cfg = DevnetConfig(name="t", orgs=orgs, orderer=OrdererConfig(),
                       channels=(ChannelConfig("qcchannel", ("Inspection", "Regulator"), (cc,)),), port=0)
    cfg = cfg.with_chaincode_servers({"kv": f"127.0.0.1:{chaincode.port}"}, {"kv": "testcc:0123"})
    crypto = tmp_path / "crypto"
    net = DevNet(tmp_path, node_config(cfg.with_material(crypto, ensure_material(crypto, cfg))))
    net.start()
    try:
        ca = (crypto / "devnet" / "tlsca" / "tlsca.devnet.qcchain.example-cert.pem").read_bytes()
        ch = grpc.secure_channel(f"127.0.0.1:{net.port}", grpc.ssl_channel_credentials(ca))
        user = _load_user(user_msp_dir(crypto, "inspection.qcchain.example", "User1"), "InspectionMSP")
        client = GatewayClient(ch, user, "qcchannel")
        code, block, _ = client.submit_and_wait("kv", "put", "a", "b")
        assert (code, block) == (0, 1)
        assert client.evaluate("kv", "get", "a") == b"b"
        ch.close()
    finally:
        net.stop()
