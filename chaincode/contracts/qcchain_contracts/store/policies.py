"""Installed policy documents (``gov.policy`` [name]): ``governance``, ``grading``, ``sharing`` and ``warnings``.

A policy record is ``{name, version, digest (hex SM3 of the canonical document), document, updated_at,
source}``. Writers validate the document first (:func:`qcchain_contracts.policy_rules.install_policy`).
"""

from __future__ import annotations

from typing import Any

from qcchain_core.canonical import canonical_json

from ..common import get_json, put_json, sm3_hex, tx_time
from ..errors import NotFound

__all__ = ["POLICY_NAMES", "policy_record", "get_policy", "find_policy", "put_policy"]

POLICY_NAMES = ("governance", "grading", "sharing", "warnings")


def _policy_key(stub: Any, name: str) -> str:
    return stub.create_composite_key("gov.policy", [name])


def policy_record(stub: Any, name: str) -> dict[str, Any]:
    """The stored policy record (name, version, digest, document, ...).

    Raises:
        NotFound: the policy was never installed.
    """
    record = get_json(stub, _policy_key(stub, name))
    if record is None:
        raise NotFound(f"policy {name!r} is not installed on this channel")
    return record


def get_policy(stub: Any, name: str) -> dict[str, Any]:
    """The current document of policy ``name``.

    Raises:
        NotFound: the policy was never installed.
    """
    return dict(policy_record(stub, name)["document"])


def find_policy(stub: Any, name: str) -> dict[str, Any] | None:
    """The current document of policy ``name``, or None when it was never installed."""
    record = get_json(stub, _policy_key(stub, name))
    return None if record is None else dict(record["document"])


def put_policy(ctx: Any, name: str, document: dict[str, Any], version: str, source: str) -> dict[str, Any]:
    """Write an already validated policy document; returns the stored record.

    Raises:
        InvalidInput: the document cannot be encoded as canonical JSON.
    """
    record = {"name": name, "version": version, "digest": sm3_hex(canonical_json(document)),
              "document": document, "updated_at": tx_time(ctx), "source": source}
    put_json(ctx.stub, _policy_key(ctx.stub, name), record)
    return record
