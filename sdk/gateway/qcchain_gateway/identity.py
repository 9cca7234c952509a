"""Client identity, signers and hash functions, injected into the Gateway as plain values/functions.

As in ``fabric-gateway``: an :class:`Identity` is an MSP ID plus an X.509 certificate (PEM); a
:data:`Signer` is any ``Callable[[bytes], bytes]`` that signs a *digest* (so keys may live in a file
keystore, an HSM or another machine); a :data:`HashFunction` turns a message into that digest
(default SHA-256, which is what Fabric's ECDSA MSP verifies).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from fabric_protos.msp import identities_pb2

from qcchain_gateway.errors import IdentityError, SigningError

logger = logging.getLogger(__name__)

Signer = Callable[[bytes], bytes]
"""Signs a digest and returns the signature bytes (DER for ECDSA)."""

HashFunction = Callable[[bytes], bytes]
"""Turns a message into the digest that the :data:`Signer` signs."""


def sha256(message: bytes) -> bytes:
    """SHA-256 digest (the default hash, as Fabric's ECDSA MSP expects)."""
    return hashlib.sha256(message).digest()


def sha384(message: bytes) -> bytes:
    """SHA-384 digest (for P-384 keys)."""
    return hashlib.sha384(message).digest()


def none_hash(message: bytes) -> bytes:
    """The identity 'hash': the signer receives the whole message (for signers that hash themselves)."""
    return message


@dataclass(frozen=True)
class Identity:
    """A client identity: MSP ID and PEM-encoded X.509 certificate.

    Raises:
        IdentityError: if ``msp_id`` is empty or ``cert_pem`` is not a PEM certificate.
    """

    msp_id: str
    cert_pem: bytes

    def __post_init__(self) -> None:
        if isinstance(self.cert_pem, str):
            object.__setattr__(self, "cert_pem", self.cert_pem.encode())
        if not self.msp_id:
            raise IdentityError("identity: msp_id is empty")
        try:
            x509.load_pem_x509_certificate(self.cert_pem)
        except ValueError as exc:
            raise IdentityError(f"identity {self.msp_id}: cert_pem is not a PEM X.509 certificate: {exc}") from exc

    @property
    def certificate(self) -> x509.Certificate:
        """The parsed certificate."""
        return x509.load_pem_x509_certificate(self.cert_pem)

    def creator(self) -> bytes:
        """The serialized ``msp.SerializedIdentity`` Fabric uses as transaction creator."""
        return identities_pb2.SerializedIdentity(mspid=self.msp_id, id_bytes=self.cert_pem).SerializeToString()


def new_private_key_signer(key: ec.EllipticCurvePrivateKey) -> Signer:
    """A signer for an ECDSA private key that signs a pre-computed digest.

    Signatures are ASN.1 DER with a low-S value (``s <= n/2``), as Fabric requires.

    Raises:
        IdentityError: if ``key`` is not an ECDSA private key.
    """
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise IdentityError(f"new_private_key_signer: unsupported key type {type(key).__name__}; need ECDSA")
    order = _curve_order(key.curve)
    half = order >> 1

    def sign(digest: bytes) -> bytes:
        algorithm = Prehashed(_prehash_algorithm(len(digest)))
        r, s = decode_dss_signature(key.sign(digest, ec.ECDSA(algorithm)))
        if s > half:
            s = order - s
        return encode_dss_signature(r, s)

    return sign


def no_signer(digest: bytes) -> bytes:
    """The default signer when none is given: refuses, so only offline signing works.

    Raises:
        SigningError: always.
    """
    raise SigningError("no signer configured: pass signer= to connect() or use offline signing")


_CURVE_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16
    ),
}


def _curve_order(curve: ec.EllipticCurve) -> int:
    try:
        return _CURVE_ORDERS[curve.name]
    except KeyError:
        raise IdentityError(f"unsupported ECDSA curve {curve.name}; Fabric uses P-256 or P-384") from None


def _prehash_algorithm(size: int) -> hashes.HashAlgorithm:
    if size == 32:
        return hashes.SHA256()
    if size == 48:
        return hashes.SHA384()
    if size == 64:
        return hashes.SHA512()
    raise SigningError(f"ECDSA signer: digest of {size} bytes; expected 32, 48 or 64")
