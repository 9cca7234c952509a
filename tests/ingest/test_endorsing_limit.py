"""``ChainLink`` endorses at most ``max_endorsing`` batches at once (the rest wait their turn) while commits
are not limited; a limit below 1 is refused."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from qcchain_ingest.anchor import MAX_ENDORSING, ChainLink


class _Network:
    """Just enough of a Gateway ``Network``: proposals whose endorse() blocks until released."""

    name = "qcchannel"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.endorsing = self.most = self.committing = self.most_committing = 0
        self.release = threading.Event()
        self.commit_release = threading.Event()

    def get_contract(self, _chaincode: str, _name: str = "") -> Any:
        return SimpleNamespace(new_proposal=lambda *_a, **_k: SimpleNamespace(endorse=self._endorse))

    def _endorse(self) -> Any:
        with self.lock:
            self.endorsing += 1
            self.most = max(self.most, self.endorsing)
        self.release.wait(10)
        with self.lock:
            self.endorsing -= 1
        return SimpleNamespace(result=json.dumps({"ok": 1}).encode(), submit=lambda: SimpleNamespace(get_status=self._commit))

    def _commit(self) -> Any:
        with self.lock:
            self.committing += 1
            self.most_committing = max(self.most_committing, self.committing)
        self.commit_release.wait(10)
        with self.lock:
            self.committing -= 1
        return SimpleNamespace(successful=True, transaction_id="tx", block_number=7)


def test_at_most_max_endorsing_batches_are_endorsed_at_once_and_commits_are_not_limited() -> None:
    net = _Network()
    link = ChainLink(net, "RegulatorMSP", max_endorsing=2)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(link.anchor({"b": 1}, {}))) for _ in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while net.endorsing < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # the other four have had their chance to enter endorse() too
    assert net.endorsing == 2
    net.release.set()
    deadline = time.monotonic() + 10
    while net.committing < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert net.committing == 6  # all six wait for their commits together
    net.commit_release.set()
    for t in threads:
        t.join(10)
    assert net.most == 2 and net.most_committing == 6
    assert results == [({"ok": 1}, "tx", 7)] * 6


def test_the_default_and_a_bad_limit() -> None:
    assert MAX_ENDORSING == 3
    with pytest.raises(ValueError, match="max_endorsing"):
        ChainLink(_Network(), "RegulatorMSP", max_endorsing=0)
