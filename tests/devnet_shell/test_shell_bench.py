"""``qcchain_bench.tx``: percentiles and the measuring loop (against an in-memory contract double)."""

from __future__ import annotations

import math
import threading
import time
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from qcchain_bench.tx import PutWorkload, percentile, run_tx_bench
from qcchain_gateway.errors import EvaluateNotFoundError


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 99) == 5
    assert percentile(list(range(101)), 95) == 95
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match="outside"):
        percentile([1], 101)


class _Ledger:
    def __init__(self, fail_every: int = 0) -> None:
        self.state: dict[str, str] = {}
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.fail_every, self.count = fail_every, 0
        self.endorsers: set[tuple[str, ...]] = set()


class _Contract:
    """Mimics the SDK's proposal -> endorse -> submit -> get_status chain with a small delay."""

    def __init__(self, ledger: _Ledger) -> None:
        self.ledger = ledger

    def new_proposal(self, fn: str, arguments: list[str], endorsing_organizations: Any = None) -> Any:
        ledger = self.ledger
        ledger.endorsers.add(tuple(endorsing_organizations or ()))

        def get_status() -> Any:
            with ledger.lock:
                ledger.in_flight += 1
                ledger.max_in_flight = max(ledger.max_in_flight, ledger.in_flight)
                ledger.count += 1
                bad = ledger.fail_every and ledger.count % ledger.fail_every == 0
            time.sleep(0.002)
            with ledger.lock:
                ledger.in_flight -= 1
                if not bad:
                    ledger.state[arguments[0]] = arguments[1]
            return SimpleNamespace(successful=not bad, code=11 if bad else 0)

        submitted = SimpleNamespace(get_status=get_status)
        return SimpleNamespace(endorse=lambda: SimpleNamespace(submit=lambda: submitted))

    def evaluate_transaction(self, fn: str, key: str) -> bytes:
        if key not in self.ledger.state:  # as the example chaincode answers through the gateway
            raise EvaluateNotFoundError(f"chaincode response 404, key {key} not found", grpc.StatusCode.UNKNOWN)
        return self.ledger.state[key].encode()


def test_run_tx_bench_counts_and_concurrency() -> None:
    ledger = _Ledger()
    contracts = [_Contract(ledger) for _ in range(8)]
    res = run_tx_bench(contracts, 200, PutWorkload(), endorsers=["AMSP", "BMSP"], evaluations=50, warmup=2, singles=5)
    assert res.committed == 200 and res.failed == 0 and res.concurrency == 8
    assert len([k for k in ledger.state if "-" in k]) == 200 + 2 + 5
    assert ledger.max_in_flight > 1
    assert res.tx_per_s > 0 and res.submit_latency_ms["p50"] >= 2.0
    assert res.submit_latency_ms["p50"] <= res.submit_latency_ms["p95"] <= res.submit_latency_ms["p99"]
    assert res.evaluations == 50 and set(res.evaluate_latency_ms) == {"p50", "p95"}
    assert set(res.single_submit_latency_ms) == {"p50", "p95"}
    assert ledger.endorsers == {("AMSP", "BMSP")}
    assert set(res.to_dict()) >= {"tx_per_s", "submit_latency_ms", "evaluate_latency_ms"}


def test_run_tx_bench_reports_invalid_transactions() -> None:
    ledger = _Ledger(fail_every=10)
    res = run_tx_bench([_Contract(ledger)], 50, PutWorkload(), evaluations=0, warmup=0, singles=0)
    assert res.failed == 5 and res.committed == 45
    assert res.failures == {"validation code 11": 5}


def test_run_tx_bench_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="transactions"):
        run_tx_bench([], 10, PutWorkload())
