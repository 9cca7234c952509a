"""Governance proposal bodies and operations, shared by the chaincode (which enforces them) and the SDK.

A proposal body is canonical JSON with exactly :data:`BODY_FIELDS`; its ``target`` has exactly
:data:`TARGET_FIELDS`. Its id is :func:`qcchain_model.messages.proposal_id`.
"""

from __future__ import annotations

__all__ = [
    "BODY_FIELDS",
    "TARGET_FIELDS",
    "UNIT_OPERATIONS",
    "MEMBER_OPERATIONS",
    "NODE_OPERATIONS",
    "OPERATIONS",
    "ARTIFACT_OPERATIONS",
    "DIGEST_OPERATIONS",
    "VERSIONED_OPERATIONS",
    "SUBJECT_OPERATIONS",
    "EVIDENCE_FIELDS",
    "NOT_VERIFIED",
]

BODY_FIELDS: tuple[str, ...] = ("operation", "target", "version", "package_digest", "reason", "nonce", "expiry")
TARGET_FIELDS: tuple[str, ...] = ("channel", "chaincode", "contract")
#: Lifecycle operations on a governed unit (see :data:`qcchain_model.thresholds.TRANSITIONS`).
UNIT_OPERATIONS: tuple[str, ...] = ("deploy", "upgrade", "freeze", "thaw", "destroy")
MEMBER_OPERATIONS: tuple[str, ...] = ("member_admit", "member_remove")
NODE_OPERATIONS: tuple[str, ...] = ("node_admit", "node_remove")
OPERATIONS: tuple[str, ...] = UNIT_OPERATIONS + ("policy_update",) + MEMBER_OPERATIONS + NODE_OPERATIONS
#: Operations whose proposal carries an artifact (policy document, member record, node record(s)).
ARTIFACT_OPERATIONS: tuple[str, ...] = ("policy_update", "member_admit", "node_admit")
#: Operations whose ``package_digest`` is required (package SHA-256, or SM3 of the artifact).
DIGEST_OPERATIONS: tuple[str, ...] = ("deploy", "upgrade", "policy_update", "member_admit", "node_admit")
#: Operations that name a non-empty ``version``.
VERSIONED_OPERATIONS: tuple[str, ...] = ("deploy", "upgrade", "policy_update")
#: Operations naming their subject (policy name or MSP id) in ``target.contract``.
SUBJECT_OPERATIONS: tuple[str, ...] = ("policy_update", "member_admit", "member_remove")
#: Optional body fields of deploy/upgrade: hex SM3 of the package's security review report and of its
#: verification report (or :data:`NOT_VERIFIED`), so signers approve the package with its evidence.
EVIDENCE_FIELDS: tuple[str, ...] = ("review_sm3", "verification_sm3")
NOT_VERIFIED = "not verified"
