"""The ingestion benchmark's load: many using units (appids), each posting a realistic sequence of batches
over HTTPS — a mix of all nine tables (txcode 01-09) and of insert / update / delete.

Per appid and table a unit inserts new record groups, every 4th batch of a table updates its latest live
group, every 8th deletes its oldest live group (so U and D always name records that exist and belong to
the unit, as a well-behaved sender's would). :class:`Sender` keeps that schedule; :func:`drive` runs the
senders concurrently for a fixed time and collects latencies and failures.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from .ingestdata import TXCODES, batch_no, record

__all__ = ["Sender", "LoadResult", "drive", "plan_batch"]

PREFIX = "/jsdspcloud/servlet"


@dataclass
class Sender:
    """One using unit's schedule: appid, secret, date (``YYYY-MM-DD``), record-number base.

    Its batches cycle through the nine tables inserting new record groups; every 4th batch updates the
    latest live group instead, every 8th deletes the oldest one (U and D thus always name records that
    exist, belong to the unit and are of the table the batch says)."""

    appid: str
    secret: str
    day: str
    base: int
    seq: int = 0
    inserts: int = 0
    live: deque[tuple[str, list[str]]] = field(default_factory=deque)
    fresh: int = 0

    def next_plan(self, size: int) -> tuple[str, str, list[str]]:
        """(txcode, busType, IDs) of batch number ``seq`` (already advanced)."""
        if self.seq % 8 == 0 and len(self.live) >= 2:
            txcode, ids = self.live.popleft()
            return txcode, "D", ids
        if self.seq % 4 == 0 and self.live:
            txcode, ids = self.live[-1]
            return txcode, "U", ids
        txcode = TXCODES[self.inserts % len(TXCODES)]
        self.inserts += 1
        ids = [f"{self.appid}-{txcode}-{self.fresh + i}" for i in range(size)]
        self.fresh += size
        self.live.append((txcode, ids))
        return txcode, "I", ids

    def body(self, token: str, size: int) -> tuple[bytes, int, str]:
        """(JSON body, record count, busType) of the next batch; advances the batch sequence."""
        self.seq += 1
        txcode, bus, ids = self.next_plan(size)
        number = batch_no(self.day, self.seq)
        data = [record(txcode, rid, number, bus, self.day, self.base + self.seq * 7 + i) for i, rid in enumerate(ids)]
        doc = {"access_token": token, "batchNo": number, "txcode": txcode, "busType": bus, "data": data}
        return orjson.dumps(doc), len(data), bus


def plan_batch(sender: Sender, size: int) -> dict[str, Any]:
    """The next batch of ``sender`` as a request document (token left empty), for the floor measurement."""
    raw, _, _ = sender.body("", size)
    return orjson.loads(raw)


@dataclass
class LoadResult:
    """What the senders saw."""

    started: float = 0.0
    finished: float = 0.0
    batches: int = 0
    records: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    by_bus: dict[str, int] = field(default_factory=lambda: {"I": 0, "U": 0, "D": 0})
    by_txcode: dict[str, int] = field(default_factory=dict)


async def _token(http: httpx.AsyncClient, sender: Sender) -> str:
    answer = (await http.get(PREFIX + "/token", params={"appid": sender.appid, "secret": sender.secret})).json()
    if answer.get("rescode") != "1":
        raise RuntimeError(f"no token for {sender.appid}: {answer.get('msg')}")
    return str(answer["data"]["access_token"])


async def _run_sender(http: httpx.AsyncClient, sender: Sender, size: int, deadline: float, out: LoadResult) -> None:
    token = await _token(http, sender)
    while time.monotonic() < deadline:
        raw, count, bus = sender.body(token, size)
        begin = time.monotonic()
        try:
            response = await http.post(PREFIX + "/syndata", content=raw, headers={"content-type": "application/json"})
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            out.failures.append(f"{sender.appid}: {type(exc).__name__}")
            continue
        out.latencies_ms.append((time.monotonic() - begin) * 1000)
        if answer.get("rescode") == "1":
            out.batches += 1
            out.records += count
            out.by_bus[bus] += 1
            txcode = answer["data"]["header"]["txcode"]
            out.by_txcode[txcode] = out.by_txcode.get(txcode, 0) + count
        else:
            out.failures.append(f"{sender.appid}: {answer.get('msg')}")
            if len(out.failures) > 50:
                return


async def drive(url: str, cafile: str | None, senders: list[Sender], size: int, duration: float) -> LoadResult:
    """Run every sender for ``duration`` seconds (a batch started before the deadline is awaited)."""
    import ssl  # noqa: PLC0415 - only the driver needs it

    verify: Any = ssl.create_default_context(cafile=cafile) if cafile else True
    limits = httpx.Limits(max_connections=len(senders) + 4, max_keepalive_connections=len(senders) + 4)
    out = LoadResult()
    async with httpx.AsyncClient(base_url=url, verify=verify, timeout=120, limits=limits) as http:
        out.started = time.monotonic()
        deadline = out.started + duration
        await asyncio.gather(*(_run_sender(http, s, size, deadline, out) for s in senders))
        out.finished = time.monotonic()
    return out
