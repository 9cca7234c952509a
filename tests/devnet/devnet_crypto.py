"""Test identities made with ``cryptography`` (and the shell's CA helpers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from qcchain_devnet.material import CA, issue, new_ca
from qcchain_devnet.model import (
    ChaincodeDef,
    ChannelDef,
    CollectionDef,
    NodeConfig,
    OrgIdentity,
)
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
    other = ChannelDef(name="org23", members=("Org2MSP", "Org3MSP"), chaincodes=(
        ChaincodeDef(name="kv", endorsement_policy="MAJORITY Endorsement", address=address, package_id="testcc:0123"),))
    return NodeConfig(orgs=crypto.orgs, channels=(channel, other), tls_cert=crypto.tls_cert, tls_key=crypto.tls_key,
                      **kw)  # type: ignore[arg-type]


@dataclass
class Crypto:
    cas: dict[str, CA]
    orgs: tuple[OrgIdentity, ...]
    users: dict[str, User]
    tls_ca: CA
    tls_cert: bytes
    tls_key: bytes


def build_crypto() -> Crypto:
    """Three orgs (CA, peer, User1) and a TLS CA with a server certificate for 127.0.0.1."""
    cas, orgs, users = {}, [], {}
    for msp in ORGS:
        domain = f"{msp[:-3].lower()}.example.com"
        ca = new_ca(f"ca.{domain}", domain)
        cas[msp] = ca
        peer = make_user(ca, msp, f"peer0.{domain}", "peer")
        orgs.append(OrgIdentity(name=msp[:-3], msp_id=msp, ca_certs=(ca.cert_pem,), peer_cert=peer.cert_pem,
                                peer_key=_pem(peer.key), peer_host=f"peer0.{domain}"))
        users[msp] = make_user(ca, msp, f"User1@{domain}")
    tls_ca = new_ca("tlsca.devnet.example.com", "devnet.example.com")
    tls_key = ec.generate_private_key(ec.SECP256R1())
    tls_cert = issue(tls_ca, "devnet", tls_key.public_key(), sans=("localhost", "127.0.0.1"), tls=True)
    return Crypto(cas, tuple(orgs), users, tls_ca, tls_cert.public_bytes(serialization.Encoding.PEM), _pem(tls_key))
