"""The signed envelope of a QC record (``records:submit``), shared by the chaincode and the SDK.

The envelope is canonical JSON with exactly :data:`ENVELOPE_FIELDS`; the owner org's SM2 ``sign`` key
signs its canonical bytes. An L3 payload travels as transient data (:data:`TRANSIENT_CIPHERTEXT`,
:data:`TRANSIENT_WRAPPED_KEYS`) into the private data collection :data:`L3_COLLECTION`.
"""

from __future__ import annotations

__all__ = [
    "ENVELOPE_FIELDS",
    "STAGES",
    "BUS_INSERT",
    "BUS_UPDATE",
    "BUS_DELETE",
    "BUS_TYPES",
    "INDEXES",
    "L3_COLLECTION",
    "TRANSIENT_CIPHERTEXT",
    "TRANSIENT_WRAPPED_KEYS",
]

ENVELOPE_FIELDS: tuple[str, ...] = ("record_id", "category", "equipment_code", "stage", "owner_msp", "bus_type",
                                    "version", "grade", "digest", "exec_type", "receiver_role", "key_id",
                                    "ciphertext_digest", "channel")
#: Life-cycle stages of the equipment a record belongs to.
STAGES: tuple[str, ...] = ("production", "use", "maintenance", "inspection", "supervision")
BUS_INSERT, BUS_UPDATE, BUS_DELETE = "I", "U", "D"
BUS_TYPES: tuple[str, ...] = (BUS_INSERT, BUS_UPDATE, BUS_DELETE)
#: Record indexes queried by ``records:query``: index name -> envelope field.
INDEXES: dict[str, str] = {"equipment": "equipment_code", "category": "category", "stage": "stage"}
L3_COLLECTION = "collectionL3"
TRANSIENT_CIPHERTEXT = "ciphertext"  # 12-byte nonce || SM4-GCM ciphertext || tag
TRANSIENT_WRAPPED_KEYS = "wrapped_keys"  # JSON {msp_id: {"key_id", "wrapped": hex}}
