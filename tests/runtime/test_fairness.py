"""One CPU-bound transaction does not stall the others (through the chaincode protocol, server in its own
process as under CCaaS).

A ~2 s CPU-bound evaluate runs while a stream of short ``get`` transactions (one GET_STATE round trip
each) is sent one after another. Bound on their p95: 150 ms. Why: with a 10 ms CPU slice the long
transaction is preempted after one to two slices (10-20 ms) of uninterrupted computing; a short
transaction needs the loop twice (to start and send GET_STATE, then to take the reply and send COMPLETED),
so it waits at most ~40 ms for the long one, plus its own ~1-5 ms and the noise of a 2-core machine shared
with other jobs (x3 margin). Without slicing the same p95 is the long transaction's remaining duration
(~1-2 s), which the control case checks, so the bound separates the two behaviours by an order of magnitude.
"""

from __future__ import annotations

import statistics
import time

from ccproc import served

BOUND_P95_S = 0.150


def _calibrate(peer, seconds: float) -> int:  # noqa: ANN001
    rounds = 200_000
    t0 = time.perf_counter()
    assert peer.submit(["load:spin", str(rounds)], timeout=30).ok
    per_round = (time.perf_counter() - t0) / rounds
    return int(seconds / per_round)


def _short_latencies_during_long(peer) -> tuple[list[float], float]:  # noqa: ANN001
    peer.seed({"k": b"v"})
    rounds = _calibrate(peer, 2.0)
    t0 = time.perf_counter()
    long_tx = peer.submit_async(["load:spin", str(rounds)])
    time.sleep(0.05)
    latencies: list[float] = []
    while not long_tx.done():
        s = time.perf_counter()
        result = peer.submit(["load:get", "k"], timeout=30)
        assert result.ok and result.response.payload == b"v"
        latencies.append(time.perf_counter() - s)
        time.sleep(0.01)
    assert long_tx.result().ok
    return latencies, time.perf_counter() - t0


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def test_short_transactions_progress_while_one_computes() -> None:
    with served() as (peer, _):
        latencies, long_s = _short_latencies_during_long(peer)
    assert long_s > 0.5, long_s  # the long transaction really computed (about 2 s; calibration is noisy)
    assert len(latencies) >= 10, len(latencies)  # many short ones completed meanwhile
    assert p95(latencies) < BOUND_P95_S, (p95(latencies), max(latencies), len(latencies))


def test_control_without_time_slicing_the_long_transaction_stalls_the_others() -> None:
    with served(LOADCC_TIME_SLICE="0") as (peer, _):
        latencies, _ = _short_latencies_during_long(peer)
    assert max(latencies) > 0.8, latencies  # the first short one waited for most of the long one
