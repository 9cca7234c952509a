"""Test identities made with ``cryptography`` (and the shell's CA helpers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from qcchain_devnet.material import CA, issue
from qcchain_devnet.model import ChaincodeDef, ChannelDef, CollectionDef, NodeConfig
from qcchain_devnet.protoutil import serialize_identity, sign_ecdsa

ORGS = ("Org1MSP", "Org2MSP", "Org3MSP")


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class User:
    """A client identity: MSP ID, key and certificate."""

    msp_id: str
    key: ec.EllipticCurvePrivateKey
    cert_pem: bytes

    @property
    def creator(self) -> bytes:
        return serialize_identity(self.msp_id, self.cert_pem)

    def sign(self, data: bytes) -> bytes:
        return sign_ecdsa(self.key, data)


def make_user(ca: CA, msp_id: str, cn: str, ou: str = "client") -> User:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue(ca, cn, key.public_key(), ous=(ou,))
    return User(msp_id, key, cert.public_bytes(serialization.Encoding.PEM))


def node_config(crypto: Any, cc_port: int, policy: str = "AND('Org1MSP.peer','Org2MSP.peer')",
                **kw: object) -> NodeConfig:
    coll = CollectionDef(name="secret", members=("Org1MSP", "Org2MSP"))
    address = f"127.0.0.1:{cc_port}"
    channel = ChannelDef(name="mychannel", members=ORGS, chaincodes=(
        ChaincodeDef(name="kv", endorsement_policy=policy, collections=(coll,), address=address,
                     package_id="testcc:0123"),
        ChaincodeDef(name="other", endorsement_policy="OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')",
                     address=address, package_id="testcc:0123")))
    return NodeConfig(orgs=crypto.orgs, channels=(channel,), tls_cert=crypto.tls_cert, tls_key=crypto.tls_key,
                      **kw)  # type: ignore[arg-type]
