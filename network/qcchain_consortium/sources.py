"""Reading the consortium's YAML sources and checking them against JSON Schemas, collecting problems.

Nothing here raises for bad content: every problem is appended to the caller's list as a
:class:`~qcchain_network.errors.Problem` naming the file and the JSON path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import Problem
from .errors import PolicySyntaxError
from .policy import check_rule

NETWORK_DIR = Path(__file__).resolve().parents[1]
SCHEMA_PATH = NETWORK_DIR / "consortium.schema.json"

_NAME = {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_-]{0,63}$"}
ENDORSEMENT_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["policies"],
    "properties": {"policies": {
        "type": "object", "minProperties": 1, "propertyNames": _NAME,
        "additionalProperties": {
            "type": "object", "additionalProperties": False, "required": ["rule", "why"],
            "properties": {"rule": {"type": "string", "minLength": 1}, "why": {"type": "string", "minLength": 1}}}}}}
COLLECTIONS_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["collections"],
    "properties": {"collections": {
        "type": "object", "minProperties": 1, "propertyNames": _NAME,
        "additionalProperties": {
            "type": "object", "additionalProperties": False,
            "required": ["members", "required_peer_count", "max_peer_count", "block_to_live", "why"],
            "properties": {
                "members": {"oneOf": [{"const": "channel"},
                                      {"type": "array", "minItems": 1, "uniqueItems": True,
                                       "items": {"type": "string"}}]},
                "required_peer_count": {"type": "integer", "minimum": 0},
                "max_peer_count": {"type": "integer", "minimum": 0},
                "block_to_live": {"type": "integer", "minimum": 0},
                "member_only_read": {"type": "boolean"},
                "member_only_write": {"type": "boolean"},
                "why": {"type": "string", "minLength": 1}}}}}}


def read_yaml(path: Path, problems: list[Problem]) -> Any:
    """The parsed YAML document, or None after recording why it cannot be read.

    Raises:
        FileNotFoundError: the file does not exist (the caller decides how to report it).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(path), "$", f"cannot read the file: {exc}"))
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problems.append(Problem(str(path), "$", f"not valid YAML{where}: {getattr(exc, 'problem', exc)}"))
        return None


def load_schema() -> dict[str, Any]:
    """The consortium JSON Schema (``network/consortium.schema.json``).

    Raises:
        FileNotFoundError: the schema file is missing from the installation.
    """
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def schema_problems(data: Any, schema: dict[str, Any], file: str) -> list[Problem]:
    """Every JSON-Schema violation of ``data``, sorted by JSON path."""
    validator = jsonschema.Draft202012Validator(schema)
    found = [Problem(file, err.json_path, _message(err)) for err in validator.iter_errors(data)]
    return sorted(found, key=lambda p: (p.path, p.message))


def _message(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        return str(err.message).replace("Additional properties are not allowed", "unknown field(s)")
    if err.validator == "oneOf":
        return f"{err.instance!r} must be 'channel' or a non-empty list of org names"
    return str(err.message)


def load_endorsement(path: Path, problems: list[Problem]) -> dict[str, str | None] | None:
    """Policy name -> rule from ``policies/endorsement.yaml`` (None: the file is unusable).

    A rule with bad syntax is recorded as a problem and mapped to None.
    """
    data = _load_checked(path, ENDORSEMENT_SCHEMA, problems)
    if data is None:
        return None
    rules: dict[str, str | None] = {}
    for name, entry in data["policies"].items():
        rule = str(entry.get("rule", ""))
        try:
            check_rule(rule)
        except PolicySyntaxError as exc:
            problems.append(Problem(str(path), f"$.policies.{name}.rule", f"bad policy syntax: {exc}"))
            rules[name] = None
            continue
        rules[name] = rule.strip()
    return rules


def load_collections(path: Path, problems: list[Problem]) -> dict[str, dict[str, Any]] | None:
    """Collection name -> settings from ``policies/collections.yaml`` (None: the file is unusable)."""
    data = _load_checked(path, COLLECTIONS_SCHEMA, problems)
    if data is None:
        return None
    found: dict[str, dict[str, Any]] = {}
    for name, entry in data["collections"].items():
        if entry["max_peer_count"] < entry["required_peer_count"]:
            problems.append(Problem(str(path), f"$.collections.{name}.max_peer_count",
                                    "must be at least required_peer_count"))
        found[name] = entry
    return found


def _load_checked(path: Path, schema: dict[str, Any], problems: list[Problem]) -> dict[str, Any] | None:
    try:
        data = read_yaml(path, problems)
    except FileNotFoundError:
        problems.append(Problem(str(path), "$", "file not found"))
        return None
    found = schema_problems(data, schema, str(path))
    problems.extend(found)
    return None if found or not isinstance(data, dict) else data
