"""The node record of a generated identity: what the on-chain node registry (T-7.2.3) admits.

:func:`read_record` reads a node's TLS and signing certificates as cryptogen or Fabric CA laid them out
and builds its record with ``qcchain_sdk.nodeadmission.node_record`` (fingerprints, subject, issuer, expiry).
Used by :mod:`qcchain_network.registry` (checks and attestations) and
:mod:`qcchain_network.testadmins` (test networks' admissions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509

from .errors import RegistryError
from qcchain_sdk import nodeadmission as sdk_nodes

GOVERNANCE_CHANNEL = "qcchannel"
CHAINCODE = "qcchain"


def cert_sha256(pem: bytes) -> str:
    """SHA-256 (hex) of a PEM certificate's DER encoding.

    Raises:
        ValueError: ``pem`` is not a PEM certificate.
    """
    return sdk_nodes.cert_sha256(x509.load_pem_x509_certificate(pem))


def read_record(node_id: str, org_msp: str, kind: str, tls_dir: Path, msp_dir: Path) -> dict[str, Any]:
    """The node record of a generated identity (``tls/server.crt``, ``msp/signcerts/*.pem``).

    Raises:
        RegistryError: a certificate is missing or unparsable.
    """
    try:
        tls = (tls_dir / "server.crt").read_bytes()
        sign = next(iter(sorted((msp_dir / "signcerts").glob("*.pem")))).read_bytes()
    except (OSError, StopIteration):
        raise RegistryError(f"{node_id}: its TLS or signing certificate is missing under {tls_dir.parent}") from None
    try:
        return dict(sdk_nodes.node_record(node_id, org_msp, kind, tls, sign))
    except ValueError as exc:
        raise RegistryError(f"{node_id}: {exc}") from None
