"""The QC data categories as JSON Schemas (draft 2020-12), and record validation — one source of truth for
the business chaincode and the ingestion service.

One schema per category lives in ``qcchain_model/schemas/<category>.json`` (package data). The D-A field
tables of the dual-prevention standard became schemas: C -> string with ``maxLength``, N -> the table's
numeric codes, D -> ``YYYY-MM-DD`` (pattern + calendar check), M -> an object ``{name, media_type, sm3,
size}`` referencing media kept off chain, plus the D-A.2 envelope (``ID``, ``batchNo``, ``txCode``,
``busType``, ``updateDate``). :data:`TX_CODES` maps the D-A.2 ``txCode`` 01-09 to its category.

Schemas are read ONCE, at import, from the installed package - never during a transaction - and checked
against the draft 2020-12 meta-schema then, so a broken schema file fails at start-up. Pure and
deterministic otherwise: violations are sorted, and never carry the submitted value.

Two validators per schema, compiled from the same file: ``fastjsonschema`` (generated Python, ~30x faster)
answers "valid?" on the hot path of valid records; only a record it rejects goes through ``jsonschema``,
whose errors name every violation. The schemas use only keywords both implement identically (type,
properties, required, additionalProperties, min/maxLength, pattern, enum, const, local ``$ref``), and the
``date`` format is the same function in both (ASCII ``YYYY-MM-DD`` + a calendar date); a differential
test (``tests/ingest/test_tables.py``) holds the two to the same verdict.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, NamedTuple

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from .errors import SchemaViolations

__all__ = ["CATEGORIES", "SCHEMAS", "TX_CODES", "Violation", "schema_of", "violations_of", "check_record",
           "category_of_txcode"]

#: D-A.2 txCode -> category (tables A.3-A.11).
TX_CODES: Mapping[str, str] = MappingProxyType({
    "01": "unit", "02": "department", "03": "personnel", "04": "rules", "05": "training",
    "06": "risk_point", "07": "hazard_source", "08": "risk_picture", "09": "hidden_danger",
})


class Violation(NamedTuple):
    """One schema violation: JSON path of the field (``$.linkTel``) and what rule it breaks."""

    field: str
    reason: str


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
        raise RuntimeError("no schema files found in qcchain_model/schemas/")
    return loaded


_SCHEMAS = _load_schemas()
SCHEMAS: Mapping[str, Mapping[str, Any]] = MappingProxyType(_SCHEMAS)
CATEGORIES: tuple[str, ...] = tuple(sorted(_SCHEMAS))
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


def is_date(value: object) -> bool:
    """The ``date`` format: ``YYYY-MM-DD`` (ASCII digits) naming a calendar date; non-strings pass."""
    if not isinstance(value, str):
        return True
    if not _DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


_FORMATS = FormatChecker(formats=())
_FORMATS.checks("date")(is_date)
_VALIDATORS = {name: Draft202012Validator(schema, format_checker=_FORMATS) for name, schema in _SCHEMAS.items()}


def _compile_fast(schema: Mapping[str, Any]) -> Any:
    body = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}  # local $refs only; draft-07 keywords
    return fastjsonschema.compile(body, formats={"date": is_date}, use_default=False)


_FAST = {name: _compile_fast(schema) for name, schema in _SCHEMAS.items()}


def _unknown(category: str) -> SchemaViolations:
    return SchemaViolations(f"unknown category {category!r} (known: {', '.join(CATEGORIES)})",
                            [Violation("$", "unknown category")])


def schema_of(category: str) -> Mapping[str, Any]:
    """The JSON Schema of ``category`` (read-only view).

    Raises:
        SchemaViolations: unknown category.
    """
    if category not in _SCHEMAS:
        raise _unknown(category)
    return SCHEMAS[category]


def category_of_txcode(txcode: str) -> str:
    """The category of a D-A.2 ``txCode``.

    Raises:
        SchemaViolations: not one of 01..09.
    """
    if not isinstance(txcode, str) or txcode not in TX_CODES:
        raise SchemaViolations("txcode must be one of 01..09 (D-A.2)", [Violation("$.txcode", "is not one of 01..09")])
    return TX_CODES[txcode]


def _reason(error: Any) -> str:
    """What rule a violation breaks - naming the rule, never echoing the (possibly sensitive) value."""
    rule, expected = error.validator, error.validator_value
    if rule in ("required", "additionalProperties"):
        return error.message if len(error.message) <= 200 else error.message[:200] + "..."
    if rule == "type":
        return f"must be of type {expected}"
    if rule in ("maxLength", "minLength"):
        return f"must be {'at most' if rule == 'maxLength' else 'at least'} {expected} characters long"
    if rule == "pattern":
        return f"does not match {expected}"
    if rule == "enum":
        return "is not one of " + ", ".join(repr(v) for v in expected)
    if rule == "const":
        return f"must be {expected!r}"
    if rule == "format":
        return f"is not a valid {expected}"
    return f"breaks the {rule!r} rule ({expected!r})"


def violations_of(category: str, record: Any) -> list[Violation]:
    """Every violation of ``record`` against the schema of ``category``, sorted by path then reason.

    A ``format`` failure is dropped where the same field already failed its pattern.

    Raises:
        SchemaViolations: unknown category (a record that is not an object is a violation, not an error).
    """
    if category not in _VALIDATORS:
        raise _unknown(category)
    if not isinstance(record, dict):
        return [Violation("$", f"must be a JSON object, not {type(record).__name__}")]
    try:
        _FAST[category](record)
        return []
    except fastjsonschema.JsonSchemaException:
        pass  # invalid: jsonschema names every violation
    errors = list(_VALIDATORS[category].iter_errors(record))
    patterned = {e.json_path for e in errors if e.validator == "pattern"}
    kept = [e for e in errors if not (e.validator == "format" and e.json_path in patterned)]
    return sorted(Violation(e.json_path, _reason(e)) for e in kept)


def check_record(category: str, record: Any) -> None:
    """Validate one record; every violation is listed in the error.

    Raises:
        SchemaViolations: unknown category or any violation.
    """
    found = violations_of(category, record)
    if found:
        text = "; ".join(f"{v.field}: {v.reason}" for v in found)
        raise SchemaViolations(f"{category} record invalid ({len(found)} violations): {text}", found)
