"""Policy documents: what makes one valid, and installing one (bootstrap or a ``policy_update`` proposal).

:func:`validate_policy` dispatches by name: ``governance`` here, ``grading`` to
:func:`.grading_rules.validate_grading_policy`, ``sharing`` to :func:`.sharing_rules.validate_sharing_policy`,
``warnings`` to :func:`.warning_rules.validate_warnings_policy`.
Rules layer: imports the store, :mod:`.lifecycle` and the other rule modules, never a contract front.
"""

from __future__ import annotations

import logging
from typing import Any

from qcchain_model.proposals import OPERATIONS, OPTIONAL_OPERATIONS

from .clock import DEFAULT_MAX_SKEW, SKEW_FIELD
from .errors import InvalidInput
from .grading_rules import validate_grading_policy
from .lifecycle import required_count
from .sharing_rules import validate_sharing_policy
from .store.policies import POLICY_NAMES, put_policy
from .warning_rules import validate_warnings_policy

log = logging.getLogger(__name__)

__all__ = ["MAX_SKEW_LIMIT", "validate_governance_policy", "validate_policy", "install_policy"]

#: Largest clock-skew tolerance a governance policy may set (one hour): more would let a client backdate
#: past most grant and key lifetimes that matter.
MAX_SKEW_LIMIT = 3600


def validate_governance_policy(doc: Any) -> None:
    """Check a governance policy document.

    Raises:
        InvalidInput: missing roles/operations, an operation without a valid rule, unknown roles.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("roles"), list) or not doc["roles"]:
        raise InvalidInput("governance policy: 'roles' must be a non-empty list")
    ops = doc.get("operations")
    if not isinstance(ops, dict):
        raise InvalidInput("governance policy: 'operations' must be an object")
    errors = [f"operations.{op}: missing" for op in OPERATIONS if op not in ops and op not in OPTIONAL_OPERATIONS]
    for op, spec in sorted(ops.items()):
        if op not in OPERATIONS or not isinstance(spec, dict):
            errors.append(f"operations.{op}: unknown operation or not an object")
            continue
        try:
            required_count(str(spec.get("rule")), 5)
        except InvalidInput as exc:
            errors.append(f"operations.{op}.rule: {exc.message}")
        for field in ("among_roles", "require_roles"):
            bad = [r for r in spec.get(field, []) if r not in doc["roles"]]
            if bad:
                errors.append(f"operations.{op}.{field}: unknown roles {', '.join(bad)}")
    skew = doc.get(SKEW_FIELD, DEFAULT_MAX_SKEW)
    if isinstance(skew, bool) or not isinstance(skew, int) or not 1 <= skew <= MAX_SKEW_LIMIT:
        errors.append(f"{SKEW_FIELD}: must be 1..{MAX_SKEW_LIMIT} seconds")
    lifetime = doc.get("max_proposal_lifetime", 0)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime <= 0:
        errors.append("max_proposal_lifetime: must be a positive number of seconds")
    if errors:
        raise InvalidInput("governance policy invalid: " + "; ".join(errors))


def validate_policy(name: str, doc: Any) -> None:
    """Check a policy document by name (``governance``, ``grading``, ``sharing`` or ``warnings``).

    Raises:
        InvalidInput: unknown policy name or an invalid document.
    """
    if name == "governance":
        validate_governance_policy(doc)
    elif name == "grading":
        validate_grading_policy(doc)
    elif name == "sharing":
        validate_sharing_policy(doc)
    elif name == "warnings":
        validate_warnings_policy(doc)
    else:
        raise InvalidInput(f"policy name {name!r} is not one of {', '.join(POLICY_NAMES)}")


def install_policy(ctx: Any, name: str, document: dict[str, Any], version: str, source: str) -> dict[str, Any]:
    """Validate and write a policy document; returns the stored record.

    Raises:
        InvalidInput: unknown name, invalid document, or a document that is not canonical JSON.
    """
    validate_policy(name, document)
    return put_policy(ctx, name, document, version, source)
