"""Test identities made with ``cryptography`` (and the shell's CA helpers)."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from qcchain_devnet.material import CA, issue
from qcchain_devnet.protoutil import serialize_identity, sign_ecdsa


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


