"""The chaincode's adapter of the shared QC data schemas (:mod:`qcchain_model.tables`, one source of truth
for chaincode and ingestion): same public names as before the schemas moved, errors as :class:`InvalidInput`.

Schemas are read once, at import of :mod:`qcchain_model.tables`, never during a transaction.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from qcchain_model.errors import SchemaViolations
from qcchain_model.tables import CATEGORIES, SCHEMAS, violations_of
from qcchain_model.tables import schema_of as _schema_of

from .errors import InvalidInput

log = logging.getLogger(__name__)

__all__ = ["CATEGORIES", "SCHEMAS", "validate_payload", "schema_of", "MAX_ERRORS"]

MAX_ERRORS = 50  # cap on the number of violations listed in one error message


def schema_of(category: str) -> Mapping[str, Any]:
    """The JSON Schema of ``category`` (read-only view).

    Raises:
        InvalidInput: unknown category.
    """
    try:
        return _schema_of(category)
    except SchemaViolations as exc:
        raise InvalidInput(str(exc)) from exc


def validate_payload(category: str, payload: dict[str, Any]) -> None:
    """Validate ``payload`` against the schema of ``category``.

    Every violation is reported at once, each with its JSON path (``$.field``), sorted by path.

    Raises:
        InvalidInput: unknown category, a payload that is not an object, or schema violations.
    """
    try:
        found = violations_of(category, payload)
    except SchemaViolations as exc:
        raise InvalidInput(str(exc)) from exc
    if not isinstance(payload, dict):
        raise InvalidInput(f"{category} payload: $: must be a JSON object, not {type(payload).__name__}")
    if found:
        errors = sorted(f"{v.field}: {v.reason}" for v in found)
        listed = errors[:MAX_ERRORS]
        more = f"; ... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        raise InvalidInput(f"{category} payload invalid ({len(errors)} violations): " + "; ".join(listed) + more)
