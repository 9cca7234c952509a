"""Typed client of the ``sharing`` contract: signed grant requests, approvals, access, check.

Every write body is ``{"action", "channel", ...}``; the client signs ``canonical_json(body)`` with the
org's SM2 signing key (any ``sign(bytes) -> DER bytes`` callable, so the key may live in a keystore or an
HSM) and sends ``[body, key_id, signature_hex]``. L3 data keys are wrapped here, on the client, with
the grantee's registered SM2 encryption key (the chaincode never sees a data key).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_core.errors import CryptoError
from qcchain_core.gm import SM2PrivateKey, SM2PublicKey

from ..contractlike import ContractLike

log = logging.getLogger(__name__)

__all__ = ["SharingClient", "wrap_data_key", "unwrap_data_key", "verify_trail", "check_trail"]

Sign = Callable[[bytes], bytes]


def wrap_data_key(record_id: str, data_key: bytes, grantee_key: SM2PublicKey) -> dict[str, str]:
    """The wrapped-key item for ``record_id``: SM2-encrypt ``data_key`` for the grantee's key."""
    wrapped = grantee_key.encrypt(data_key)
    return {"record_id": record_id, "key_id": grantee_key.key_id(), "wrapped_key": base64.b64encode(wrapped).decode("ascii")}


def unwrap_data_key(item: dict[str, Any], private_key: SM2PrivateKey) -> bytes:
    """Recover a data key from a wrapped-key item.

    Raises:
        ValueError: the item is malformed or was wrapped for another key (DecryptionError is a ValueError).
    """
    if item.get("key_id") != private_key.public_key().key_id():
        raise ValueError(f"wrapped key is for key {str(item.get('key_id'))[:16]}..., not this private key")
    return private_key.decrypt(base64.b64decode(item["wrapped_key"], validate=True))


KeyOwner = Callable[[str], str | None]

#: action -> (status after it or None, statuses it may follow), as the chaincode's sharing rules apply them.
_DECISIONS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "approve": ("approved", ("requested",)), "reject": ("rejected", ("requested",)),
    "revoke": ("revoked", ("requested", "approved")), "add_keys": (None, ("approved",))}
_TERM_FIELDS = ("scope", "max_grade", "purpose", "expires_at", "max_uses")


def _label(index: int, step: dict[str, Any]) -> str:
    return f"step {index} ({step.get('action')})"


def _step_problems(grant: dict[str, Any], index: int, step: dict[str, Any], key_owner: KeyOwner | None) -> list[str]:
    """What binds a step to this grant: its body's action, grant id and channel; the signing key's org."""
    body, label, problems = step.get("body") or {}, _label(index, step), []
    if body.get("action") != step.get("action"):
        problems.append(f"{label}: signed body is for action {body.get('action')!r}")
    if body.get("grant_id") != grant.get("grant_id"):
        problems.append(f"{label}: signed body is for grant {body.get('grant_id')!r}")
    if body.get("channel") != grant.get("channel"):
        problems.append(f"{label}: signed body is for channel {body.get('channel')!r}, not {grant.get('channel')!r}")
    if key_owner is not None:
        owner = key_owner(str(step.get("key_id", "")))
        if owner is not None and owner != step.get("msp"):
            problems.append(f"{label}: signing key belongs to {owner}, not {step.get('msp')}")
    return problems


def _first_state(step: dict[str, Any]) -> dict[str, Any] | None:
    """The grant a ``request`` or ``grant`` step creates (None for any other action)."""
    body, msp = step["body"], step.get("msp")
    terms = {name: body.get(name) for name in _TERM_FIELDS}
    if step.get("action") == "request":
        return {"owner_msp": body.get("owner_msp"), "grantee_msp": msp, **terms, "status": "requested",
                "decided_by": None, "reason": ""}
    if step.get("action") == "grant":
        return {"owner_msp": msp, "grantee_msp": body.get("grantee_msp"), **terms, "status": "approved",
                "decided_by": msp, "reason": ""}
    return None


def _replay(trail: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, list[str]]:
    """The grant's state as the signed steps make it, and the steps that could not have happened."""
    if not trail:
        return None, ["grant has no signed steps"]
    state = _first_state(trail[0])
    if state is None:
        return None, [f"{_label(0, trail[0])}: a grant starts with request or grant"]
    problems = []
    for index, step in enumerate(trail[1:], start=1):
        action, msp = step.get("action"), step.get("msp")
        if action not in _DECISIONS:
            problems.append(f"{_label(index, step)}: cannot follow the first step")
            continue
        after, before = _DECISIONS[action]
        deciders = (state["owner_msp"], state["grantee_msp"]) if action == "revoke" else (state["owner_msp"],)
        if msp not in deciders:
            problems.append(f"{_label(index, step)}: {msp} may not {action} this grant")
        if state["status"] not in before:
            problems.append(f"{_label(index, step)}: grant was {state['status']}, {action} needs {' or '.join(before)}")
        if after is not None:
            state.update(status=after, decided_by=msp, reason=step["body"].get("reason", ""))
    return state, problems


def check_trail(grant: dict[str, Any], public_keys: dict[str, SM2PublicKey],
                key_owner: KeyOwner | None = None) -> tuple[int, list[str]]:
    """Re-verify a grant against its signed trail. Returns (signatures verified, problems); never raises.

    Every step's SM2 signature must verify under its key (and, given ``key_owner``, that key must be
    registered to the step's org); every step must name this grant and channel. When all signatures
    verify, the trail is replayed and the grant's parties, terms, status, decider and reason must be the
    ones the signed steps produce (so an edited status or ``max_grade`` is flagged).
    """
    trail = list(grant.get("trail") or [])
    problems: list[str] = []
    verified = 0
    for index, step in enumerate(trail):
        problems += _step_problems(grant, index, step, key_owner)
        key = public_keys.get(step.get("key_id", ""))
        if key is None:
            problems.append(f"{_label(index, step)}: unknown key {str(step.get('key_id'))[:16]}...")
            continue
        try:
            key.verify(bytes.fromhex(step["signature"]), canonical_json(step["body"]))
            verified += 1
        except (CryptoError, ValueError, KeyError, TypeError):
            problems.append(f"{_label(index, step)}: signature does not verify")
    if verified == len(trail):
        expected, replay_problems = _replay(trail)
        problems += replay_problems
        for name, value in (expected or {}).items():
            if grant.get(name) != value:
                problems.append(f"{name} is {grant.get(name)!r} but the signed steps give {value!r}")
    return verified, problems


def verify_trail(grant: dict[str, Any], public_keys: dict[str, SM2PublicKey],
                 key_owner: KeyOwner | None = None) -> list[str]:
    """The problems :func:`check_trail` finds in a grant (empty: all good)."""
    return check_trail(grant, public_keys, key_owner)[1]


class SharingClient:
    """``sharing`` contract of the ``qcchain`` chaincode on one channel, acting for one org.

    Gateway errors (``EndorseError``, ``SubmitError``, ``CommitStatusError``) propagate unchanged; their
    ``details`` carry the chaincode's message (e.g. "grant 'g1' is rejected; approve needs requested").
    """

    def __init__(self, contract: ContractLike, key_id: str, sign: Sign) -> None:
        self._contract = contract
        self.key_id = key_id
        self._sign = sign

    @classmethod
    def with_key(cls, contract: ContractLike, key: SM2PrivateKey) -> SharingClient:
        """A client signing with an in-memory SM2 private key."""
        return cls(contract, key.public_key().key_id(), key.sign)

    def _submit(self, action: str, **fields: Any) -> Any:
        body = {"action": action, "channel": self._contract.channel, **{k: v for k, v in fields.items() if v is not None}}
        signature = self._sign(canonical_json(body)).hex()
        raw = self._contract.submit_transaction(f"sharing:{action}", canonical_json(body), self.key_id, signature)
        return json.loads(raw)

    def _evaluate(self, fn: str, *args: str) -> Any:
        return json.loads(self._contract.evaluate_transaction(f"sharing:{fn}", *args))

    @staticmethod
    def _terms(scope: tuple[str, str], max_grade: str, purpose: str, expires_at: int, max_uses: int | None,
               grant_id: str | None) -> dict[str, Any]:
        return {"grant_id": grant_id or f"g-{secrets.token_hex(12)}", "scope": {"type": scope[0], "value": scope[1]},
                "max_grade": max_grade, "purpose": purpose, "expires_at": int(expires_at), "max_uses": max_uses}

    def request(self, owner_msp: str, scope: tuple[str, str], max_grade: str, purpose: str, expires_at: int,
                max_uses: int | None = None, grant_id: str | None = None) -> dict[str, Any]:
        """Ask ``owner_msp`` for a grant over ``scope`` = (record|category|equipment, value)."""
        return self._submit("request", owner_msp=owner_msp, **self._terms(scope, max_grade, purpose, expires_at, max_uses, grant_id))  # type: ignore[no-any-return]

    def grant(self, grantee_msp: str, scope: tuple[str, str], max_grade: str, purpose: str, expires_at: int,
              max_uses: int | None = None, grant_id: str | None = None,
              wrapped_keys: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Grant directly (as the owner), optionally with L3 data keys wrapped for the grantee."""
        terms = self._terms(scope, max_grade, purpose, expires_at, max_uses, grant_id)
        return self._submit("grant", grantee_msp=grantee_msp, wrapped_keys=wrapped_keys or None, **terms)  # type: ignore[no-any-return]

    def approve(self, grant_id: str, wrapped_keys: list[dict[str, str]] | None = None, reason: str = "") -> dict[str, Any]:
        """Approve a requested grant (owner)."""
        return self._submit("approve", grant_id=grant_id, wrapped_keys=wrapped_keys or None, reason=reason or None)  # type: ignore[no-any-return]

    def reject(self, grant_id: str, reason: str = "") -> dict[str, Any]:
        """Reject a requested grant (owner)."""
        return self._submit("reject", grant_id=grant_id, reason=reason or None)  # type: ignore[no-any-return]

    def revoke(self, grant_id: str, reason: str = "") -> dict[str, Any]:
        """Revoke a grant (owner or grantee)."""
        return self._submit("revoke", grant_id=grant_id, reason=reason or None)  # type: ignore[no-any-return]

    def add_keys(self, grant_id: str, wrapped_keys: list[dict[str, str]]) -> dict[str, Any]:
        """Attach L3 data keys wrapped for the grantee (owner)."""
        return self._submit("add_keys", grant_id=grant_id, wrapped_keys=wrapped_keys)  # type: ignore[no-any-return]

    def access(self, record_id: str, purpose: str, nonce: str | None = None) -> dict[str, Any]:
        """Logged read of an L3/L4 record: ``{"entry", "record", "wrapped_key"}``."""
        return self._submit("access", record_id=record_id, purpose=purpose, nonce=nonce or secrets.token_hex(16))  # type: ignore[no-any-return]

    def get(self, grant_id: str) -> dict[str, Any]:
        """One grant (owner, grantee or supervisory role)."""
        return self._evaluate("get", grant_id)  # type: ignore[no-any-return]

    def list_grants(self, status: str = "") -> list[dict[str, Any]]:
        """Grants the caller is party to (all of them for a supervisory role)."""
        return self._evaluate("list_grants", status)  # type: ignore[no-any-return]

    def access_log(self, record_id: str) -> list[dict[str, Any]]:
        """Access-log entries of a record (owner or supervisory role)."""
        return self._evaluate("access_log", record_id)  # type: ignore[no-any-return]

    def check(self) -> dict[str, Any]:
        """The T-9.1.2 sharing check: ``{"checked_at", "grants", "findings": [...]}``."""
        return self._evaluate("check")  # type: ignore[no-any-return]
