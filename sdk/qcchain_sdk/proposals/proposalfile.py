"""Governance proposal files: produced by ``qcchain contract deploy|upgrade|freeze|thaw|destroy`` and
``qcchain nodes propose-admit|propose-remove``, signed offline by org admins (``qcchain contract sign``),
submitted by ``qcchain contract execute``.

The file is canonical JSON (:func:`qcchain_core.canonical.canonical_json`)::

    {"format": "qcchain-governance-proposal/1",
     "proposal_id": hex SM3 of the canonical body (the chain's proposal id),
     "body": {operation, target{channel, chaincode, contract}, version, package_digest, reason, nonce, expiry},
     "package": {} | {"label", "package_id", "sha256", "sm3", "file"},   (deploy/upgrade: what Fabric installs)
     "signatures": [{"key_id", "public_key_pem", "signature"}, ...],     (SM2 over the canonical body)
     "artifact": {...},   (only for policy_update / member_admit / node_admit: the document whose hex SM3 of
                           the canonical JSON is body.package_digest; sent on chain with the proposal)
     "evidence": {"review": {...}, "verification": {...} | null}}   (deploy/upgrade written by `contract
                           deploy|upgrade`: the package's security review and verification reports, whose hex
                           SM3 of the canonical JSON are body.review_sm3 / body.verification_sm3 — the latter
                           "not verified" and the report null when compiled with --no-verify)

Every load re-checks the id and every signature, so a file edited after signing is refused.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcchain_core.canonical import canonical_json, canonical_loads
from qcchain_core.errors import CryptoError
from qcchain_core.gm import SM2PrivateKey, SM2PublicKey, sm3
from qcchain_model.messages import proposal_id
from qcchain_model.proposals import (
    ARTIFACT_OPERATIONS,
    BODY_FIELDS,
    EVIDENCE_FIELDS,
    NODE_OPERATIONS,
    NOT_VERIFIED,
    OPERATIONS,
    TARGET_FIELDS,
    UNIT_OPERATIONS,
)

from ..errors import ProposalFileError, SignatureError
from .body import build_proposal

log = logging.getLogger(__name__)

__all__ = ["FORMAT", "OPERATIONS", "NODE_OPERATIONS", "UNIT_OPERATIONS", "ProposalFile", "new_proposal", "artifact_sm3",
           "load", "save", "sign", "evidence_digests"]

FORMAT = "qcchain-governance-proposal/1"
FILE_FIELDS = ("format", "proposal_id", "body", "package", "signatures")
OPTIONAL_FIELDS = ("artifact", "evidence")
EVIDENCE_KINDS = ("review", "verification")
SIGNATURE_FIELDS = ("key_id", "public_key_pem", "signature")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class ProposalFile:
    """A proposal body, the package it concerns (deploy/upgrade) or its artifact (policy document, member or
    node record), and the offline signatures so far."""

    body: dict[str, Any]
    package: dict[str, Any] = field(default_factory=dict)
    signatures: list[dict[str, str]] = field(default_factory=list)
    artifact: dict[str, Any] | None = None
    evidence: dict[str, Any] | None = None

    @property
    def proposal_id(self) -> str:
        """Hex SM3 of the canonical body (the id the governance chaincode gives it)."""
        return proposal_id(self.body)

    @property
    def operation(self) -> str:
        return str(self.body["operation"])

    @property
    def target(self) -> dict[str, str]:
        return dict(self.body["target"])

    def to_json(self) -> bytes:
        """The canonical file bytes."""
        doc = {"format": FORMAT, "proposal_id": self.proposal_id, "body": self.body, "package": self.package,
               "signatures": self.signatures}
        if self.artifact is not None:
            doc["artifact"] = self.artifact
        if self.evidence is not None:
            doc["evidence"] = self.evidence
        return canonical_json(doc)

    def signed_key_ids(self) -> list[str]:
        return [s["key_id"] for s in self.signatures]


def new_proposal(operation: str, channel: str, chaincode: str, contract: str = "", version: str = "",
                 package_digest: str = "", reason: str = "", expiry: int = 0,
                 package: dict[str, Any] | None = None, artifact: dict[str, Any] | None = None,
                 evidence: dict[str, Any] | None = None) -> ProposalFile:
    """A fresh unsigned proposal (nonce: 128 random bits). For policy_update / member_admit / node_admit
    the ``artifact`` is carried in the file and ``package_digest`` is its SM3 (computed when empty). For
    deploy/upgrade, ``evidence`` ``{"review": report, "verification": report or None}`` is carried in the
    file and the body gets ``review_sm3`` / ``verification_sm3`` (``"not verified"`` for None).

    Raises:
        ProposalFileError: unknown operation, a deploy/upgrade without version or SHA-256 package digest,
            another operation with a package, an artifact missing / not an object / not matching the given
            digest, an artifact for an operation that takes none, evidence for another operation or without
            a review report, or no expiry.
    """
    if operation not in OPERATIONS:
        raise ProposalFileError(f"operation {operation!r} is not one of {', '.join(OPERATIONS)}")
    if operation in ("deploy", "upgrade") and (not version or not _HEX64.match(package_digest)):
        raise ProposalFileError(f"{operation} needs a version and the package's hex SHA-256 digest")
    if operation not in ("deploy", "upgrade") and package:
        raise ProposalFileError(f"{operation} concerns no package")
    if operation in ARTIFACT_OPERATIONS:
        if not isinstance(artifact, dict):
            raise ProposalFileError(f"{operation} carries its artifact (an object)")
        digest = artifact_sm3(artifact)
        if package_digest not in ("", digest):
            raise ProposalFileError(f"{operation}: package_digest is not the SM3 of the artifact's canonical JSON")
        package_digest = digest
    elif artifact is not None:
        raise ProposalFileError(f"{operation} takes no artifact")
    elif operation not in ("deploy", "upgrade") and package_digest:
        raise ProposalFileError(f"{operation} concerns no package")
    if not isinstance(expiry, int) or expiry <= 0:
        raise ProposalFileError("a proposal needs an expiry (seconds since the epoch)")
    if evidence is not None and operation not in ("deploy", "upgrade"):
        raise ProposalFileError(f"{operation} carries no review or verification report")
    body = build_proposal(operation, channel, chaincode=chaincode, contract=contract, version=version,
                          package_digest=package_digest, reason=reason, expiry=expiry,
                          evidence=None if evidence is None else evidence_digests(evidence))
    return ProposalFile(body, dict(package or {}), artifact=None if artifact is None else dict(artifact),
                        evidence=None if evidence is None else {k: evidence.get(k) for k in EVIDENCE_KINDS})


def evidence_digests(evidence: Any) -> dict[str, str]:
    """``{"review_sm3", "verification_sm3"}`` of ``{"review": report, "verification": report or None}``.

    Raises:
        ProposalFileError: not that shape (the review report is required; no other keys).
    """
    if not isinstance(evidence, dict) or set(evidence) - set(EVIDENCE_KINDS) or \
            not isinstance(evidence.get("review"), dict) or not isinstance(evidence.get("verification"), (dict, type(None))):
        raise ProposalFileError("evidence must be {review: report object, verification: report object or null}")
    verification = evidence["verification"]
    return {"review_sm3": artifact_sm3(evidence["review"]),
            "verification_sm3": NOT_VERIFIED if verification is None else artifact_sm3(verification)}


def artifact_sm3(artifact: dict[str, Any]) -> str:
    """Hex SM3 of the artifact's canonical JSON (its proposal's ``package_digest``).

    Raises:
        ProposalFileError: the artifact cannot be encoded as canonical JSON.
    """
    try:
        return sm3(canonical_json(artifact)).hex()
    except ValueError as exc:
        raise ProposalFileError(f"artifact is not canonical JSON: {exc}") from exc


def _check_artifact(body: dict[str, Any], artifact: Any, where: str) -> None:
    if body["operation"] not in ARTIFACT_OPERATIONS:
        if artifact is not None:
            raise ProposalFileError(f"{where}: {body['operation']} carries no artifact")
        return
    if not isinstance(artifact, dict):
        raise ProposalFileError(f"{where}: {body['operation']} needs its artifact (an object) in the file")
    if artifact_sm3(artifact) != body["package_digest"]:
        raise ProposalFileError(f"{where}: the artifact is not the one the body names (SM3 differs from package_digest)")


def _check_evidence(body: dict[str, Any], evidence: Any, where: str) -> None:
    if "review_sm3" not in body:
        if evidence is not None:
            raise ProposalFileError(f"{where}: evidence in a file whose body names no review/verification digest")
        return
    if body["operation"] not in ("deploy", "upgrade"):
        raise ProposalFileError(f"{where}: {body['operation']} carries no review or verification digest")
    if evidence is None:
        raise ProposalFileError(f"{where}: the body names review/verification digests but the file has no evidence")
    if evidence_digests(evidence) != {k: body[k] for k in EVIDENCE_FIELDS}:
        raise ProposalFileError(f"{where}: the review or verification report is not the one the body names "
                                "(SM3 differs from review_sm3 / verification_sm3)")


def _check_body(body: Any, where: str) -> dict[str, Any]:
    if not isinstance(body, dict) or sorted(body) not in (sorted(BODY_FIELDS), sorted(BODY_FIELDS + EVIDENCE_FIELDS)):
        raise ProposalFileError(f"{where}: body must have exactly the fields {', '.join(BODY_FIELDS)} "
                                f"(deploy/upgrade: and optionally {', '.join(EVIDENCE_FIELDS)})")
    if body["operation"] not in OPERATIONS:
        raise ProposalFileError(f"{where}: operation {body['operation']!r} is not a governance operation")
    target = body["target"]
    if not isinstance(target, dict) or sorted(target) != sorted(TARGET_FIELDS) or \
            not all(isinstance(target[k], str) for k in TARGET_FIELDS):
        raise ProposalFileError(f"{where}: body.target must have exactly the string fields {', '.join(TARGET_FIELDS)}")
    if isinstance(body["expiry"], bool) or not isinstance(body["expiry"], int):
        raise ProposalFileError(f"{where}: body.expiry must be an integer")
    return body


def verify_signature(body: dict[str, Any], entry: Any, where: str) -> None:
    """Check one signature entry: shape, key id = SM3 of the public key, SM2 signature over the body.

    Raises:
        ProposalFileError: malformed entry.
        SignatureError: key id mismatch or the signature does not verify.
    """
    if not isinstance(entry, dict) or sorted(entry) != sorted(SIGNATURE_FIELDS) or \
            not all(isinstance(entry[k], str) for k in SIGNATURE_FIELDS):
        raise ProposalFileError(f"{where}: a signature must have exactly the string fields {', '.join(SIGNATURE_FIELDS)}")
    try:
        public = SM2PublicKey.from_pem(entry["public_key_pem"].encode("ascii"))
        if public.key_id() != entry["key_id"]:
            raise SignatureError(f"{where}: key_id {entry['key_id'][:16]}… is not the SM3 of its public key")
        public.verify(bytes.fromhex(entry["signature"]), canonical_json(body))
    except (CryptoError, ValueError, UnicodeEncodeError) as exc:
        if isinstance(exc, SignatureError):
            raise
        raise SignatureError(f"{where}: signature of key {entry['key_id'][:16]}… does not verify over this body "
                             "(file changed after signing?)") from exc


def load(path: Path) -> ProposalFile:
    """Read and fully check a proposal file.

    Raises:
        ProposalFileError: unreadable, not canonical JSON, wrong format/fields, id not the SM3 of the body.
        SignatureError: a signature does not verify or a key signed twice.
    """
    where = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ProposalFileError(f"{where}: cannot read ({exc.strerror})") from exc
    try:
        doc = canonical_loads(raw.strip())
    except ValueError as exc:
        raise ProposalFileError(f"{where}: not canonical JSON ({exc})") from exc
    if canonical_json(doc) != raw.strip():
        raise ProposalFileError(f"{where}: not canonical JSON (sorted keys, no whitespace); was it re-formatted?")
    if not isinstance(doc, dict) or sorted(set(doc) - set(OPTIONAL_FIELDS)) != sorted(FILE_FIELDS) or \
            doc["format"] != FORMAT:
        raise ProposalFileError(f"{where}: not a {FORMAT} file (fields {', '.join(FILE_FIELDS)}[, artifact][, evidence])")
    body = _check_body(doc["body"], where)
    if not isinstance(doc["package"], dict) or not isinstance(doc["signatures"], list):
        raise ProposalFileError(f"{where}: package must be an object and signatures a list")
    _check_artifact(body, doc.get("artifact"), where)
    _check_evidence(body, doc.get("evidence"), where)
    proposal = ProposalFile(body, doc["package"], doc["signatures"], doc.get("artifact"), doc.get("evidence"))
    if doc["proposal_id"] != proposal.proposal_id:
        raise ProposalFileError(f"{where}: proposal_id is not the SM3 of the body (file edited?)")
    for i, entry in enumerate(proposal.signatures):
        verify_signature(body, entry, f"{where}: signature {i + 1}")
    if len(set(proposal.signed_key_ids())) != len(proposal.signatures):
        raise SignatureError(f"{where}: a key signed twice")
    return proposal


def save(proposal: ProposalFile, path: Path, overwrite: bool = False) -> Path:
    """Write the canonical file atomically (``overwrite=False`` refuses an existing file).

    Raises:
        ProposalFileError: the file exists (and not ``overwrite``) or cannot be written.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ProposalFileError(f"{path}: file exists; refusing to overwrite")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".proposal-", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(proposal.to_json() + b"\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise ProposalFileError(f"{path}: cannot write ({exc.strerror})") from exc
    return path


def sign(proposal: ProposalFile, key: SM2PrivateKey, now: int) -> dict[str, str]:
    """Append ``key``'s SM2 signature over the canonical body; returns the new entry.

    Raises:
        ProposalFileError: the proposal expired (``now`` > expiry).
        SignatureError: this key already signed.
    """
    if now > int(proposal.body["expiry"]):
        raise ProposalFileError(f"proposal {proposal.proposal_id[:16]}… expired at {proposal.body['expiry']}")
    public = key.public_key()
    if public.key_id() in proposal.signed_key_ids():
        raise SignatureError(f"key {public.key_id()[:16]}… already signed this proposal")
    entry = {"key_id": public.key_id(), "public_key_pem": public.to_pem().decode("ascii"),
             "signature": key.sign(canonical_json(proposal.body)).hex()}
    proposal.signatures.append(entry)
    log.info("signed proposal %s with key %s", proposal.proposal_id[:16], public.key_id()[:16])
    return entry
