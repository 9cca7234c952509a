"""The ingestion benchmark's load generator: the closed loop posts again when answered; the open loop posts
on a fixed schedule, counts batches sent after their due time and measures latency from the due time (a
slow system shows in the percentiles instead of silently lowering the offered load)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from qcchain_bench.ingestload import Sender, drive


def _server(delay_s: float, seen: list[dict]) -> httpx.MockTransport:
    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"rescode": "1", "msg": "success", "data": {"access_token": "t"}})
        body = json.loads(request.content)
        seen.append(body)
        await asyncio.sleep(delay_s)
        return httpx.Response(200, json={"rescode": "1", "msg": "success",
                                         "data": {"header": {"txcode": body["txcode"]}}})
    return httpx.MockTransport(answer)


def _senders(n: int) -> list[Sender]:
    return [Sender(f"app{i}", "s", "2026-12-03", 10 ** 5 * (i + 1)) for i in range(n)]


def test_open_loop_keeps_the_schedule_when_the_server_keeps_up() -> None:
    seen: list[dict] = []
    # 2 senders x 10 records at 200 records/s: a batch due every 0.1 s per sender, answered in 10 ms
    out = asyncio.run(drive("http://bench.test", None, _senders(2), 10, 1.0, rate=200, transport=_server(0.01, seen)))
    assert out.failures == [] and out.late_batches == 0
    assert 18 <= out.batches <= 22 and out.records == 10 * out.batches == 10 * len(seen)
    assert max(out.latencies_ms) < 100


def test_open_loop_counts_late_batches_and_their_wait() -> None:
    seen: list[dict] = []
    # a batch due every 0.05 s but answered in 0.2 s: most are late, latency counted from the due time grows
    out = asyncio.run(drive("http://bench.test", None, _senders(1), 10, 0.6, rate=200, transport=_server(0.2, seen)))
    assert out.late_batches >= 1 and out.batches >= 3
    assert out.latencies_ms == sorted(out.latencies_ms) and out.latencies_ms[-1] > 400


def test_closed_loop_posts_again_when_answered() -> None:
    seen: list[dict] = []
    out = asyncio.run(drive("http://bench.test", None, _senders(3), 5, 0.3, transport=_server(0.05, seen)))
    assert out.late_batches == 0 and out.batches == len(seen) >= 9
    assert {b["busType"] for b in seen} >= {"I"}


def test_negative_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        asyncio.run(drive("http://bench.test", None, _senders(1), 5, 0.1, rate=-1))
