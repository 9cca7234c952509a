"""Who may read what of a record: the grade's audiences, a sharing grant, and the access log.

* :func:`entitled_view` — what the caller may see of a stored record (``records:get`` / ``query``,
  ``audit:record_history``): metadata always, payload / ciphertext by audience or grant.
* :func:`find_grant` / :func:`consume_grant` — the grant that lets an org read a record now, and one use
  of it; :func:`log_access` — the access-log entry of one read (``sharing:access``).

Rules layer: reads the store (members, policies, records, grants) and applies :mod:`.grading_rules` and
:mod:`.sharing_rules`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from qcchain_model.grades import PLACEMENT_PRIVATE_ENCRYPTED

from . import sharing_rules as rules
from .common import caller_msp, tx_time
from .errors import Forbidden
from .grading_rules import may_read
from .store.grants import BY_GRANTEE, grants_of, put_access, put_grant
from .store.members import role_of
from .store.policies import get_policy
from .store.records import get_sealed

log = logging.getLogger(__name__)

__all__ = ["find_grant", "consume_grant", "log_access", "entitled_view"]


def find_grant(ctx: Any, grantee_msp: str, record_meta: dict[str, Any], purpose: str | None = None) -> dict[str, Any] | None:
    """The first (in key order) approved, unexpired, unrevoked grant to ``grantee_msp`` covering the
    record (scope record/category/equipment, same owner) with max grade >= the record's grade, uses left
    at transaction time and — when ``purpose`` is given — granted for that purpose; None if there is none."""
    now = tx_time(ctx)
    for grant in grants_of(ctx.stub, BY_GRANTEE, grantee_msp):
        if rules.grant_serves(grant, record_meta, now, purpose):
            return grant
    return None


def log_access(ctx: Any, record_meta: dict[str, Any], purpose: str, basis: str, grant_id: str | None) -> dict[str, Any]:
    """Write the access-log entry (who, what, when, why) for one read and return it."""
    at, tx_id = tx_time(ctx), ctx.stub.get_tx_id()
    entry = {"tx_id": tx_id, "at": at, "reader_msp": caller_msp(ctx), "reader_id": ctx.client_identity.id,
             "record_id": record_meta["record_id"], "owner_msp": record_meta["owner_msp"],
             "grade": record_meta["grade"], "purpose": purpose, "basis": basis, "grant_id": grant_id}
    put_access(ctx.stub, entry)
    return entry


def consume_grant(ctx: Any, grant: dict[str, Any], record_meta: dict[str, Any], purpose: str) -> dict[str, Any]:
    """Count one use of ``grant`` (if limited), stamp its last use, log the access; return the log entry.

    Raises:
        Forbidden: the grant does not serve this record for ``purpose`` now (expired, used up, revoked, out
            of scope, grade above it, another purpose).
    """
    now = tx_time(ctx)
    if not rules.grant_serves(grant, record_meta, now, purpose):
        raise Forbidden(f"grant {grant['grant_id']!r} does not cover record {record_meta['record_id']!r} "
                        f"for purpose {purpose!r} now")
    updated = dict(grant, uses=int(grant.get("uses", 0)) + 1, last_used_at=now)
    put_grant(ctx.stub, updated)
    return log_access(ctx, record_meta, purpose, "grant", grant["grant_id"])


def entitled_view(ctx: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """What the caller may see of a stored record: metadata always, payload/ciphertext by audience.

    ``access`` says why: ``audience`` (the grade's audiences, or L1), ``grant`` or ``metadata`` only. A
    grant never releases data here (no purpose is stated, no use is counted, nothing is logged): with a
    grant the view carries the L3 ciphertext (useless without the data key) and the grantee reads the
    payload or the wrapped data key through ``sharing:access``, which checks every term of the grant,
    including its purpose, counts the use and logs it.

    Raises:
        NotFound: no grading policy installed.
    """
    view = dict(meta)
    payload = view.pop("payload", None)
    msp = caller_msp(ctx)
    policy = get_policy(ctx.stub, "grading")
    allowed = meta["grade"] == "L1" or may_read(policy, meta["grade"], role_of(ctx.stub, msp), msp, meta["owner_msp"])
    granted = not allowed and find_grant(ctx, msp, meta) is not None
    view["access"] = "audience" if allowed else "grant" if granted else "metadata"
    if payload is not None and allowed:
        view["payload"] = payload
    if meta.get("placement") == PLACEMENT_PRIVATE_ENCRYPTED and not meta["deleted"] and (allowed or granted):
        raw = get_sealed(ctx.stub, meta["record_id"])
        if raw:
            stored = json.loads(raw)
            view["ciphertext"] = stored["ciphertext"]
            view["wrapped_key"] = stored["wrapped_keys"].get(msp) if allowed else None
    return view
