"""Certificates of a generated network: where each is, whom it names, when it expires (T-8.2 c)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from .errors import CertificateError

CERT_SUFFIXES = (".pem", ".crt")


@dataclass(frozen=True)
class CertInfo:
    """One certificate file."""

    path: Path
    subject: str
    issuer: str
    not_after: dt.datetime

    def days_left(self, now: dt.datetime) -> float:
        """Days until expiry (negative once expired)."""
        return (self.not_after - now).total_seconds() / 86400


def read_cert(path: Path) -> CertInfo:
    """Parse one PEM certificate.

    Raises:
        CertificateError: the file cannot be read or is not a PEM certificate (names the file).
    """
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CertificateError(f"{path}: not a readable PEM certificate ({exc})") from exc
    return CertInfo(path, cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), cert.not_valid_after_utc)


def scan(crypto_dir: Path) -> list[CertInfo]:
    """Every certificate under ``crypto_dir`` (cryptogen / Fabric CA layout), sorted by expiry then path.

    Private keys and other files are skipped.

    Raises:
        CertificateError: ``crypto_dir`` does not exist, or a certificate file is unreadable.
    """
    if not crypto_dir.is_dir():
        raise CertificateError(f"{crypto_dir}: no crypto material here (run scripts/network.sh up first)")
    certs = [read_cert(p) for p in sorted(crypto_dir.rglob("*"))
             if p.is_file() and p.suffix in CERT_SUFFIXES and "keystore" not in p.parts and not p.name.endswith(".key")]
    return sorted(certs, key=lambda c: (c.not_after, str(c.path)))


def expiring(certs: list[CertInfo], within_days: float, now: dt.datetime) -> list[CertInfo]:
    """The certificates that expire within ``within_days`` of ``now`` (or already have)."""
    return [c for c in certs if c.days_left(now) <= within_days]
