"""Pure rules of sharing grants (no ledger access): request bodies, grant terms, coverage, findings.

Kept apart from :mod:`qcchain_contracts.sharing` (the contract front) so the rules can be property-tested
directly. Every function is deterministic: "now" is always the transaction time passed in by the caller.
Rules layer: imports only :mod:`.grading_rules`, :mod:`.errors` and libraries.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from .errors import InvalidInput
from .grading_rules import GRADES, grade_rank

__all__ = [
    "STATUSES", "STATUS_BEFORE", "STATUS_AFTER", "validate_body", "validate_sharing_policy", "new_grant",
    "signed", "decided", "covers", "grant_serves", "unusable_reason", "term_problems",
    "supervisory_allows", "grant_findings", "allowed_deciders",
]

STATUSES = ("requested", "approved", "rejected", "revoked")
STATUS_BEFORE: dict[str, tuple[str, ...]] = {
    "approve": ("requested",), "reject": ("requested",), "revoke": ("requested", "approved"), "add_keys": ("approved",)}
STATUS_AFTER = {"approve": "approved", "reject": "rejected", "revoke": "revoked"}
SCOPE_FIELD = {"record": "record_id", "category": "category", "equipment": "equipment_code"}

_ID = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"}
_MSP = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}
_WRAPPED = {"type": "array", "maxItems": 1000, "items": {
    "type": "object", "required": ["record_id", "key_id", "wrapped_key"], "additionalProperties": False,
    "properties": {"record_id": _ID, "key_id": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                   "wrapped_key": {"type": "string", "pattern": "^[A-Za-z0-9+/]+={0,2}$", "maxLength": 4096}}}}
_TERMS = {
    "grant_id": _ID,
    "scope": {"type": "object", "required": ["type", "value"], "additionalProperties": False,
              "properties": {"type": {"enum": list(SCOPE_FIELD)}, "value": {"type": "string", "minLength": 1, "maxLength": 128}}},
    "max_grade": {"enum": list(GRADES)},
    "purpose": {"type": "string", "minLength": 1, "maxLength": 64},
    "expires_at": {"type": "integer", "minimum": 0},
    "max_uses": {"type": "integer", "minimum": 1},
}
_BODY_FIELDS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "request": ({**_TERMS, "owner_msp": _MSP}, ["grant_id", "owner_msp", "scope", "max_grade", "purpose", "expires_at"]),
    "grant": ({**_TERMS, "grantee_msp": _MSP, "wrapped_keys": _WRAPPED},
              ["grant_id", "grantee_msp", "scope", "max_grade", "purpose", "expires_at"]),
    "approve": ({"grant_id": _ID, "wrapped_keys": _WRAPPED, "reason": {"type": "string", "maxLength": 500}}, ["grant_id"]),
    "reject": ({"grant_id": _ID, "reason": {"type": "string", "maxLength": 500}}, ["grant_id"]),
    "revoke": ({"grant_id": _ID, "reason": {"type": "string", "maxLength": 500}}, ["grant_id"]),
    "add_keys": ({"grant_id": _ID, "wrapped_keys": {**_WRAPPED, "minItems": 1}}, ["grant_id", "wrapped_keys"]),
    "access": ({"record_id": _ID, "purpose": _TERMS["purpose"],
                "nonce": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"}}, ["record_id", "purpose", "nonce"]),
}
_BODY_VALIDATORS = {
    action: Draft202012Validator({
        "type": "object", "additionalProperties": False, "required": ["action", "channel", *required],
        "properties": {"action": {"const": action}, "channel": {"type": "string", "minLength": 1, "maxLength": 249},
                       **fields}})
    for action, (fields, required) in _BODY_FIELDS.items()}


def validate_body(action: str, body: Any, channel: str) -> None:
    """Check a signed request body of ``action`` and that it names this ``channel``.

    Raises:
        InvalidInput: every violation with its JSON path, or a body for another channel.
    """
    if not isinstance(body, dict):
        raise InvalidInput(f"{action} body: $: must be a JSON object")
    errors = sorted(f"{e.json_path}: {e.message}" for e in _BODY_VALIDATORS[action].iter_errors(body))
    if errors:
        raise InvalidInput(f"{action} body invalid: " + "; ".join(errors))
    if body["channel"] != channel:
        raise InvalidInput(f"{action} body is for channel {body['channel']!r}, not {channel!r}")


def new_grant(body: dict[str, Any], owner: str, grantee: str, now: int, channel: str) -> dict[str, Any]:
    """The stored form of a new grant in status ``requested``."""
    return {"grant_id": body["grant_id"], "channel": channel, "owner_msp": owner, "grantee_msp": grantee,
            "scope": dict(body["scope"]), "max_grade": body["max_grade"], "purpose": body["purpose"],
            "expires_at": body["expires_at"], "max_uses": body.get("max_uses"), "uses": 0,
            "status": "requested", "requested_at": now, "decided_at": None, "decided_by": None,
            "reason": "", "last_used_at": None, "trail": []}


def signed(grant: dict[str, Any], body: dict[str, Any], msp: str, key_id: str, signature: str) -> dict[str, Any]:
    """A copy of ``grant`` with the signed step (body, signer, key, signature) appended to its trail, so
    auditors can re-verify the SM2 signature over ``canonical_json(body)``."""
    step = {"action": body["action"], "msp": msp, "key_id": key_id, "signature": signature, "body": body}
    return dict(grant, trail=[*grant.get("trail", []), step])


def decided(grant: dict[str, Any], status: str, msp: str, now: int, reason: str) -> dict[str, Any]:
    """A copy of ``grant`` moved to ``status`` by ``msp`` at ``now``."""
    return dict(grant, status=status, decided_at=now, decided_by=msp, reason=reason)


def allowed_deciders(grant: dict[str, Any], action: str) -> tuple[str, ...]:
    """Who may perform ``action`` on ``grant``: the owner; for revoke also the grantee."""
    if action == "revoke":
        return (grant["owner_msp"], grant["grantee_msp"])
    return (grant["owner_msp"],)


def covers(grant: dict[str, Any], meta: dict[str, Any]) -> bool:
    """Whether the grant's owner and scope cover the record (grade and time not considered)."""
    scope = grant["scope"]
    field = SCOPE_FIELD.get(scope["type"])
    return field is not None and grant["owner_msp"] == meta.get("owner_msp") and meta.get(field) == scope["value"]


def unusable_reason(grant: dict[str, Any], now: int) -> str | None:
    """Why the grant serves nothing at ``now`` (not approved, expired, used up), or None."""
    if grant["status"] != "approved":
        return f"grant is {grant['status']}"
    if now >= grant["expires_at"]:
        return "grant expired"
    if grant.get("max_uses") is not None and grant.get("uses", 0) >= grant["max_uses"]:
        return "grant used up"
    return None


def grant_serves(grant: dict[str, Any], meta: dict[str, Any], now: int, purpose: str | None = None) -> bool:
    """Approved, unexpired, uses left, covering the record, max grade >= the record's grade and — when a
    ``purpose`` is given (every read that uses the grant gives one) — granted for exactly that purpose."""
    return (unusable_reason(grant, now) is None and covers(grant, meta)
            and meta.get("grade") in GRADES and grade_rank(meta["grade"]) <= grade_rank(grant["max_grade"])
            and (purpose is None or grant.get("purpose") == purpose))


def _grade_ceiling(policy: dict[str, Any], grantee_role: str | None, scope_type: str) -> str | None:
    limits = policy["grants"]
    ceiling = limits["max_grade_by_grantee_role"].get(grantee_role or "")
    if ceiling is not None and scope_type != "record":
        broad = limits["broad_scope_max_grade"]
        ceiling = broad if grade_rank(broad) < grade_rank(ceiling) else ceiling
    return ceiling


def term_problems(policy: dict[str, Any], grantee_role: str | None, terms: dict[str, Any], now: int) -> list[str]:
    """Every way the terms of a grant break the sharing policy at ``now`` (empty: acceptable)."""
    limits, problems = policy["grants"], []
    scope_type = terms["scope"]["type"]
    if scope_type not in limits["scopes"]:
        problems.append(f"scope {scope_type!r} is not allowed (allowed: {', '.join(limits['scopes'])})")
    ceiling = _grade_ceiling(policy, grantee_role, scope_type)
    if ceiling is None:
        problems.append(f"grantee role {grantee_role!r} may not receive grants")
    elif grade_rank(terms["max_grade"]) > grade_rank(ceiling):
        problems.append(f"max_grade {terms['max_grade']} is above {ceiling}, the most a {grantee_role} may get by {scope_type} scope")
    if terms["purpose"] not in limits["purposes"]:
        problems.append(f"purpose {terms['purpose']!r} is not one of {', '.join(limits['purposes'])}")
    if terms["expires_at"] <= now:
        problems.append(f"expires_at {terms['expires_at']} is not after the transaction time {now}")
    elif terms["expires_at"] - now > limits["max_duration_seconds"]:
        problems.append(f"grant lasts longer than {limits['max_duration_seconds']} s")
    if terms.get("max_uses") is not None and terms["max_uses"] > limits["max_uses"]:
        problems.append(f"max_uses {terms['max_uses']} is above the limit {limits['max_uses']}")
    return problems


def supervisory_allows(policy: dict[str, Any], role: str | None, grade: str, purpose: str) -> bool:
    """Whether ``role`` reads data of ``grade`` for ``purpose`` by supervisory access (no grant)."""
    sup = policy["supervisory"]
    return role in sup["roles"] and purpose in sup["purposes"] and grade_rank(grade) <= grade_rank(sup["max_grade"])


def grant_findings(policy: dict[str, Any], grant: dict[str, Any], grantee_role: str | None, now: int,
                   key_issue: str | None) -> list[dict[str, Any]]:
    """The T-9.1.2 findings of one grant: expired_listed, above_policy, grantee_key_revoked, never_used."""
    gid, status = grant["grant_id"], grant["status"]
    if status not in ("requested", "approved"):
        return []
    found = []
    if now >= grant["expires_at"]:
        found.append({"grant_id": gid, "issue": "expired_listed", "detail": f"{status} grant expired at {grant['expires_at']}"})
    ceiling = _grade_ceiling(policy, grantee_role, grant["scope"]["type"])
    if ceiling is None or grade_rank(grant["max_grade"]) > grade_rank(ceiling):
        found.append({"grant_id": gid, "issue": "above_policy",
                      "detail": f"max_grade {grant['max_grade']} for a {grantee_role} by {grant['scope']['type']} scope; policy allows {ceiling}"})
    if key_issue is not None:
        found.append({"grant_id": gid, "issue": "grantee_key_revoked", "detail": key_issue})
    quiet = policy["check"]["never_used_after_seconds"]
    if status == "approved" and not grant.get("uses") and now - (grant.get("decided_at") or now) >= quiet:
        found.append({"grant_id": gid, "issue": "never_used", "detail": f"approved at {grant['decided_at']}, never used"})
    return found


_POLICY_SCHEMA = Draft202012Validator({
    "type": "object", "required": ["version", "grants", "supervisory", "check"], "additionalProperties": False,
    "properties": {
        "version": {"type": "integer", "minimum": 1},
        "grants": {"type": "object", "additionalProperties": False,
                   "required": ["scopes", "max_duration_seconds", "max_uses", "purposes", "max_grade_by_grantee_role", "broad_scope_max_grade"],
                   "properties": {"scopes": {"type": "array", "items": {"enum": list(SCOPE_FIELD)}, "uniqueItems": True},
                                  "max_duration_seconds": {"type": "integer", "minimum": 1},
                                  "max_uses": {"type": "integer", "minimum": 1},
                                  "purposes": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 64}, "minItems": 1, "uniqueItems": True},
                                  "max_grade_by_grantee_role": {"type": "object", "additionalProperties": {"enum": list(GRADES)}},
                                  "broad_scope_max_grade": {"enum": list(GRADES)}}},
        "supervisory": {"type": "object", "additionalProperties": False, "required": ["roles", "max_grade", "purposes"],
                        "properties": {"roles": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                                       "max_grade": {"enum": list(GRADES)},
                                       "purposes": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}}},
        "check": {"type": "object", "additionalProperties": False, "required": ["never_used_after_seconds"],
                  "properties": {"never_used_after_seconds": {"type": "integer", "minimum": 1}}},
    }})


def validate_sharing_policy(policy: Any) -> None:
    """Check a ``"sharing"`` policy document.

    Raises:
        InvalidInput: listing every violation with its JSON path.
    """
    if not isinstance(policy, dict):
        raise InvalidInput("sharing policy: $: must be an object")
    errors = sorted(f"{e.json_path}: {e.message}" for e in _POLICY_SCHEMA.iter_errors(policy))
    if not errors:
        purposes = set(policy["grants"]["purposes"])
        errors = [f"$.supervisory.purposes: {p!r} is not in $.grants.purposes" for p in policy["supervisory"]["purposes"] if p not in purposes]
    if errors:
        raise InvalidInput("sharing policy invalid: " + "; ".join(errors))
