"""Personal fields of ingested records (D-4) and how they are masked for readers who are not entitled to
them: the first 3 and last 2 characters kept. One copy for every front that shows an ingested record
(``ingest:get`` and the records a cross-chain import stores).

Rules layer: no ledger access, no imports of other contract modules.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PERSONAL_FIELDS", "mask_record", "masked_fields"]

PERSONAL_FIELDS = ("idCardNo", "linkTel", "dLinkTel")


def _mask(value: str) -> str:
    return value[:3] + "*" * max(len(value) - 5, 1) + value[-2:] if len(value) > 5 else "*" * len(value)


def masked_fields(record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(a copy of ``record`` with its non-empty personal fields masked, the names of the fields masked)."""
    out, fields = dict(record), []
    for field in PERSONAL_FIELDS:
        value = out.get(field)
        if isinstance(value, str) and value:
            out[field] = _mask(value)
            fields.append(field)
    return out, fields


def mask_record(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` with its personal fields masked."""
    return masked_fields(record)[0]
