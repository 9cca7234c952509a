"""Node registry helpers (REQUIREMENTS T-7.2.3): build the on-chain record of an orderer or peer from its
certificates, and the governance proposal files that admit or remove nodes.

The record (checked field by field by the chaincode, ``qcchain_contracts.noderegistry``)::

    {"node_id", "org_msp", "kind": "orderer"|"peer", "consensus": kind == "orderer",
     "tls_cert_sha256", "sign_cert_sha256",   (hex SHA-256 of each certificate's DER)
     "subject", "issuer",                     (RFC 4514 strings of the signing certificate)
     "not_after"}                             (earliest expiry of the two certificates, unix seconds)

Proposal files go through the same path as every governance proposal: ``qcchain contract sign`` by each
org admin, then ``qcchain contract execute`` (:func:`qcchain_sdk.proposals.governed.precheck` / ``submit``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .errors import NodeError
from .proposals.proposalfile import ProposalFile, new_proposal

log = logging.getLogger(__name__)

__all__ = ["KINDS", "GENESIS", "MAX_GENESIS", "node_record", "admit_proposal", "remove_proposal", "cert_sha256",
           "normalize_fingerprint"]

KINDS = ("orderer", "peer")
GENESIS = "genesis"
MAX_GENESIS = 64
_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_MSP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _check_node_id(node_id: Any) -> str:
    if not isinstance(node_id, str) or not _NODE_ID.match(node_id) or node_id == GENESIS:
        raise NodeError(f"node id {str(node_id)[:80]!r} is not a host name of at most 255 characters "
                        "(letters, digits, '.', '_', '-'; 'genesis' is reserved)")
    return node_id


def _load_cert(pem: bytes, what: str, now: int | None) -> x509.Certificate:
    if not isinstance(pem, (bytes, bytearray)):
        raise NodeError(f"{what} certificate must be PEM bytes")
    try:
        cert = x509.load_pem_x509_certificate(bytes(pem))
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    except ValueError as exc:  # garbage, a bad extension encoding (cryptography raises ValueError for both)
        raise NodeError(f"{what} certificate is not a PEM X.509 certificate (or is malformed)") from exc
    if constraints is not None and constraints.ca:
        raise NodeError(f"{what} certificate is a CA certificate (basicConstraints CA:TRUE), not a node's own")
    if now is not None and int(cert.not_valid_after_utc.timestamp()) <= now:
        raise NodeError(f"{what} certificate expired at {int(cert.not_valid_after_utc.timestamp())} (now {now})")
    return cert


def cert_sha256(cert: x509.Certificate) -> str:
    """Hex SHA-256 of the certificate's DER encoding (the fingerprint ``openssl x509 -fingerprint`` shows)."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def normalize_fingerprint(value: Any, name: str = "tls_cert_sha256") -> str:
    """A SHA-256 fingerprint as the chain stores it (64 lower-case hex), from that form or the one
    ``openssl x509 -fingerprint -sha256`` prints (upper case, colon-separated).

    Raises:
        NodeError: not 32 bytes of hex (the value is not echoed).
    """
    text = value.replace(":", "").strip().lower() if isinstance(value, str) else ""
    if not _HEX64.match(text):
        raise NodeError(f"{name} is not a SHA-256 fingerprint (64 hex digits, colons allowed)")
    return text


def node_record(node_id: str, org_msp: str, kind: str, tls_cert_pem: bytes, sign_cert_pem: bytes,
                now: int | None = None) -> dict[str, Any]:
    """The node record of an orderer or peer, from its TLS and signing (enrolment) certificates.

    ``subject`` and ``issuer`` are the signing certificate's (RFC 4514); ``not_after`` is the earlier expiry
    of the two certificates (unix seconds). With ``now`` (unix seconds) a certificate expired by then is
    refused here rather than by the chaincode (which always checks against the transaction time).

    Raises:
        NodeError: unparsable certificate (PEM garbage, only the first certificate of a PEM bundle is read),
            a CA certificate (basicConstraints CA:TRUE), a certificate expired at ``now``, kind not
            orderer/peer, malformed node id or MSP id, the same certificate given for TLS and signing, or a
            subject/issuer that is empty, over 512 characters or holds control characters.
    """
    _check_node_id(node_id)
    if kind not in KINDS:
        raise NodeError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if not isinstance(org_msp, str) or not _MSP.match(org_msp):
        raise NodeError(f"org MSP id {str(org_msp)[:80]!r} is not a valid MSP id")
    tls, sign = _load_cert(tls_cert_pem, "TLS", now), _load_cert(sign_cert_pem, "signing", now)
    tls_fp, sign_fp = cert_sha256(tls), cert_sha256(sign)
    if tls_fp == sign_fp:
        raise NodeError(f"node {node_id}: the TLS and signing certificates are the same certificate")
    not_after = min(tls.not_valid_after_utc, sign.not_valid_after_utc)
    subject, issuer = sign.subject.rfc4514_string(), sign.issuer.rfc4514_string()
    if not all(text and len(text) <= 512 and text.isprintable() for text in (subject, issuer)):
        raise NodeError(f"node {node_id}: the signing certificate's subject/issuer must be 1..512 printable "
                        "characters")
    return {"node_id": node_id, "org_msp": org_msp, "kind": kind, "consensus": kind == "orderer",
            "tls_cert_sha256": tls_fp, "sign_cert_sha256": sign_fp, "subject": subject, "issuer": issuer,
            "not_after": int(not_after.timestamp())}


def _artifact(records: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    if not isinstance(records, list) or not records:
        raise NodeError("admit_proposal needs at least one node record")
    for record in records:
        if not isinstance(record, dict) or "node_id" not in record:
            raise NodeError("a node record is an object with a node_id (build it with node_record)")
        _check_node_id(record["node_id"])
    if len(records) == 1:
        return records[0]["node_id"], dict(records[0])
    if len(records) > MAX_GENESIS:
        raise NodeError(f"a genesis admission lists at most {MAX_GENESIS} nodes, not {len(records)}")
    ordered = sorted(records, key=lambda r: r["node_id"])
    ids = [r["node_id"] for r in ordered]
    if len(set(ids)) != len(ids):
        raise NodeError("genesis node records repeat a node id")
    return GENESIS, {"nodes": [dict(r) for r in ordered]}


def admit_proposal(records: list[dict[str, Any]], channel: str, chaincode: str, reason: str,
                   expiry: int) -> ProposalFile:
    """An unsigned ``node_admit`` proposal file: one record → that node (``target.contract`` = node id);
    several → the channel's genesis admission (``target.contract = "genesis"``, records sorted by id).

    The artifact travels in the file; ``package_digest`` is its SM3. The chaincode re-checks everything.

    Raises:
        NodeError: no records, a record without a valid node id, duplicate ids, more than 64 records.
        ProposalFileError: no expiry or another malformed proposal field.
    """
    subject, artifact = _artifact(records)
    proposal = new_proposal("node_admit", channel, chaincode, subject, reason=reason, expiry=expiry, artifact=artifact)
    log.info("node_admit proposal %s for %s", proposal.proposal_id[:16], subject)
    return proposal


def remove_proposal(node_id: str, channel: str, chaincode: str, reason: str, expiry: int) -> ProposalFile:
    """An unsigned ``node_remove`` proposal file for ``node_id``.

    Raises:
        NodeError: malformed node id.
        ProposalFileError: no expiry or another malformed proposal field.
    """
    _check_node_id(node_id)
    return new_proposal("node_remove", channel, chaincode, node_id, reason=reason, expiry=expiry)
