"""``qcchain bench tx`` waits until what it wrote is readable before timing evaluates (an evaluate may reach a
peer that has not committed the last block yet and answer 404), and says so when it never becomes readable."""

from __future__ import annotations

import grpc
import pytest

from qcchain_bench import tx as txbench
from qcchain_bench.errors import BenchError
from qcchain_bench.tx import PutWorkload
from qcchain_gateway.errors import NotFoundError


class _LaggingPeer:
    def __init__(self, lag: int) -> None:
        self.lag, self.calls = lag, []

    def evaluate_transaction(self, fn: str, *args: str) -> bytes:
        self.calls.append((fn, *args))
        if self.lag:
            self.lag -= 1
            raise NotFoundError("chaincode response 404, not found", grpc.StatusCode.UNKNOWN)
        return b"v"


def test_evaluates_are_timed_once_the_last_write_is_readable() -> None:
    peer, workload = _LaggingPeer(lag=3), PutWorkload()
    latencies = txbench._evaluate(peer, workload, 5)
    assert len(latencies) == 5
    assert peer.calls[:4] == [("get", f"bench-{workload.run}-4")] * 4  # 3 not-found answers, then readable
    assert [c[1] for c in peer.calls[4:]] == [f"bench-{workload.run}-{i}" for i in range(5)]


def test_a_write_that_never_becomes_readable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(txbench, "SETTLE_S", 0.2)
    with pytest.raises(BenchError, match="still not readable"):
        txbench._evaluate(_LaggingPeer(lag=10 ** 6), PutWorkload(), 3)
