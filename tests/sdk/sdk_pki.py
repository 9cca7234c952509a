"""Throwaway PKI for SDK tests: per-org CAs, user/peer certificates, TLS certs, MSP directories."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class CertKey:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def new_ca(cn: str, org: str) -> CertKey:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn, org))
        .issuer_name(_name(cn, org))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return CertKey(cert, key)


def issue(ca: CertKey, cn: str, org: str, sans: list[str] | None = None) -> CertKey:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn, org))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False
        )
    return CertKey(builder.sign(ca.key, hashes.SHA256()), key)


@dataclass
class OrgPki:
    msp_id: str
    domain: str
    ca: CertKey
    admin: CertKey
    user: CertKey
    peer: CertKey


def new_org(msp_id: str, domain: str) -> OrgPki:
    ca = new_ca(f"ca.{domain}", domain)
    return OrgPki(
        msp_id=msp_id,
        domain=domain,
        ca=ca,
        admin=issue(ca, f"Admin@{domain}", domain),
        user=issue(ca, f"User1@{domain}", domain),
        peer=issue(ca, f"peer0.{domain}", domain),
    )


def write_msp(directory: Path, who: CertKey, style: str = "cryptogen", cert_name: str = "cert.pem") -> Path:
    """An MSP dir as cryptogen (keystore/priv_sk) or Fabric CA (keystore/<hex>_sk) writes it."""
    (directory / "signcerts").mkdir(parents=True, exist_ok=True)
    (directory / "keystore").mkdir(parents=True, exist_ok=True)
    (directory / "signcerts" / cert_name).write_bytes(who.cert_pem)
    key_name = "priv_sk" if style == "cryptogen" else "0a1b2c3d4e5f_sk"
    (directory / "keystore" / key_name).write_bytes(who.key_pem())
    return directory
