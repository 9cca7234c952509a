"""The audit verifier's deadline: record histories read in parallel and in event order, the leading events
verified in time reported as ``covered`` (at least one), reads under way finishing in the background so a
later call covers more, and nothing read twice."""

from __future__ import annotations

import threading
import time
from typing import Any

from qcchain_console.auditcache import AuditVerifier


class SlowHistories:
    """An AuditClient stand-in: every record has no versions; each history read takes ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay, self.reads, self._lock = delay, [], threading.Lock()

    def record_history(self, record_id: str) -> list[dict[str, Any]]:
        time.sleep(self.delay)
        with self._lock:
            self.reads.append(record_id)
        return []


def _events(n: int) -> list[dict[str, Any]]:
    return [{"kind": "record", "record_id": f"R-{i}", "version": 1} for i in range(n)] + [{"kind": "bootstrap"}]


def test_a_deadline_covers_a_prefix_and_the_rest_finishes_in_the_background() -> None:
    client = SlowHistories(0.05)
    verifier = AuditVerifier(client, readers=4)  # type: ignore[arg-type]
    try:
        events = _events(80)
        started = time.monotonic()
        first = verifier.verify(events, deadline=started + 0.2)
        assert time.monotonic() - started < 0.6
        assert 1 <= first.covered < 80 and first.items == first.covered
        time.sleep(1.5)  # 80 reads / 4 readers * 0.05 s = 1 s
        again = verifier.verify(events, deadline=time.monotonic() + 0.05)
        assert again.covered == 81 and again.items == 80 and not again.problems
        assert sorted(client.reads) == sorted(f"R-{i}" for i in range(80))  # each read once
        assert set(client.reads[:8]) <= {f"R-{i}" for i in range(12)}  # read in event order (4 at a time)
    finally:
        verifier.close()


def test_without_a_deadline_everything_is_verified_and_one_event_is_always_covered() -> None:
    verifier = AuditVerifier(SlowHistories(0.2), readers=1)  # type: ignore[arg-type]
    try:
        assert verifier.verify(_events(3), deadline=time.monotonic()).covered == 1  # the first one waits
        done = verifier.verify(_events(6))
        assert done.covered == 7 and done.items == 6
    finally:
        verifier.close()
