"""Data grades L1..L4 (ARCHITECTURE decision 7), shared by the chaincode and the SDK.

The grade of a record decides who may read it (audiences) and where its payload lives (placement);
both are policy data (``policies/grading.yaml``). This module only fixes the names and their order.
"""

from __future__ import annotations

from .errors import UnknownGrade

__all__ = [
    "GRADES",
    "AUDIENCE_ALL",
    "AUDIENCE_OWNER",
    "AUDIENCE_GRANTEES",
    "ROLE_AUDIENCE_PREFIX",
    "PLACEMENT_WORLD_STATE",
    "PLACEMENT_PRIVATE_ENCRYPTED",
    "PLACEMENT_OFF_CHAIN",
    "PLACEMENTS",
    "grade_rank",
]

#: Every grade, least to most restricted.
GRADES: tuple[str, ...] = ("L1", "L2", "L3", "L4")

AUDIENCE_ALL = "all_members"
AUDIENCE_OWNER = "owner"
AUDIENCE_GRANTEES = "grantees"
#: ``role:<role>`` admits the active members of that role.
ROLE_AUDIENCE_PREFIX = "role:"

PLACEMENT_WORLD_STATE = "world_state"  # payload stored with the metadata (L1/L2)
PLACEMENT_PRIVATE_ENCRYPTED = "private_encrypted"  # SM4-GCM ciphertext in the private data collection (L3)
PLACEMENT_OFF_CHAIN = "off_chain"  # only the digest on chain (L4)
PLACEMENTS: tuple[str, ...] = (PLACEMENT_WORLD_STATE, PLACEMENT_PRIVATE_ENCRYPTED, PLACEMENT_OFF_CHAIN)


def grade_rank(grade: str) -> int:
    """Return 1..4 for ``"L1"``..``"L4"``. Pure.

    Raises:
        UnknownGrade: ``grade`` is not one of :data:`GRADES`.
    """
    if grade not in GRADES:
        raise UnknownGrade(f"grade {grade!r} is not one of {', '.join(GRADES)}")
    return GRADES.index(grade) + 1
