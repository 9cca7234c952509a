"""JSON Schemas (draft 2020-12) of the QC data categories, and payload validation.

One schema per category lives in ``qcchain_contracts/schemas/<category>.json`` (package data). The
D-A field tables of the dual-prevention standard became schemas: C -> string with ``maxLength``,
N -> the table's numeric codes, D -> ``YYYY-MM-DD`` (pattern + calendar check), M -> an object
``{name, media_type, sm3, size}`` referencing media kept off chain, plus the D-A.2 envelope
(``ID``, ``batchNo``, ``txCode``, ``busType``, ``updateDate``).

Schemas are read ONCE, at import, from the installed package - never during a transaction - and
checked against the draft 2020-12 meta-schema then, so a broken schema file fails at start-up.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from .errors import InvalidInput

log = logging.getLogger(__name__)

__all__ = ["CATEGORIES", "SCHEMAS", "validate_payload", "schema_of", "MAX_ERRORS"]

MAX_ERRORS = 50  # cap on the number of violations listed in one error message


def _load_schemas() -> dict[str, dict[str, Any]]:
    """Read every ``schemas/*.json`` of the package.

    Raises:
        RuntimeError: a schema file is not valid JSON or not a valid draft 2020-12 schema.
    """
    loaded: dict[str, dict[str, Any]] = {}
    folder = Path(__file__).resolve().parent / "schemas"  # package data installed beside this module
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        name = entry.name[: -len(".json")]
        try:
            schema = json.loads(entry.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
        except (ValueError, SchemaError) as exc:
            raise RuntimeError(f"schema file schemas/{entry.name} is invalid: {exc}") from exc
        loaded[name] = schema
    if not loaded:
        raise RuntimeError("no schema files found in qcchain_contracts/schemas/")
    return loaded


_SCHEMAS = _load_schemas()
SCHEMAS: Mapping[str, Mapping[str, Any]] = MappingProxyType(_SCHEMAS)
CATEGORIES: tuple[str, ...] = tuple(sorted(_SCHEMAS))
_FORMATS = FormatChecker(formats=("date",))
_VALIDATORS = {name: Draft202012Validator(schema, format_checker=_FORMATS) for name, schema in _SCHEMAS.items()}


def schema_of(category: str) -> Mapping[str, Any]:
    """The JSON Schema of ``category`` (read-only view).

    Raises:
        InvalidInput: unknown category.
    """
    if category not in _SCHEMAS:
        raise InvalidInput(f"unknown category {category!r} (known: {', '.join(CATEGORIES)})")
    return SCHEMAS[category]


def _describe(error: Any) -> str:
    """One violation as ``path: what`` - naming the rule, never echoing the (possibly sensitive) value."""
    rule, expected = error.validator, error.validator_value
    if rule in ("required", "additionalProperties"):
        what = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    elif rule == "type":
        what = f"must be of type {expected}"
    elif rule in ("maxLength", "minLength"):
        what = f"must be {'at most' if rule == 'maxLength' else 'at least'} {expected} characters long"
    elif rule == "pattern":
        what = f"does not match {expected}"
    elif rule == "enum":
        what = "is not one of " + ", ".join(repr(v) for v in expected)
    elif rule == "const":
        what = f"must be {expected!r}"
    elif rule == "format":
        what = f"is not a valid {expected}"
    else:
        what = f"breaks the {rule!r} rule ({expected!r})"
    return f"{error.json_path}: {what}"


def _report(errors: list[Any]) -> list[str]:
    """Sorted violation texts; a ``format`` failure is dropped where the same field already failed its pattern."""
    patterned = {e.json_path for e in errors if e.validator == "pattern"}
    kept = [e for e in errors if not (e.validator == "format" and e.json_path in patterned)]
    return sorted(_describe(e) for e in kept)


def validate_payload(category: str, payload: dict[str, Any]) -> None:
    """Validate ``payload`` against the schema of ``category``.

    Every violation is reported at once, each with its JSON path (``$.field``), sorted by path.

    Raises:
        InvalidInput: unknown category, a payload that is not an object, or schema violations.
    """
    if category not in _VALIDATORS:
        raise InvalidInput(f"unknown category {category!r} (known: {', '.join(CATEGORIES)})")
    if not isinstance(payload, dict):
        raise InvalidInput(f"{category} payload: $: must be a JSON object, not {type(payload).__name__}")
    errors = _report(list(_VALIDATORS[category].iter_errors(payload)))
    if errors:
        listed = errors[:MAX_ERRORS]
        more = f"; ... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        raise InvalidInput(f"{category} payload invalid ({len(errors)} violations): " + "; ".join(listed) + more)
