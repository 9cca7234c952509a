"""An MSP identity whose private key is on a PKCS#11 token: the process-wide binding of an MSP directory
to a token signer, as Fabric's PKCS#11 BCCSP does for its own processes.

An entry point (the CLI's ``ingest serve`` / ``console serve`` with ``--identity-key pkcs11:...``) opens a
:class:`~qcchain_gateway.pkcs11.Pkcs11Signer` and calls :func:`bind` with the MSP directory of the identity
it acts as; from then on :func:`qcchain_gateway.msp.load_identity` (and so ``connect_profile``, whichever
layer calls it) returns the directory's certificate with the token signer, and does not look into the
directory's ``keystore/`` (it may be empty: the key exists only on the token). The certificate must be
the token key's: :func:`bind` refuses otherwise.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from qcchain_gateway.errors import IdentityError
from qcchain_gateway.identity import Signer
from qcchain_gateway.pkcs11 import Pkcs11Signer, TokenError

logger = logging.getLogger(__name__)

__all__ = ["bind", "bound_signer", "unbind"]

_lock = threading.Lock()
_bound: dict[Path, Pkcs11Signer] = {}


def _key(msp_dir: str | Path) -> Path:
    return Path(msp_dir).resolve()


def _spki(public_key: object) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined]
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def bind(msp_dir: str | Path, signer: Pkcs11Signer) -> None:
    """Make identities loaded from ``msp_dir`` sign with ``signer`` (its key stays on the token).

    Raises:
        IdentityError: ``msp_dir`` has no single readable certificate in ``signcerts/``.
        TokenError: the certificate's public key is not the token key's (names the URI and the directory).
    """
    signcerts = Path(msp_dir) / "signcerts"
    certs = sorted(p for p in signcerts.glob("*.pem") if p.is_file()) if signcerts.is_dir() else []
    if len(certs) != 1:
        raise IdentityError(f"MSP directory {msp_dir}: expected one certificate in signcerts/, found {len(certs)}")
    try:
        cert = x509.load_pem_x509_certificate(certs[0].read_bytes())
    except (OSError, ValueError) as exc:
        raise IdentityError(f"{certs[0]}: not a readable PEM X.509 certificate ({type(exc).__name__})") from None
    if _spki(cert.public_key()) != _spki(signer.public_key()):
        raise TokenError(f"token key {signer.uri} is not the key of the certificate {certs[0]}")
    with _lock:
        _bound[_key(msp_dir)] = signer
    logger.info("identity of %s signs with token key %s", msp_dir, signer.uri)


def unbind(msp_dir: str | Path) -> Pkcs11Signer | None:
    """Undo :func:`bind` for ``msp_dir``; returns the signer that was bound (not closed), if any."""
    with _lock:
        return _bound.pop(_key(msp_dir), None)


def bound_signer(msp_dir: str | Path) -> Signer | None:
    """The token signer bound to ``msp_dir``, or None (then the key comes from its ``keystore/``)."""
    with _lock:
        if not _bound:
            return None
        return _bound.get(_key(msp_dir))
