"""Cached re-verification of what an Audit page shows: each item is checked once and remembered.

For the events on a page, :class:`AuditVerifier` re-verifies — with the SDK's own checks
(:mod:`qcchain_sdk.contracts.audit`) — the SM2 key records named (key id = SM3 of the key), every version
of each record named (submitter's SM2 signature, SM3 digests; read once per new version through
``audit:record_history``) and each governance proposal named (id = SM3 of the body, signatures by the
signing orgs' keys, threshold of an executed one; read through ``audit:lifecycle_log_page``). Results
are kept per key id, per record version and per proposal state, so a page that was verified once costs
no re-verification; a new version or a new signature is verified when it first appears.

Record histories are read by a small pool of threads (the reads wait on the peer, not the CPU), in the
order of the events. :meth:`AuditVerifier.verify` takes a deadline and says how many leading events it
could verify by then (``covered``): the page shows those and continues from the next one, while the reads
already started finish in the background and fill the cache for the continuation. :meth:`warm` verifies
the default view (the first report's events) once at start-up.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from qcchain_core.gm import SM2PublicKey
from qcchain_sdk.contracts.audit import AuditClient, verify_history, verify_key_record, verify_proposal

from .auditscan import Filters, scan

log = logging.getLogger(__name__)

__all__ = ["AuditVerifier", "Verified", "PROPOSAL_KINDS", "RULES_TTL_S"]

PROPOSAL_KINDS = ("proposed", "signed", "executed")
RULES_TTL_S = 30.0
PAGE = 100
READERS = 12  # concurrent record-history reads
WARM_EVENTS = 1000  # the default report's rows, verified at start-up


@dataclass
class Verified:
    """The verification of one page's items: counts and the problems found (empty = all hold)."""

    sm2_signatures: int = 0
    sm3_digests: int = 0
    keys: int = 0
    items: int = 0
    problems: list[str] = field(default_factory=list)
    covered: int = 0  # leading events whose items are verified (the rest: not within the deadline)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Result:
    sigs: int
    digests: int
    problems: list[str]


class AuditVerifier:
    """Verification results cached for the console's lifetime. Thread-safe: one lock guards the caches;
    record histories are read and verified by a pool of :data:`READERS` threads."""

    def __init__(self, client: AuditClient, readers: int = READERS) -> None:
        self.client = client
        self._keys: dict[str, tuple[SM2PublicKey | None, list[str]]] = {}
        self._records: dict[str, tuple[int, _Result]] = {}
        self._inflight: dict[str, Future[_Result]] = {}
        self._proposals: dict[tuple[str, str, int], _Result] = {}
        self._rules: tuple[float, dict[str, Any], list[dict[str, Any]]] | None = None
        self._lock = threading.Lock()
        self._proposal_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(readers, thread_name_prefix="console-verify")

    def close(self) -> None:
        """Stop the readers (reads under way are abandoned)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ keys
    def _key(self, key_id: str) -> SM2PublicKey | None:
        known = self._keys.get(key_id)
        if known is None:  # two threads may both read a new key once: harmless
            known = verify_key_record(self.client.key(key_id), key_id)
            self._keys[key_id] = known
        return known[0]

    def _owner(self, key_id: str) -> str | None:
        record = self.client.key(key_id)
        return None if record is None else record.get("msp_id")

    # ------------------------------------------------------------------ items
    def _read_record(self, record_id: str, version: int) -> _Result:
        try:
            versions = self.client.record_history(record_id)
            sigs, digests, problems = verify_history(versions, self._key, self._owner)
            result = _Result(sigs, digests, problems)
            with self._lock:
                self._records[record_id] = (max((v["version"] for v in versions), default=version), result)
            return result
        finally:
            with self._lock:
                self._inflight.pop(record_id, None)

    def _record(self, record_id: str, version: int) -> _Result | Future[_Result]:
        """The cached result of a record at ``version`` or later, else the read under way (started here)."""
        with self._lock:
            cached = self._records.get(record_id)
            if cached is not None and cached[0] >= version:
                return cached[1]
            future = self._inflight.get(record_id)
            if future is None:
                future = self._pool.submit(self._read_record, record_id, version)
                self._inflight[record_id] = future
            return future

    def _governance(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rules = self._rules
        if rules is None or time.monotonic() - rules[0] > RULES_TTL_S:
            operations, members = self.client.governance_rules()
            rules = self._rules = (time.monotonic(), operations, members)
        return rules[1], rules[2]

    def _lifecycle(self) -> dict[str, dict[str, Any]]:
        entries: dict[str, dict[str, Any]] = {}
        bookmark = ""
        while True:
            page = json.loads(self.client.contract.evaluate_transaction("audit:lifecycle_log_page", str(PAGE), bookmark))
            entries.update((e["proposal_id"], e) for e in page["entries"])
            bookmark = page["bookmark"]
            if not bookmark:
                return entries

    def _proposals_for(self, ids: list[str]) -> dict[str, _Result]:
        out: dict[str, _Result] = {}
        fresh: dict[str, dict[str, Any]] | None = None
        with self._proposal_lock:
            for pid in ids:
                if fresh is None:
                    fresh = self._lifecycle()  # statuses move: read the log once per page that names proposals
                entry = fresh.get(pid)
                if entry is None:
                    out[pid] = _Result(0, 0, [f"proposal {pid[:16]}...: named in the timeline but not in the lifecycle log"])
                    continue
                state = (pid, str(entry.get("status")), len(entry.get("signatures") or []))
                if state not in self._proposals:
                    operations, members = self._governance()
                    checked, problems = verify_proposal(entry, self._key, self._owner,
                                                        operations.get(entry["operation"]), members)
                    self._proposals[state] = _Result(checked, 1, problems)
                out[pid] = self._proposals[state]
        return out

    def verify(self, events: list[dict[str, Any]], deadline: float | None = None) -> Verified:
        """Re-verify the items the events name (cached), in event order, until ``deadline`` (a
        ``time.monotonic()`` value; None = all). ``covered`` says how many leading events were verified
        (at least one when there are events). Never raises for a verification failure; a failed chain read
        propagates (``qcchain_gateway.errors.GatewayError``)."""
        out = Verified()
        items: list[tuple[str, str, Any]] = []  # (kind, name, cached result / read under way)
        proposals: list[str] = []
        for event in events:
            kind = event.get("kind")
            if kind == "record":
                items.append(("record", event["record_id"], self._record(event["record_id"], int(event["version"]))))
            elif kind in PROPOSAL_KINDS and event.get("proposal_id"):
                items.append(("proposal", event["proposal_id"], None))
                proposals.append(event["proposal_id"])
            elif kind == "key_registered":
                items.append(("key", event["key_id"], None))
            else:
                items.append(("none", "", None))
        checked = self._proposals_for(list(dict.fromkeys(proposals)))
        seen: set[tuple[str, str]] = set()
        for index, (kind, name, item) in enumerate(items):
            if isinstance(item, Future):
                try:
                    wait = None if deadline is None or index == 0 else max(0.0, deadline - time.monotonic())
                    item = item.result(timeout=wait)
                except FutureTimeout:
                    out.covered = index
                    return out
            out.covered = index + 1
            if kind == "none" or (kind, name) in seen:
                continue
            seen.add((kind, name))
            if kind == "key":
                self._key(name)
                out.keys += 1
                out.problems += self._keys[name][1]
            else:
                result: _Result = item if kind == "record" else checked[name]
                out.sm2_signatures += result.sigs
                out.sm3_digests += result.digests
                out.problems += result.problems
            out.items += 1
        return out

    def warm(self, contract: Any, events: int = WARM_EVENTS) -> Verified:
        """Verify the first ``events`` events of the timeline (the default report) into the cache.
        Raises the gateway's errors."""
        return self.verify(scan(contract, Filters(), events, "", budget_s=60.0).events)
