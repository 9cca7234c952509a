"""The consortium's certificates for the Overview's expiry table (T-8.2c): every org's CA, TLS CA, admin
and node (peer / orderer) certificates found in a Fabric ``crypto-config`` directory (the devnet's, or a
network's public bundle) and in the connection profile. Read once when the console starts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

log = logging.getLogger(__name__)

__all__ = ["CertInfo", "scan_crypto_dir", "cert_info"]

#: (glob under an organisation directory, what the certificate is)
PATTERNS = (("ca/*-cert.pem", "CA"), ("msp/cacerts/*.pem", "CA"), ("tlsca/*-cert.pem", "TLS CA"),
            ("msp/tlscacerts/*.pem", "TLS CA"), ("users/Admin@*/msp/signcerts/*.pem", "admin"),
            ("peers/*/msp/signcerts/*.pem", "peer"), ("peers/*/tls/server.crt", "peer TLS"),
            ("orderers/*/msp/signcerts/*.pem", "orderer"), ("orderers/*/tls/server.crt", "orderer TLS"))


@dataclass(frozen=True)
class CertInfo:
    """One certificate: whose, what kind, its subject, expiry (epoch seconds) and SHA-256 fingerprint."""

    org: str
    kind: str
    subject: str
    not_after: int
    fingerprint: str


def cert_info(pem: bytes, org: str, kind: str) -> CertInfo:
    """Raises ValueError: not a PEM certificate."""
    cert = x509.load_pem_x509_certificate(pem)
    return CertInfo(org, kind, cert.subject.rfc4514_string(), int(cert.not_valid_after_utc.timestamp()),
                    cert.fingerprint(hashes.SHA256()).hex())


def scan_crypto_dir(root: Path) -> list[CertInfo]:
    """Every certificate of every organisation under ``root`` (``peerOrganizations/*``,
    ``ordererOrganizations/*``), each once (by fingerprint), soonest expiry first. Unreadable files are
    skipped with a log line naming the file; a missing directory gives an empty list."""
    seen: dict[str, CertInfo] = {}
    for org_dir in sorted(root.glob("*Organizations/*")):
        for pattern, kind in PATTERNS:
            for path in sorted(org_dir.glob(pattern)):
                try:
                    info = cert_info(path.read_bytes(), org_dir.name, kind)
                except (OSError, ValueError) as exc:
                    log.warning("certificate %s unreadable: %s", path, type(exc).__name__)
                    continue
                seen.setdefault(info.fingerprint, info)
    return sorted(seen.values(), key=lambda c: (c.not_after, c.org, c.kind))
