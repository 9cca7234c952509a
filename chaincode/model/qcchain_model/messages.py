"""Wire formats both the chaincode and the SDK compute, defined once: what a new SM2 key signs as proof
of possession, and the id of a governance proposal. Pure and deterministic (no I/O, clock or randomness).
"""

from __future__ import annotations

from typing import Any

from qcchain_core.canonical import canonical_json

__all__ = ["REGISTRATION_PURPOSE", "registration_message", "proposal_id"]

#: The ``purpose`` field that makes a registration proof unusable as any other signed message.
REGISTRATION_PURPOSE = "qcchain-key-registration"


def registration_message(msp_id: str, key_id: str, cert_sha256: str, usages: list[str], not_before: int,
                         not_after: int) -> bytes:
    """The canonical bytes a new key signs as proof of possession when it is registered.

    Raises:
        qcchain_core.errors.CanonicalJSONError (a ValueError): a value cannot be canonical JSON.
    """
    return canonical_json({"purpose": REGISTRATION_PURPOSE, "msp_id": msp_id, "key_id": key_id,
                           "cert_sha256": cert_sha256, "usages": usages, "not_before": not_before,
                           "not_after": not_after})


def proposal_id(body: dict[str, Any]) -> str:
    """A governance proposal's id: hex SM3 of its canonical body.

    Raises:
        qcchain_core.errors.CanonicalJSONError (a ValueError): the body cannot be canonical JSON.
    """
    from qcchain_core.gm import sm3  # imported lazily: the GM backend is loaded on first use

    return sm3(canonical_json(body)).hex()
