"""Cached re-verification of what an Audit page shows: each item is checked once and remembered.

For the events on a page, :class:`AuditVerifier` re-verifies — with the SDK's own checks
(:mod:`qcchain_sdk.contracts.audit`) — the SM2 key records named (key id = SM3 of the key), every version
of each record named (submitter's SM2 signature, SM3 digests; read once per new version through
``audit:record_history``) and each governance proposal named (id = SM3 of the body, signatures by the
signing orgs' keys, threshold of an executed one; read through ``audit:lifecycle_log_page``). Results
are kept per key id, per record version and per proposal state, so a page that was verified once costs
no re-verification; a new version or a new signature is verified when it first appears.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from qcchain_core.gm import SM2PublicKey
from qcchain_sdk.contracts.audit import AuditClient, verify_history, verify_key_record, verify_proposal

log = logging.getLogger(__name__)

__all__ = ["AuditVerifier", "Verified", "PROPOSAL_KINDS", "RULES_TTL_S"]

PROPOSAL_KINDS = ("proposed", "signed", "executed")
RULES_TTL_S = 30.0
PAGE = 100


@dataclass
class Verified:
    """The verification of one page's items: counts and the problems found (empty = all hold)."""

    sm2_signatures: int = 0
    sm3_digests: int = 0
    keys: int = 0
    items: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Result:
    sigs: int
    digests: int
    problems: list[str]


class AuditVerifier:
    """Verification results cached for the console's lifetime. Thread-safe (one lock; verification of a
    page runs in a worker thread)."""

    def __init__(self, client: AuditClient) -> None:
        self.client = client
        self._keys: dict[str, tuple[SM2PublicKey | None, list[str]]] = {}
        self._records: dict[str, tuple[int, _Result]] = {}
        self._proposals: dict[tuple[str, str, int], _Result] = {}
        self._rules: tuple[float, dict[str, Any], list[dict[str, Any]]] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ keys
    def _key(self, key_id: str) -> SM2PublicKey | None:
        if key_id not in self._keys:
            public, problems = verify_key_record(self.client.key(key_id), key_id)
            self._keys[key_id] = (public, problems)
        return self._keys[key_id][0]

    def _owner(self, key_id: str) -> str | None:
        record = self.client.key(key_id)
        return None if record is None else record.get("msp_id")

    # ------------------------------------------------------------------ items
    def _record(self, record_id: str, version: int) -> _Result:
        cached = self._records.get(record_id)
        if cached is not None and cached[0] >= version:
            return cached[1]
        versions = self.client.record_history(record_id)
        sigs, digests, problems = verify_history(versions, self._key, self._owner)
        result = _Result(sigs, digests, problems)
        self._records[record_id] = (max((v["version"] for v in versions), default=version), result)
        return result

    def _governance(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if self._rules is None or time.monotonic() - self._rules[0] > RULES_TTL_S:
            operations, members = self.client.governance_rules()
            self._rules = (time.monotonic(), operations, members)
        return self._rules[1], self._rules[2]

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

    def verify(self, events: list[dict[str, Any]]) -> Verified:
        """Re-verify the items the events name (cached). Never raises for a verification failure; a failed
        chain read propagates (``qcchain_gateway.errors.GatewayError``)."""
        with self._lock:
            out = Verified()
            records: dict[str, int] = {}
            proposals: list[str] = []
            key_ids: list[str] = []
            for event in events:
                kind = event.get("kind")
                if kind == "record":
                    records[event["record_id"]] = max(records.get(event["record_id"], 0), int(event["version"]))
                elif kind in PROPOSAL_KINDS and event.get("proposal_id"):
                    proposals.append(event["proposal_id"])
                elif kind == "key_registered":
                    key_ids.append(event["key_id"])
            for key_id in dict.fromkeys(key_ids):
                self._key(key_id)
            results = [self._record(rid, version) for rid, version in records.items()]
            results += list(self._proposals_for(list(dict.fromkeys(proposals))).values())
            for result in results:
                out.sm2_signatures += result.sigs
                out.sm3_digests += result.digests
                out.problems += result.problems
            for key_id in dict.fromkeys(key_ids):
                out.problems += self._keys[key_id][1]
            out.keys = len(set(key_ids))
            out.items = len(records) + len(set(proposals)) + out.keys
            return out
