"""Sharing grants between member orgs, per-access logging and the sharing check (REQUIREMENTS T-9.1).

A grant lets a grantee org read an owner org's records over a scope (``record``, ``category`` or
``equipment``) up to a maximum grade, for a purpose, until an expiry (transaction time) and optionally
for a limited number of uses. Flow: ``request`` (grantee) -> ``approve`` / ``reject`` (owner), or
``grant`` (owner, direct); ``revoke`` (owner or grantee); ``add_keys`` (owner attaches L2/L3 data keys
wrapped for the grantee). Every read of L3/L4 data is an ``access`` transaction that checks the grant
(or the regulator's supervisory access from the ``"sharing"`` policy) and logs who, what, when, why.
``check`` (evaluate) reports expired-but-listed, above-policy, revoked-key and never-used grants.

Every write carries the caller's SM2 signature (hex) over the canonical JSON of its request body,
verified against the on-chain key registry; bodies name the ``channel`` and ``action`` so a signature
cannot be replayed elsewhere. This module is the contract front: pure grant rules live in
:mod:`qcchain_contracts.sharing_rules`, grant lookup / use / access logging in
:mod:`qcchain_contracts.entitlement`, storage in :mod:`qcchain_contracts.store.grants`.

Ledger keys (composite): ``shr.grant`` [grant_id]; ``shr.by_grantee`` / ``shr.by_owner``
[msp, grant_id]; ``shr.key`` [grant_id, record_id] (wrapped data key); ``shr.access``
[record_id, 12-digit time, tx_id] (access log); ``shr.nonce`` [msp, nonce] (used access nonces).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_shim import Context, Contract, transaction

from . import sharing_rules as rules
from qcchain_model.grades import PLACEMENT_PRIVATE_ENCRYPTED, PLACEMENT_WORLD_STATE

from .common import caller_msp, record_event, tx_time
from .entitlement import consume_grant, find_grant, log_access
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .lifecycle import require_serving
from .signatures import active_key, org_encryption_key, verify_sm2
from .store.grants import (BY_GRANTEE, BY_OWNER, access_entries, access_nonce_used, all_grants, find_grant_record,
                           grants_of, index_grant, load_grant, put_grant, put_wrapped_key, spend_access_nonce,
                           wrapped_key_for, wrapped_keys_of)
from .store.members import role_of
from .store.policies import get_policy
from .store.records import live_record_meta, stored_record
from .sharing_rules import validate_body

log = logging.getLogger(__name__)

__all__ = ["Sharing"]

CONTRACT = "sharing"


def _reader(ctx: Context) -> tuple[str, dict[str, Any]]:
    """Serving check for reads; the caller must be an active member. Returns (caller msp, sharing policy).

    Raises:
        Destroyed: the contract was destroyed. Forbidden: the caller is not an active member.
    """
    require_serving(ctx, CONTRACT, False)
    msp = caller_msp(ctx)
    if role_of(ctx.stub, msp) is None:
        raise Forbidden(f"{msp} is not an active member of the consortium")
    return msp, get_policy(ctx.stub, "sharing")


def _signed(ctx: Context, action: str, body: dict[str, Any], key_id: str, signature: str) -> tuple[str, dict[str, Any]]:
    """Check the serving state, the body and the caller's SM2 signature; return (caller msp, policy).

    Raises:
        Frozen, Destroyed: governance refuses writes. InvalidInput: malformed body or signature.
        Forbidden: caller not a member; InvalidSignatureError: the signature does not verify.
    """
    require_serving(ctx, CONTRACT, True)
    msp = caller_msp(ctx)
    if role_of(ctx.stub, msp) is None:
        raise Forbidden(f"{msp} is not a member of the consortium")
    validate_body(action, body, ctx.stub.get_channel_id())
    try:
        sig = bytes.fromhex(signature)
    except ValueError as exc:
        raise InvalidInput("signature must be hex (DER-encoded SM2 signature)") from exc
    verify_sm2(ctx, key_id, canonical_json(body), sig, msp)
    return msp, get_policy(ctx.stub, "sharing")


def _check_wrapped_keys(ctx: Context, grant: dict[str, Any], wrapped: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    if not wrapped:
        return []
    enc = org_encryption_key(ctx, grant["grantee_msp"])
    out = []
    for item in wrapped:
        meta = live_record_meta(ctx.stub, item["record_id"])
        if not rules.covers(grant, meta) or meta.get("placement") != PLACEMENT_PRIVATE_ENCRYPTED:
            raise InvalidInput(f"wrapped key for record {item['record_id']!r}: not an encrypted record covered by the grant")
        if item["key_id"] != enc["key_id"]:
            raise InvalidInput(f"wrapped key for record {item['record_id']!r} is not for {grant['grantee_msp']}'s active key")
        out.append((item["record_id"], {"record_id": item["record_id"], "key_id": item["key_id"],
                                        "wrapped_key": item["wrapped_key"], "grant_id": grant["grant_id"]}))
    return out


def _require_record_key(ctx: Context, grant: dict[str, Any], wrapped: list[tuple[str, dict[str, Any]]]) -> None:
    """An approval of a record-scope grant on an encrypted (L2/L3) record must carry its wrapped data key.

    Raises:
        InvalidInput: the key is missing (broad scopes may add keys later with ``add_keys``).
    """
    if grant["scope"]["type"] != "record":
        return
    record_id = grant["scope"]["value"]
    meta = live_record_meta(ctx.stub, record_id)
    if meta.get("placement") == PLACEMENT_PRIVATE_ENCRYPTED and record_id not in {rid for rid, _ in wrapped}:
        raise InvalidInput(f"record {record_id!r} is encrypted ({meta.get('grade')}): the approval must carry its data "
                           f"key wrapped for {grant['grantee_msp']}")


def _store(ctx: Context, grant: dict[str, Any], wrapped: Sequence[tuple[str, dict[str, Any]]] = ()) -> None:
    put_grant(ctx.stub, grant)
    for record_id, item in wrapped:
        put_wrapped_key(ctx.stub, grant["grant_id"], record_id, item)


def _new_grant(ctx: Context, body: dict[str, Any], policy: dict[str, Any], owner: str, grantee: str) -> dict[str, Any]:
    if owner == grantee:
        raise InvalidInput("owner and grantee are the same org")
    if find_grant_record(ctx.stub, body["grant_id"]) is not None:
        raise Conflict(f"grant {body['grant_id']!r} already exists")
    grantee_role = role_of(ctx.stub, grantee)
    if grantee_role is None or role_of(ctx.stub, owner) is None:
        raise InvalidInput(f"owner {owner} and grantee {grantee} must both be consortium members")
    now = tx_time(ctx)
    problems = rules.term_problems(policy, grantee_role, body, now)
    if body["scope"]["type"] == "record":
        meta = live_record_meta(ctx.stub, body["scope"]["value"])
        if meta["owner_msp"] != owner:
            problems.append(f"record {meta['record_id']!r} is owned by {meta['owner_msp']}, not {owner}")
    if problems:
        raise InvalidInput("grant refused by the sharing policy: " + "; ".join(problems))
    return rules.new_grant(body, owner, grantee, now, ctx.stub.get_channel_id())


class Sharing(Contract):
    """``sharing:*`` transactions (see the module docstring)."""

    name = CONTRACT

    @transaction
    def request(self, ctx: Context, body: dict, key_id: str, signature: str) -> dict:
        """Grantee asks ``owner_msp`` for a grant. Raises InvalidInput, Forbidden, Conflict, Frozen."""
        msp, policy = _signed(ctx, "request", body, key_id, signature)
        grant = _new_grant(ctx, body, policy, body["owner_msp"], msp)
        grant = rules.signed(grant, body, msp, key_id, signature)
        index_grant(ctx.stub, grant)
        _store(ctx, grant)
        record_event(ctx, "sharing.request", {"grant_id": grant["grant_id"], "owner_msp": grant["owner_msp"]})
        return grant

    @transaction
    def grant(self, ctx: Context, body: dict, key_id: str, signature: str) -> dict:
        """Owner grants directly (approved at once; may carry wrapped L3 keys). Raises as ``request``."""
        msp, policy = _signed(ctx, "grant", body, key_id, signature)
        grant = _new_grant(ctx, body, policy, msp, body["grantee_msp"])
        grant = rules.decided(rules.signed(grant, body, msp, key_id, signature), "approved", msp, tx_time(ctx), "")
        wrapped = _check_wrapped_keys(ctx, grant, body.get("wrapped_keys", []))
        _require_record_key(ctx, grant, wrapped)
        index_grant(ctx.stub, grant)
        _store(ctx, grant, wrapped)
        record_event(ctx, "sharing.grant", {"grant_id": grant["grant_id"], "grantee_msp": grant["grantee_msp"]})
        return grant

    def _decide(self, ctx: Context, action: str, body: dict, key_id: str, signature: str) -> dict:
        msp, _ = _signed(ctx, action, body, key_id, signature)
        grant = load_grant(ctx.stub, body["grant_id"])
        allowed = rules.allowed_deciders(grant, action)
        if msp not in allowed:
            raise Forbidden(f"{msp} may not {action} grant {grant['grant_id']!r} (only {', '.join(allowed)})")
        needed = rules.STATUS_BEFORE[action]
        if grant["status"] not in needed:
            raise Conflict(f"grant {grant['grant_id']!r} is {grant['status']}; {action} needs {' or '.join(needed)}")
        wrapped = _check_wrapped_keys(ctx, grant, body.get("wrapped_keys", []))
        if action == "approve":
            _require_record_key(ctx, grant, wrapped)
        if action != "add_keys":
            grant = rules.decided(grant, rules.STATUS_AFTER[action], msp, tx_time(ctx), body.get("reason", ""))
        grant = rules.signed(grant, body, msp, key_id, signature)
        _store(ctx, grant, wrapped)
        record_event(ctx, f"sharing.{action}", {"grant_id": grant["grant_id"]})
        return grant

    @transaction
    def approve(self, ctx: Context, body: dict, key_id: str, signature: str) -> dict:
        """Owner approves a requested grant (L3: with wrapped keys). Raises Forbidden, Conflict, NotFound."""
        return self._decide(ctx, "approve", body, key_id, signature)

    @transaction
    def reject(self, ctx: Context, body: dict, key_id: str, signature: str) -> dict:
        """Owner rejects a requested grant. Raises Forbidden, Conflict, NotFound."""
        return self._decide(ctx, "reject", body, key_id, signature)

    @transaction
    def revoke(self, ctx: Context, body: dict, key_id: str, signature: str) -> dict:
        """Owner or grantee revokes a requested/approved grant. Raises Forbidden, Conflict, NotFound."""
        return self._decide(ctx, "revoke", body, key_id, signature)

    @transaction
    def add_keys(self, ctx: Context, body: dict, key_id: str, signature: str) -> dict:
        """Owner attaches L3 data keys wrapped for the grantee. Raises Forbidden, Conflict, InvalidInput."""
        return self._decide(ctx, "add_keys", body, key_id, signature)

    @transaction
    def access(self, ctx: Context, body: dict, key_id: str, signature: str) -> dict:
        """Read an L2/L3/L4 record under a grant, supervision or ownership; logged. A grant serves only if
        every term matches: scope, grade, purpose, expiry and uses left. Returns ``{"entry", "record",
        "wrapped_key"}`` plus ``payload`` for a record still in world state (L2 written before L2 was
        encrypted); an encrypted record's data key comes wrapped with the grant. Raises Forbidden (no basis, or grants only for
        other purposes), Conflict (nonce reused), InvalidInput (L1 or unknown purpose), NotFound."""
        msp, policy = _signed(ctx, "access", body, key_id, signature)
        if access_nonce_used(ctx.stub, msp, body["nonce"]):
            raise Conflict(f"access nonce {body['nonce']!r} was already used by {msp}")
        if body["purpose"] not in policy["grants"]["purposes"]:
            raise InvalidInput(f"purpose {body['purpose']!r} is not one of {', '.join(policy['grants']['purposes'])}")
        meta = live_record_meta(ctx.stub, body["record_id"])
        if meta.get("grade") not in ("L2", "L3", "L4"):
            raise InvalidInput(f"record {meta['record_id']!r} is {meta.get('grade')}: read it with records, no access transaction")
        role = role_of(ctx.stub, msp)
        grant, wrapped = None, None
        if msp == meta["owner_msp"]:
            basis = "owner"
        elif rules.supervisory_allows(policy, role, meta["grade"], body["purpose"]):
            basis = "supervisory"
        else:
            grant = find_grant(ctx, msp, meta, body["purpose"])
            if grant is None:
                other = find_grant(ctx, msp, meta)
                if other is not None:
                    raise Forbidden(f"{msp} holds no grant covering record {meta['record_id']!r} for purpose "
                                    f"{body['purpose']!r} (grant {other['grant_id']!r} is for {other['purpose']!r})")
                raise Forbidden(f"{msp} holds no grant covering record {meta['record_id']!r} ({meta['grade']})")
            basis = "grant"
        # the nonce is spent only once the access is authorised (a refused call writes nothing)
        spend_access_nonce(ctx.stub, msp, body["nonce"], ctx.stub.get_tx_id())
        if grant is None:
            out = {"entry": log_access(ctx, meta, body["purpose"], basis, None), "record": meta, "wrapped_key": None}
        else:
            entry = consume_grant(ctx, grant, meta, body["purpose"])
            out = {"entry": entry, "record": meta, "wrapped_key": wrapped_key_for(ctx.stub, grant["grant_id"], meta["record_id"])}
        if meta.get("placement") == PLACEMENT_WORLD_STATE:
            out["payload"] = (stored_record(ctx.stub, meta["record_id"]) or {}).get("payload")
        return out

    @transaction(evaluate=True)
    def get(self, ctx: Context, grant_id: str) -> dict:
        """One grant, for its owner, its grantee or a supervisory role. Raises NotFound, Forbidden."""
        _reader(ctx)
        grant = load_grant(ctx.stub, grant_id)
        if not self._may_see(ctx, grant):
            raise Forbidden(f"{caller_msp(ctx)} is not a party to grant {grant_id!r}")
        return grant

    @staticmethod
    def _may_see(ctx: Context, grant: dict[str, Any]) -> bool:
        msp = caller_msp(ctx)
        if msp in (grant["owner_msp"], grant["grantee_msp"]):
            return True
        policy = get_policy(ctx.stub, "sharing")
        return role_of(ctx.stub, msp) in policy["supervisory"]["roles"]

    def _visible(self, ctx: Context) -> list[dict[str, Any]]:
        msp = caller_msp(ctx)
        policy = get_policy(ctx.stub, "sharing")
        if role_of(ctx.stub, msp) in policy["supervisory"]["roles"]:
            return all_grants(ctx.stub)
        mine = {g["grant_id"]: g for g in grants_of(ctx.stub, BY_OWNER, msp) + grants_of(ctx.stub, BY_GRANTEE, msp)}
        return [mine[k] for k in sorted(mine)]

    @transaction(evaluate=True)
    def list_grants(self, ctx: Context, status: str = "") -> list:
        """Grants the caller is party to (all, for a supervisory role), optionally by status.
        Raises Destroyed, InvalidInput (unknown status)."""
        _reader(ctx)
        if status and status not in rules.STATUSES:
            raise InvalidInput(f"status {status!r} is not one of {', '.join(rules.STATUSES)}")
        return [g for g in self._visible(ctx) if not status or g["status"] == status]

    @transaction(evaluate=True)
    def access_log(self, ctx: Context, record_id: str) -> list:
        """Access-log entries of a record, for its owner or a supervisory role. Raises Forbidden, NotFound."""
        msp, policy = _reader(ctx)
        meta = live_record_meta(ctx.stub, record_id)
        if msp != meta["owner_msp"] and role_of(ctx.stub, msp) not in policy["supervisory"]["roles"]:
            raise Forbidden(f"{msp} may not read the access log of record {record_id!r}")
        return access_entries(ctx.stub, record_id)

    @transaction(evaluate=True)
    def check(self, ctx: Context) -> dict:
        """T-9.1.2 security check over the grants visible to the caller. Raises Destroyed."""
        _, policy = _reader(ctx)
        now = tx_time(ctx)
        findings: list[dict[str, Any]] = []
        grants = self._visible(ctx)
        for grant in grants:
            role = role_of(ctx.stub, grant["grantee_msp"])
            findings += rules.grant_findings(policy, grant, role, now, self._key_issue(ctx, grant))
        return {"checked_at": now, "grants": len(grants), "findings": findings}

    @staticmethod
    def _key_issue(ctx: Context, grant: dict[str, Any]) -> str | None:
        """Why the grantee's key material is unusable (no active key, or a wrapped key's key revoked)."""
        if grant["status"] not in ("requested", "approved"):
            return None
        try:
            org_encryption_key(ctx, grant["grantee_msp"])
        except NotFound:
            return f"{grant['grantee_msp']} has no active SM2 key"
        for item in wrapped_keys_of(ctx.stub, grant["grant_id"]):
            try:
                active_key(ctx, item["key_id"])
            except (NotFound, Forbidden, InvalidInput) as exc:
                return f"wrapped key of record {item['record_id']!r} uses key {item['key_id'][:16]}...: {exc}"
        return None
