"""qcchain business contracts: governance (members, policies, proposals), SM2 key registry, grading,
graded QC records, sharing grants and audit queries — one Fabric chaincode named ``qcchain``.

:data:`CONTRACT_CLASSES` lists them in serving order (governance first = the default contract).
"""

from __future__ import annotations

__all__ = ["contract_classes"]


def contract_classes() -> list[type]:
    """Every contract class of the chaincode, governance first (imported lazily)."""
    from .audit import Audit
    from .governance import Governance
    from .grading import Grading
    from .keyregistry import KeyRegistry
    from .records import Records
    from .sharing import Sharing

    return [Governance, KeyRegistry, Grading, Records, Sharing, Audit]
