"""Certificate revocation lists of a ``cryptogen`` network's org CAs (pure builder + an accumulating store).

A ``--ca`` network gets its CRLs from its Fabric CA (``fabric-ca-client revoke --gencrl``). A ``cryptogen``
network has no CA server: ``cryptogen`` leaves each org CA's key beside its certificate
(``crypto/.../ca/priv_sk`` for signing identities, ``crypto/.../tlsca/priv_sk`` for TLS), so a removed
node's certificates are revoked here by building and signing a CRL with that key (``cryptography``).

The store (``<out>/crls/<org domain>/<ca|tlsca>/``) keeps ``revoked.json`` (every serial revoked so far
by that CA, with the node and time, and the last CRL number) and ``crl.pem``; each revocation issues a new
CRL listing all of them, numbered by the ``cRLNumber`` extension (RFC 5280 5.2.3), with the
``authorityKeyIdentifier`` = the CA's subject key identifier, which is how Fabric's MSP matches a CRL to
the CA that issued the certificate under validation.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .errors import NetworkError

log = logging.getLogger(__name__)

VALIDITY = dt.timedelta(days=365)  # nextUpdate; Fabric's MSP does not check it, RFC 5280 requires it
STATE = "revoked.json"
CRL_FILE = "crl.pem"


class CRLError(NetworkError, ValueError):
    """A CRL cannot be built: wrong CA key/certificate, a certificate not issued by that CA, or a store
    file that is not what this module writes (names the file and why)."""


@dataclass(frozen=True)
class Revoked:
    """One revoked certificate: its serial number, when it was revoked and the node it belonged to."""

    serial: int
    revoked_at: dt.datetime
    node: str


def _ski(ca_cert: x509.Certificate) -> x509.SubjectKeyIdentifier:
    try:
        return ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(ca_cert.public_key())  # type: ignore[arg-type]


def build_crl(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, revoked: list[Revoked],
              number: int, now: dt.datetime) -> x509.CertificateRevocationList:
    """A CRL issued by ``ca_cert`` (signed with ``ca_key``, ECDSA-SHA256) listing ``revoked`` (pure).

    Raises:
        CRLError: the key is not the CA certificate's key, or ``number`` is not positive.
    """
    if number < 1:
        raise CRLError(f"CRL number must be positive, got {number}")
    if ca_key.public_key().public_numbers() != ca_cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise CRLError(f"the CA key does not belong to the CA certificate {ca_cert.subject.rfc4514_string()}")
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
               .last_update(now).next_update(now + VALIDITY)
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(_ski(ca_cert)),
                              critical=False))
    for item in sorted(revoked, key=lambda r: r.serial):
        entry = (x509.RevokedCertificateBuilder().serial_number(item.serial).revocation_date(item.revoked_at)
                 .add_extension(x509.CRLReason(x509.ReasonFlags.cessation_of_operation), critical=False).build())
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(ca_key, hashes.SHA256())


def _load_state(path: Path) -> tuple[int, list[Revoked]]:
    """(last CRL number, revoked entries) of a store; (0, []) when it has none yet.

    Raises:
        CRLError: the file is unreadable or not in this module's format.
    """
    if not path.is_file():
        return 0, []
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        entries = [Revoked(int(e["serial"], 16), dt.datetime.fromisoformat(e["revoked_at"]), str(e["node"]))
                   for e in data["revoked"]]
        return int(data["crl_number"]), entries
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CRLError(f"{path}: not a CRL store state file ({exc})") from None


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def load_ca(ca_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA certificate (``*-cert.pem``) and key (``priv_sk``) ``cryptogen`` left in ``ca_dir``.

    Raises:
        CRLError: missing, several certificates, or unreadable (names the file).
    """
    certs = sorted(ca_dir.glob("*-cert.pem"))
    if len(certs) != 1:
        raise CRLError(f"{ca_dir}: expected one CA certificate (*-cert.pem), found {len(certs)}")
    try:
        cert = x509.load_pem_x509_certificate(certs[0].read_bytes())
    except (OSError, ValueError) as exc:
        raise CRLError(f"{certs[0]}: not a PEM certificate ({exc})") from None
    try:
        key = serialization.load_pem_private_key((ca_dir / "priv_sk").read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CRLError(f"{ca_dir / 'priv_sk'}: no usable CA private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CRLError(f"{ca_dir / 'priv_sk'}: not an ECDSA key (cryptogen writes ECDSA P-256)")
    return cert, key


def revoke(store: Path, ca_dir: Path, certs: list[tuple[str, x509.Certificate]], now: dt.datetime) -> Path:
    """Add ``certs`` (node name, certificate) to the CRL of the CA in ``ca_dir`` kept in ``store``; write
    the new CRL (all serials revoked so far, CRL number + 1) and return its path.

    Raises:
        CRLError: a certificate was not issued by that CA, or the CA material / store is unusable;
        nothing is written then. OSError: the store cannot be written.
    """
    ca_cert, ca_key = load_ca(ca_dir)
    for node, cert in certs:
        try:
            cert.verify_directly_issued_by(ca_cert)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise CRLError(f"the certificate of {node} (serial {cert.serial_number:x}) was not issued by "
                           f"{ca_cert.subject.rfc4514_string()} in {ca_dir}: {type(exc).__name__}") from None
    number, revoked = _load_state(store / STATE)
    known = {r.serial for r in revoked}
    revoked += [Revoked(c.serial_number, now, n) for n, c in certs if c.serial_number not in known]
    crl = build_crl(ca_cert, ca_key, revoked, number + 1, now)
    store.mkdir(parents=True, exist_ok=True)
    _write(store / CRL_FILE, crl.public_bytes(serialization.Encoding.PEM))
    state = {"ca": ca_cert.subject.rfc4514_string(), "crl_number": number + 1,
             "revoked": [{"serial": f"{r.serial:x}", "revoked_at": r.revoked_at.isoformat(), "node": r.node}
                         for r in sorted(revoked, key=lambda r: r.serial)]}
    _write(store / STATE, json.dumps(state, indent=2).encode("utf-8"))
    log.info("CRL %d of %s: %d revoked certificate(s)", number + 1, ca_dir.name, len(revoked))
    return store / CRL_FILE


def _load_crl(pem: bytes) -> x509.CertificateRevocationList:
    """Raises: CRLError: not a PEM CRL."""
    try:
        return x509.load_pem_x509_crl(pem)
    except ValueError as exc:
        raise CRLError(f"not a PEM CRL ({exc})") from None


def crl_serials(pem: bytes) -> set[int]:
    """The serial numbers a PEM CRL revokes.

    Raises:
        CRLError: not a PEM CRL.
    """
    return {r.serial_number for r in _load_crl(pem)}


def crl_aki(pem: bytes) -> bytes:
    """The ``authorityKeyIdentifier`` key id of a PEM CRL (b"" when it has none).

    Raises:
        CRLError: not a PEM CRL.
    """
    crl = _load_crl(pem)
    try:
        return crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier or b""
    except x509.ExtensionNotFound:
        return b""
