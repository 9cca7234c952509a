"""Channels decided by governance at run time (issue 18): ``gov.channel`` [channel] and ``gov.chjoin``
[channel, msp_id].

A channel record is ``{channel, members: [MSP ids], source, created_at}`` — written by an executed
``channel_create`` proposal (``source``: its id); a join record is ``{channel, msp_id, source, joined_at}``
— written by an executed ``channel_join``. The network tools create or join the Fabric channel only
after the matching record exists (T-5.1, T-8.2 b). Channels made with the network (in its consortium
file) have no record.
"""

from __future__ import annotations

from typing import Any

from ..common import get_json, put_json, tx_time

__all__ = ["channel_of", "join_of", "put_channel", "put_join"]


def _channel_key(stub: Any, channel: str) -> str:
    return stub.create_composite_key("gov.channel", [channel])


def _join_key(stub: Any, channel: str, msp_id: str) -> str:
    return stub.create_composite_key("gov.chjoin", [channel, msp_id])


def channel_of(stub: Any, channel: str) -> dict[str, Any] | None:
    """The channel record, or None.

    Raises:
        InvalidInput: the stored value is corrupt (not a JSON object).
    """
    return get_json(stub, _channel_key(stub, channel))


def join_of(stub: Any, channel: str, msp_id: str) -> dict[str, Any] | None:
    """The join record of ``msp_id`` on ``channel``, or None.

    Raises:
        InvalidInput: the stored value is corrupt (not a JSON object).
    """
    return get_json(stub, _join_key(stub, channel, msp_id))


def put_channel(ctx: Any, channel: str, members: list[str], source: str) -> dict[str, Any]:
    """Write the channel record; returns it."""
    record = {"channel": channel, "members": list(members), "source": source, "created_at": tx_time(ctx)}
    put_json(ctx.stub, _channel_key(ctx.stub, channel), record)
    return record


def put_join(ctx: Any, channel: str, msp_id: str, source: str) -> dict[str, Any]:
    """Write the join record; returns it."""
    record = {"channel": channel, "msp_id": msp_id, "source": source, "joined_at": tx_time(ctx)}
    put_json(ctx.stub, _join_key(ctx.stub, channel, msp_id), record)
    return record
