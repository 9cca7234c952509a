"""Receipt verification: a batch counts as acknowledged only when its receipt checks out.

A receipt (ingestion service, ``qcchain_ingest.receipt``) is ``{"header", "tx_id", "block", "channel",
"key_id", "signature"}``: ``signature`` is hex DER SM2 (default UID) by the ingesting org over the canonical
JSON of all other fields; ``header`` is the on-chain batch header whose ``merkle_root`` is the SM3 Merkle
root (:mod:`qcchain_model.merkle`) over the canonical bytes of the records exactly as the agent sent them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from qcchain_core.canonical import canonical_json
from qcchain_core.errors import CryptoError
from qcchain_core.gm import SM2PublicKey
from qcchain_model.merkle import merkle_root

from .errors import ReceiptError

__all__ = ["load_receipt_key", "verify_receipt", "verify_receipt_signature", "records_root"]


def load_receipt_key(path: Path) -> SM2PublicKey:
    """The ingesting org's SM2 public key from a PEM file (public key or X.509 certificate).

    Raises:
        ReceiptError: unreadable file or not an SM2 public key.
    """
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise ReceiptError(f"server.receipt_key: cannot read {path} ({exc.strerror})") from None
    if b"CERTIFICATE" in pem:
        try:
            pem = x509.load_pem_x509_certificate(pem).public_key().public_bytes(Encoding.PEM,
                                                                               PublicFormat.SubjectPublicKeyInfo)
        except ValueError as exc:
            raise ReceiptError(f"server.receipt_key: {path} is not a readable certificate") from exc
    try:
        return SM2PublicKey.from_pem(pem)
    except (CryptoError, ValueError) as exc:
        raise ReceiptError(f"server.receipt_key: {path} is not an SM2 public key") from exc


def records_root(data: Sequence[dict[str, Any]]) -> str:
    """Hex SM3 Merkle root over the records' canonical bytes, in order."""
    return merkle_root([canonical_json(r) for r in data]).hex()


def verify_receipt_signature(receipt: Any, key: SM2PublicKey, context: str = "") -> None:
    """Check that ``receipt`` is a receipt signed by ``key``.

    Raises:
        ReceiptError: not a receipt, another key, or a bad signature.
    """
    if not isinstance(receipt, dict) or not isinstance(receipt.get("header"), dict):
        raise ReceiptError(f"{context}the answer carries no receipt")
    body = {k: v for k, v in receipt.items() if k != "signature"}
    if body.get("key_id") != key.key_id():
        raise ReceiptError(f"{context}receipt signed by another key than server.receipt_key")
    try:
        key.verify(bytes.fromhex(str(receipt.get("signature", ""))), canonical_json(body))
    except (CryptoError, ValueError):
        raise ReceiptError(f"{context}receipt signature does not verify") from None


def verify_receipt(receipt: Any, batch_no: str, data: Sequence[dict[str, Any]], key: SM2PublicKey) -> None:
    """Check ``receipt`` for the batch ``batch_no`` whose records are ``data``.

    Raises:
        ReceiptError: not a receipt, signed by another key, bad signature, other batch, or another Merkle root.
    """
    verify_receipt_signature(receipt, key, f"batch {batch_no}: ")
    header = receipt["header"]
    if header.get("batch_no", batch_no) != batch_no:
        raise ReceiptError(f"batch {batch_no}: receipt is for another batch")
    if header.get("merkle_root") != records_root(data):
        raise ReceiptError(f"batch {batch_no}: receipt Merkle root differs from the records sent")
