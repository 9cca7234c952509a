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
    "CHANNEL_OPERATIONS",
    "OPERATIONS",
    "OPTIONAL_OPERATIONS",
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
#: Channels at run time: ``channel_create`` (subject: the channel; artifact ``{channel, members: [MSP ids]}``)
#: and ``channel_join`` (subject: the MSP id; artifact ``{channel, msp_id}``).
CHANNEL_OPERATIONS: tuple[str, ...] = ("channel_create", "channel_join")
OPERATIONS: tuple[str, ...] = (UNIT_OPERATIONS + ("policy_update",) + MEMBER_OPERATIONS + NODE_OPERATIONS
                               + CHANNEL_OPERATIONS)
#: Operations a governance policy may leave without a rule (added after policies were installed on running
#: chains): a proposal for one is refused until a ``policy_update`` gives it a rule.
OPTIONAL_OPERATIONS: tuple[str, ...] = CHANNEL_OPERATIONS
#: Operations whose proposal carries an artifact (policy document, member record, node record(s), channel).
ARTIFACT_OPERATIONS: tuple[str, ...] = ("policy_update", "member_admit", "node_admit") + CHANNEL_OPERATIONS
#: Operations whose ``package_digest`` is required (package SHA-256, or SM3 of the artifact).
DIGEST_OPERATIONS: tuple[str, ...] = ("deploy", "upgrade", "policy_update", "member_admit", "node_admit") \
    + CHANNEL_OPERATIONS
#: Operations that name a non-empty ``version``.
VERSIONED_OPERATIONS: tuple[str, ...] = ("deploy", "upgrade", "policy_update")
#: Operations naming their subject (policy name, MSP id or channel) in ``target.contract``.
SUBJECT_OPERATIONS: tuple[str, ...] = ("policy_update", "member_admit", "member_remove") + CHANNEL_OPERATIONS
#: Optional body fields of deploy/upgrade: hex SM3 of the package's security review report and of its
#: verification report (or :data:`NOT_VERIFIED`), so signers approve the package with its evidence.
EVIDENCE_FIELDS: tuple[str, ...] = ("review_sm3", "verification_sm3")
NOT_VERIFIED = "not verified"
