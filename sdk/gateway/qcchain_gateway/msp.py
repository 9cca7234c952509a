"""Load a client identity and signer from an MSP directory as ``cryptogen`` and Fabric CA write them.

Layout: ``<msp>/signcerts/*.pem`` (the certificate: ``cert.pem`` from Fabric CA,
``<user>@<domain>-cert.pem`` from cryptogen) and ``<msp>/keystore/`` holding the private key
(``priv_sk`` from cryptogen, ``<ski>_sk`` from Fabric CA, or ``*.pem``). When the keystore holds
several keys, the one matching the certificate's public key is used.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from qcchain_gateway.errors import IdentityError
from qcchain_gateway.identity import Identity, Signer, new_private_key_signer
from qcchain_gateway.pkcs11msp import bound_signer

logger = logging.getLogger(__name__)


def load_identity(msp_dir: str | Path, msp_id: str | None = None) -> tuple[Identity, Signer]:
    """Identity and ECDSA signer from ``msp_dir``.

    Pass ``msp_id`` when known (connection profiles do). Without it the MSP ID is derived from the
    issuer's O= by the cryptogen/fabric-samples convention (``inspection.qcchain.example`` →
    ``InspectionMSP``), since an MSP directory does not record its MSP ID.

    Raises:
        IdentityError: naming the directory or file that is missing, unreadable, or has no matching key.
    """
    root = Path(msp_dir)
    if not root.is_dir():
        raise IdentityError(f"MSP directory {root} does not exist")
    cert_path = _single_cert(root / "signcerts")
    cert_pem = cert_path.read_bytes()
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise IdentityError(f"{cert_path}: not a PEM X.509 certificate: {exc}") from exc
    # A key on a PKCS#11 token (bound by qcchain_gateway.pkcs11msp) needs no keystore/ file.
    signer = bound_signer(root) or new_private_key_signer(_matching_key(root / "keystore", cert))
    resolved_msp_id = msp_id or _msp_id_from_cert(cert, cert_path)
    return Identity(resolved_msp_id, cert_pem), signer


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """An unencrypted PEM ECDSA private key (PKCS#8 or SEC1) from ``path``.

    Raises:
        IdentityError: the file is unreadable or not an ECDSA key.
    """
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise IdentityError(f"{path}: not a readable unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise IdentityError(f"{path}: private key is {type(key).__name__}; Fabric MSP keys are ECDSA")
    return key


def _single_cert(signcerts: Path) -> Path:
    if not signcerts.is_dir():
        raise IdentityError(f"MSP signcerts directory {signcerts} does not exist")
    certs = sorted(p for p in signcerts.iterdir() if p.is_file() and p.suffix == ".pem")
    if not certs:
        raise IdentityError(f"no certificate (*.pem) in {signcerts}")
    if len(certs) > 1:
        names = ", ".join(p.name for p in certs)
        raise IdentityError(f"several certificates in {signcerts} ({names}); expected one")
    return certs[0]


def _key_candidates(keystore: Path) -> list[Path]:
    if not keystore.is_dir():
        raise IdentityError(f"MSP keystore directory {keystore} does not exist")
    found = sorted(
        p for p in keystore.iterdir() if p.is_file() and (p.name.endswith("_sk") or p.suffix in (".pem", ".key"))
    )
    if not found:
        raise IdentityError(f"no private key (priv_sk, *_sk or *.pem) in {keystore}")
    return found


def _matching_key(keystore: Path, cert: x509.Certificate) -> ec.EllipticCurvePrivateKey:
    wanted = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    problems: list[str] = []
    for path in _key_candidates(keystore):
        try:
            key = load_private_key(path)
        except IdentityError as exc:
            problems.append(str(exc))
            continue
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if public == wanted:
            return key
        problems.append(f"{path}: does not match the certificate")
    raise IdentityError(f"no private key in {keystore} matches the certificate: " + "; ".join(problems))


def _msp_id_from_cert(cert: x509.Certificate, cert_path: Path) -> str:
    orgs = cert.issuer.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    if not orgs:
        raise IdentityError(f"{cert_path}: cannot infer the MSP ID (issuer has no O=); pass msp_id")
    org = str(orgs[0].value).split(".")[0]
    return org[:1].upper() + org[1:] + "MSP"
