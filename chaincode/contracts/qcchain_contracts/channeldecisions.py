"""Governed channels at run time (issue 18): the rules of ``channel_create`` and ``channel_join`` proposals.

``channel_create``: ``target.contract`` = the channel name; the artifact ``{channel, members}`` names it
again and lists two or more distinct MSP ids, each an *active* member; a channel already decided (a
record in :mod:`.store.channels`) is refused. ``channel_join``: ``target.contract`` = the MSP id; the
artifact ``{channel, msp_id}``; the MSP id must be an active member, and not already decided onto that
channel (by a join, or as one of its creation's members). Both are checked when proposed and again when
executed (membership may have changed in between). Deterministic: ledger reads only.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import Conflict, InvalidInput, NotFound
from .store.channels import channel_of, join_of, put_channel, put_join
from .store.members import MSP_ID, member_of

__all__ = ["CHANNEL_NAME", "validate_channel_artifact", "apply_channel_operation"]

#: A Fabric application channel name (lowercase letters, digits, ``.``, ``-``; first a letter), at most 64.
CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9.-]{0,63}$")
_FIELDS = {"channel_create": ("channel", "members"), "channel_join": ("channel", "msp_id")}


def _active(stub: Any, msp_id: Any, what: str) -> str:
    if not isinstance(msp_id, str) or not MSP_ID.match(msp_id):
        raise InvalidInput(f"{what}: {msp_id!r} is not a valid MSP id")
    member = member_of(stub, msp_id)
    if member is None or member.get("status") != "active":
        raise NotFound(f"{what}: {msp_id} is not an active member")
    return msp_id


def validate_channel_artifact(ctx: Any, op: str, subject: str, artifact: Any) -> dict[str, Any]:
    """Check a ``channel_create`` / ``channel_join`` artifact against its subject and the ledger; returns it.

    Raises:
        InvalidInput: wrong fields, a bad channel name or MSP id, subject mismatch, fewer than two or
        repeated members. NotFound: a member that is not active. Conflict: already decided.
    """
    fields = _FIELDS[op]
    if not isinstance(artifact, dict) or sorted(artifact) != sorted(fields):
        raise InvalidInput(f"a {op} artifact must be an object with exactly {', '.join(fields)}")
    channel = artifact["channel"]
    if not isinstance(channel, str) or not CHANNEL_NAME.match(channel):
        raise InvalidInput(f"{op}: channel {channel!r} must be lowercase letters, digits, '.', '-' (a letter "
                           "first, at most 64)")
    if op == "channel_create":
        if channel != subject:
            raise InvalidInput(f"channel_create artifact is for {channel}, target names {subject}")
        members = artifact["members"]
        if not isinstance(members, list) or len(members) < 2 or len(set(map(str, members))) != len(members):
            raise InvalidInput("channel_create: members must list two or more distinct MSP ids")
        for msp in members:
            _active(ctx.stub, msp, f"channel_create {channel}")
        if channel_of(ctx.stub, channel) is not None:
            raise Conflict(f"channel {channel} was already decided (channel_create executed)")
        return {"channel": channel, "members": list(members)}
    msp = _active(ctx.stub, artifact["msp_id"], f"channel_join {channel}")
    if msp != subject:
        raise InvalidInput(f"channel_join artifact is for {msp}, target names {subject}")
    created = channel_of(ctx.stub, channel)
    if join_of(ctx.stub, channel, msp) is not None or (created is not None and msp in created["members"]):
        raise Conflict(f"{msp} was already decided onto channel {channel}")
    return {"channel": channel, "msp_id": msp}


def apply_channel_operation(ctx: Any, op: str, subject: str, artifact: dict[str, Any], proposal_id: str) -> dict[str, Any]:
    """Execute a checked channel proposal (re-checked against the ledger now); returns the outcome.

    Raises:
        as :func:`validate_channel_artifact`.
    """
    checked = validate_channel_artifact(ctx, op, subject, artifact)
    if op == "channel_create":
        record = put_channel(ctx, checked["channel"], checked["members"], proposal_id)
        return {"channel": record["channel"], "members": record["members"]}
    record = put_join(ctx, checked["channel"], checked["msp_id"], proposal_id)
    return {"channel": record["channel"], "msp_id": record["msp_id"]}
