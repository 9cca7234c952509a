"""Paged, filtered reading of the channel timeline for the Audit pages.

The chaincode gives the timeline a page (``audit:timeline_page``, at most 100 events, time order from
``from_time``) with a bookmark. :func:`scan` reads pages from a bookmark until it has ``want`` events
that pass the filters, the timeline ends, or its time budget is spent, and returns the bookmark to carry
on from — so a page or a report never reads the whole channel.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from qcchain_sdk.contracts.audit import _detail

__all__ = ["Filters", "Scan", "scan", "detail", "resume_key", "END_OF_TIME"]

END_OF_TIME = 10**12
PAGE = 100


def detail(event: dict[str, Any]) -> str:
    """The one-line description of an event (the SDK's timeline wording)."""
    return _detail(event)


@dataclass(frozen=True)
class Filters:
    """The Audit filters: event kind, writing org, [start, end) in epoch seconds, free text."""

    kind: str = ""
    org: str = ""
    start: int = 0
    end: int = END_OF_TIME
    text: str = ""

    def match(self, event: dict[str, Any]) -> bool:
        if self.kind and event.get("kind") != self.kind:
            return False
        if self.org and event.get("actor_msp") != self.org:
            return False
        if self.text and self.text.lower() not in f"{detail(event)} {event.get('tx_id', '')}".lower():
            return False
        return True


@dataclass
class Scan:
    """Matching events in time order, the bookmark to continue from ("" = the end was reached), and how
    many events were read to find them."""

    events: list[dict[str, Any]] = field(default_factory=list)
    bookmark: str = ""
    read: int = 0
    budget_spent: bool = False


def scan(contract: Any, filters: Filters, want: int, bookmark: str = "", budget_s: float = 2.0) -> Scan:
    """Read timeline pages until ``want`` matching events, the end, or ``budget_s`` seconds.

    Raises:
        qcchain_gateway.errors.GatewayError: a page read failed (e.g. a bookmark the chaincode refuses).
    """
    out = Scan(bookmark=bookmark)
    deadline = time.monotonic() + budget_s
    while True:
        page = json.loads(contract.evaluate_transaction("audit:timeline_page", str(filters.start), str(filters.end),
                                                        str(PAGE), out.bookmark))
        events, out.bookmark = page["events"], page["bookmark"]
        out.read += len(events)
        for i, event in enumerate(events):
            if filters.match(event):
                out.events.append(event)
                if len(out.events) >= want and i + 1 < len(events):
                    # stop mid-page: continue from the next event (the timeline's keys are its bookmark)
                    out.bookmark = resume_key(events[i + 1])
                    return out
        if not out.bookmark or len(out.events) >= want:
            return out
        if time.monotonic() >= deadline:
            out.budget_spent = True
            return out


def resume_key(event: dict[str, Any]) -> str:
    """The state key of an event (``qc.event`` composite key [12-digit time, tx id, kind]), which is the
    bookmark that starts a page at that event."""
    parts = ["qc.event", f"{int(event['at']):012d}", event["tx_id"], event["kind"]]
    return "\x00" + "\x00".join(parts) + "\x00"
