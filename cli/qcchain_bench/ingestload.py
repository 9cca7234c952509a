"""The ingestion benchmark's load: many using units (appids), each posting a realistic sequence of batches
over HTTPS — a mix of all nine tables (txcode 01-09) and of insert / update / delete.

Per appid and table a unit inserts new record groups, every 4th batch of a table updates its latest live
group, every 8th deletes its oldest live group (so U and D always name records that exist and belong to
the unit, as a well-behaved sender's would). :class:`Sender` keeps that schedule; :func:`drive` runs the
senders concurrently for a fixed time and collects latencies and failures.

Two load models. Closed loop (``rate`` 0): every sender posts its next batch as soon as the previous one is
answered — the system's capacity, with latency growing by queueing (Little's law: ``appids`` x batch size
records in flight). Open loop (``rate`` R records/s): as thousands of units reporting on their own schedules
do, each sender's batches are due at fixed times (period ``appids x size / R`` seconds, senders evenly
staggered); a sender still waiting for an answer when its next batch is due sends it late. Latency is
counted from the batch's due time, not from when it could be sent, so a system that falls behind shows
it in the percentiles (no coordinated omission); ``late_batches`` counts those sent after their time.
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
    late_batches: int = 0


async def _token(http: httpx.AsyncClient, sender: Sender) -> str:
    answer = (await http.get(PREFIX + "/token", params={"appid": sender.appid, "secret": sender.secret})).json()
    if answer.get("rescode") != "1":
        raise RuntimeError(f"no token for {sender.appid}: {answer.get('msg')}")
    return str(answer["data"]["access_token"])


async def _run_sender(http: httpx.AsyncClient, sender: Sender, size: int, deadline: float, out: LoadResult,
                      first_due: float | None = None, period: float = 0.0) -> None:
    token = await _token(http, sender)
    due = first_due
    while (due if due is not None else time.monotonic()) < deadline:
        raw, count, bus = sender.body(token, size)
        now = time.monotonic()
        if due is None:  # closed loop
            begin = now
        else:
            if now < due:
                await asyncio.sleep(due - now)
            elif now > due + 0.001:
                out.late_batches += 1
            begin, due = due, due + period  # latency from the due time, even when sent late
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


async def drive(url: str, cafile: str | None, senders: list[Sender], size: int, duration: float,
                rate: float = 0.0, transport: httpx.AsyncBaseTransport | None = None) -> LoadResult:
    """Run every sender for ``duration`` seconds (a batch started before the deadline is awaited); closed
    loop when ``rate`` is 0, else batches due at ``rate`` records/s in all (see the module docstring).

    Raises:
        ValueError: ``rate`` is negative.
    """
    if rate < 0:
        raise ValueError(f"rate must be >= 0 records/s, got {rate}")
    import ssl  # noqa: PLC0415 - only the driver needs it

    verify: Any = ssl.create_default_context(cafile=cafile) if cafile else True
    limits = httpx.Limits(max_connections=len(senders) + 4, max_keepalive_connections=len(senders) + 4)
    out = LoadResult()
    async with httpx.AsyncClient(base_url=url, verify=verify, timeout=120, limits=limits, transport=transport) as http:
        tokens_at = time.monotonic()
        period = len(senders) * size / rate if rate else 0.0
        start = tokens_at + 1.0 if rate else tokens_at  # paced: a second for the senders' tokens first
        out.started = start
        deadline = start + duration
        await asyncio.gather(*(_run_sender(http, s, size, deadline, out,
                                           start + i * period / len(senders) if rate else None, period)
                               for i, s in enumerate(senders)))
        out.finished = time.monotonic()
    return out
