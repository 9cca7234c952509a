"""Auditor client: reads the chain's history and RE-VERIFIES every SM3 digest and SM2 signature it reads.

:class:`AuditClient` wraps the ``audit:*``, ``keys:get`` and ``sharing:*`` reads of the ``qcchain``
chaincode (a Gateway ``Contract`` without a default contract name, or any ``ContractLike``) and, when
given, the ``qscc`` system chaincode to place each transaction id in its block (number and validation
code). :func:`audit_channel` collects everything an auditor looks at — the governance lifecycle log,
the channel timeline, every record's history, every grant and access log — and checks it:

* SM2 key records: ``key_id`` is the SM3 of the registered public key;
* proposals: ``proposal_id`` is the SM3 of the canonical body; every org's SM2 signature verifies under
  that org's key; the counted signers have verified signatures and meet the operation's threshold;
* record versions: the submitter's SM2 signature over the envelope verifies under the key named in it,
  and the key belongs to the record's owner; visible payloads / ciphertexts match their SM3 digests;
  L3 payloads the auditor can unwrap are decrypted, their salted commitment opened against the signed
  digest, and checked against the category's schema and the envelope (the chaincode cannot read them);
* current world state: each record's current state row (``records:get``) equals the last write in its
  key history (envelope, signature, transaction, placement, visible payload/ciphertext), so a state row
  changed or rolled back behind the ledger's back is flagged; every version's ``tx_id`` is the
  transaction that wrote it;
* executed proposals: the threshold is re-checked against the rule and members stored as in force at
  execution (``threshold`` of the lifecycle log; today's policy only for entries written before it);
* grants: every signed step of the trail verifies under a key of the step's org and names this grant
  and channel; the grant's parties, terms, status and decider are the ones its signed steps produce.

Anything that does not hold becomes a problem in the :class:`AuditReport` (never an exception), so one
tampered item does not hide the others. Nothing here logs payloads or keys.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from qcchain_core.canonical import canonical_json
from qcchain_core.errors import CryptoError
from qcchain_core.gm import SM2PrivateKey, SM2PublicKey
from qcchain_model.messages import proposal_id
from qcchain_model.thresholds import UnknownRule, threshold_met

from qcchain_gateway.errors import EvaluateError, NotFoundError

from ..contractlike import Evaluator
from .records import decrypt_view
from .sealed import schema_problems
from .sharing import check_trail
from .verify import read_key_record, verify_current_state, verify_key_record, verify_record_view, verify_signed_view

log = logging.getLogger(__name__)

__all__ = ["AuditClient", "AuditReport", "TimelineRow", "TxLocation", "audit_channel", "verify_key_record",
           "verify_proposal", "verify_history", "verify_record_view", "format_timeline", "KeyBook", "timeline_rows"]

END_OF_TIME = 10**12


@dataclass(frozen=True)
class TxLocation:
    """Where a transaction is on the chain (from qscc)."""

    block_number: int
    validation_code: int


@dataclass
class TimelineRow:
    """One line of the auditor's timeline."""

    at: int
    kind: str
    actor_msp: str
    detail: str
    tx_id: str
    block: int | None = None


@dataclass
class AuditReport:
    """What the auditor read and re-verified; ``problems`` empty means everything held."""

    timeline: list[TimelineRow] = field(default_factory=list)
    proposals: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    grants: list[dict[str, Any]] = field(default_factory=list)
    accesses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=lambda: {"sm2_signatures": 0, "sm3_digests": 0, "keys": 0,
                                                             "current_state_rows": 0})
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (timeline rows, counts, problems)."""
        return {"ok": self.ok, "checked": dict(self.checked), "problems": list(self.problems),
                "proposals": len(self.proposals), "records": {k: len(v) for k, v in self.records.items()},
                "grants": len(self.grants), "accesses": {k: len(v) for k, v in self.accesses.items()},
                "timeline": [row.__dict__ for row in self.timeline]}


#: What qscc answers (status 500) for a transaction id it has not indexed: Fabric's blkstorage messages.
_QSCC_MISSING = ("Entry not found in index", "no such transaction ID")


def _qscc_not_found(exc: EvaluateError) -> bool:
    texts = [exc.message, *(d.message for d in exc.details)]
    return any(marker in text for text in texts for marker in _QSCC_MISSING)


class AuditClient:
    """Read-only auditor view of one channel. Gateway errors propagate unchanged (``qcchain_gateway.errors``)."""

    def __init__(self, contract: Evaluator, channel: str, qscc: Evaluator | None = None) -> None:
        self.contract, self.channel, self.qscc = contract, channel, qscc
        self._keys: dict[str, dict[str, Any] | None] = {}

    def _eval(self, fn: str, *args: str) -> Any:
        return json.loads(self.contract.evaluate_transaction(fn, *args))

    def record_history(self, record_id: str) -> list[dict[str, Any]]:
        """Every version of a record (as the caller may see it), oldest first. Raises the SDK's EvaluateError."""
        return self._eval("audit:record_history", record_id)  # type: ignore[no-any-return]

    def current_record(self, record_id: str) -> dict[str, Any] | None:
        """The record's current world-state row as the caller may see it; None when the chaincode answers 404.

        Raises:
            qcchain_gateway.errors.EvaluateError: the read failed for another reason.
        """
        try:
            return self._eval("records:get", record_id)  # type: ignore[no-any-return]
        except NotFoundError:
            return None

    def lifecycle_log(self) -> list[dict[str, Any]]:
        """Every governance proposal: who proposed, who signed, who executed, when."""
        return self._eval("audit:lifecycle_log")  # type: ignore[no-any-return]

    def timeline(self, from_time: int = 0, to_time: int = END_OF_TIME) -> list[dict[str, Any]]:
        """Channel events with ``from_time <= at < to_time``."""
        return self._eval("audit:timeline", str(from_time), str(to_time))  # type: ignore[no-any-return]

    def access_log(self, record_id: str) -> list[dict[str, Any]]:
        """Who read an L3/L4 record, when, why, on what basis."""
        return self._eval("audit:access_log", record_id)  # type: ignore[no-any-return]

    def grants(self) -> list[dict[str, Any]]:
        """Grants visible to the caller (all of them for a supervisory role)."""
        return self._eval("sharing:list_grants", "")  # type: ignore[no-any-return]

    def governance_rules(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The current ``governance`` policy's operation thresholds and the member records."""
        policy = self._eval("governance:policy", "governance")
        return dict(policy["document"]["operations"]), list(self._eval("governance:members"))

    def key(self, key_id: str) -> dict[str, Any] | None:
        """The registered key record (cached), or None if the chaincode says it is not registered (404).

        Raises:
            qcchain_gateway.errors.EvaluateError: the read failed for another reason.
        """
        if key_id not in self._keys:
            self._keys[key_id] = read_key_record(self.contract, key_id)
        return self._keys[key_id]

    def locate(self, tx_id: str) -> TxLocation | None:
        """Block number and validation code of ``tx_id`` via qscc; None without qscc or if qscc has no such tx.

        Raises:
            qcchain_gateway.errors.EvaluateError: qscc failed for another reason (denied, unreachable, ...).
        """
        if self.qscc is None or not tx_id:
            return None
        from fabric_protos.common import common_pb2
        from fabric_protos.peer import transaction_pb2

        try:
            block = common_pb2.Block.FromString(self.qscc.evaluate_transaction("GetBlockByTxID", self.channel, tx_id))
            processed = transaction_pb2.ProcessedTransaction.FromString(
                self.qscc.evaluate_transaction("GetTransactionByID", self.channel, tx_id))
        except EvaluateError as exc:
            if not _qscc_not_found(exc):
                raise
            log.info("qscc cannot locate transaction %s", tx_id[:16])
            return None
        return TxLocation(block.header.number, processed.validationCode)


def verify_proposal(entry: dict[str, Any], keys: Callable[[str], SM2PublicKey | None],
                    key_owner: Callable[[str], str | None], spec: dict[str, Any] | None = None,
                    members: list[dict[str, Any]] | None = None) -> tuple[int, list[str]]:
    """Re-verify a lifecycle-log entry. Returns (signatures verified, problems); never raises.

    Checks: id = SM3(canonical body); every signature verifies under a key registered to the signing org;
    the counted signers all have such a verified signature; and, for an executed proposal when the
    operation's threshold ``spec`` and the ``members`` are given, that the counted signers meet it
    (:func:`qcchain_model.thresholds.threshold_met`; judged against the policy and members passed in).
    """
    pid = entry["proposal_id"]
    problems = []
    body = canonical_json(entry["body"])
    if proposal_id(entry["body"]) != pid:
        problems.append(f"proposal {pid[:16]}...: id is not the SM3 of its canonical body")
    verified: set[str] = set()
    checked = 0
    for sig in entry["signatures"]:
        public = keys(sig["key_id"])
        if public is None:
            problems.append(f"proposal {pid[:16]}...: signer key of {sig['msp_id']} unknown")
            continue
        own = key_owner(sig["key_id"]) == sig["msp_id"]
        if not own:
            problems.append(f"proposal {pid[:16]}...: key of the {sig['msp_id']} signature belongs to another org")
        try:
            public.verify(bytes.fromhex(sig["signature"]), body)
        except (CryptoError, ValueError, TypeError):
            problems.append(f"proposal {pid[:16]}... ({entry['operation']}): SM2 signature of {sig['msp_id']} does not verify")
            continue
        checked += 1
        if own:
            verified.add(sig["msp_id"])
    counted = set(entry.get("counted_signers") or [])
    if not counted <= verified:
        problems.append(f"proposal {pid[:16]}...: counted signers without a verified signature: {', '.join(sorted(counted - verified))}")
    problems += _threshold_problems(entry, counted & verified, spec, members)
    return checked, problems


def _threshold_problems(entry: dict[str, Any], signers: set[str], spec: dict[str, Any] | None,
                        members: list[dict[str, Any]] | None) -> list[str]:
    if entry.get("status") != "executed" or spec is None or members is None:
        return []
    try:
        met, why = threshold_met(spec, members, signers)
    except UnknownRule as exc:
        return [f"proposal {entry['proposal_id'][:16]}...: {exc}"]
    return [] if met else [f"proposal {entry['proposal_id'][:16]}... ({entry['operation']}) executed under threshold: {why}"]


def verify_history(versions: list[dict[str, Any]], keys: Callable[[str], SM2PublicKey | None],
                   key_owner: Callable[[str], str | None], decrypt_key: SM2PrivateKey | None = None) -> tuple[int, int, list[str]]:
    """Re-verify every version of a record. Returns (signatures checked, digests checked, problems).

    The private L3 ciphertext is the current one, so it is compared with the latest version only.
    """
    sigs = digests = 0
    problems: list[str] = []
    latest = max((v["version"] for v in versions), default=0)
    for view in versions:
        view = dict(view)
        if view["version"] != latest:
            view.pop("ciphertext", None)
        public = keys(view["key_id"])
        if public is None:
            problems.append(f"{view['record_id']} v{view['version']}: submitter key unknown")
            continue
        problems += verify_signed_view(view, public, key_owner(view["key_id"]))
        sigs += 1
        digests += int("payload" in view) + int(bool(view.get("ciphertext")))
        wrapped_key = view.get("wrapped_key") if isinstance(view.get("wrapped_key"), dict) else {}
        wrapped = wrapped_key.get("wrapped")
        for_other_key = decrypt_key is not None and wrapped_key.get("key_id") not in (None, decrypt_key.public_key().key_id())
        if decrypt_key is not None and view.get("ciphertext") and wrapped and not for_other_key:  # else: not ours to open
            try:
                payload = decrypt_view(view, wrapped, decrypt_key)
                digests += 1
            except (CryptoError, ValueError) as exc:
                problems.append(f"{view['record_id']} v{view['version']}: L3 payload fails re-verification ({exc})")
                continue
            problems += schema_problems(view, payload)
    return sigs, digests, problems


def _detail(event: dict[str, Any]) -> str:
    kind = event["kind"]
    if kind in ("proposed", "signed", "executed"):
        target = event.get("target") or {}
        unit = target.get("contract") or target.get("chaincode", "")
        extra = f" v{event['version']}" if event.get("version") else ""
        signers = f" signers={','.join(event['signers'])}" if event.get("signers") else ""
        return f"{' '.join(x for x in (event.get('operation', ''), unit) if x)}{extra} [{event['proposal_id'][:12]}]{signers}"
    if kind == "record":
        return f"{event['record_id']} v{event['version']} {event['bus_type']} {event['category']} {event['grade']}"
    if kind == "key_registered":
        return f"key {event['key_id'][:12]} ({','.join(event.get('usages', []))})"
    if kind == "access":
        basis = f"{event['basis']} {event['grant_id']}" if event.get("grant_id") else event["basis"]
        return f"read {event['record_id']} for {event['purpose']} ({basis})"
    if kind == "bootstrap":
        return f"members={','.join(event.get('members', []))}"
    rest = {k: v for k, v in event.items() if k not in ("kind", "tx_id", "at", "actor_msp")}
    return " ".join(f"{k}={v}" for k, v in sorted(rest.items()))


class KeyBook:
    """Registered keys read once and checked (key id = SM3 of the public key)."""

    def __init__(self, client: AuditClient, report: AuditReport) -> None:
        self.client, self.report = client, report
        self.public: dict[str, SM2PublicKey | None] = {}

    def get(self, key_id: str) -> SM2PublicKey | None:
        if key_id not in self.public:
            public, problems = verify_key_record(self.client.key(key_id), key_id)
            self.public[key_id] = public
            self.report.problems += problems
            self.report.checked["keys"] += 1
        return self.public[key_id]

    def owner(self, key_id: str) -> str | None:
        record = self.client.key(key_id)
        return None if record is None else record.get("msp_id")


def _access_records(events: list[dict[str, Any]]) -> list[str]:
    """Record ids of L2/L3/L4 records (the ones whose reads go through the logged ``sharing:access``), in
    first-seen order."""
    return list(dict.fromkeys(e["record_id"] for e in events
                              if e["kind"] == "record" and e["grade"] in ("L2", "L3", "L4")))


def audit_channel(client: AuditClient, decrypt_key: SM2PrivateKey | None = None,
                  record_ids: list[str] | None = None) -> AuditReport:
    """Collect and re-verify the whole channel history visible to the caller (see the module docstring).

    ``record_ids`` defaults to every record named in the timeline. Gateway errors on the reads
    themselves propagate (``qcchain_gateway.errors.EvaluateError``); verification failures become problems.
    """
    report = AuditReport()
    book = KeyBook(client, report)
    events = client.timeline()
    report.proposals = client.lifecycle_log()
    for event in events:
        if event["kind"] == "key_registered":
            book.get(event["key_id"])
    operations, members = client.governance_rules()
    for entry in report.proposals:
        in_force = entry.get("threshold") or {}  # rule and members when it executed (absent on older entries)
        spec, voters = in_force.get("rule", operations.get(entry["operation"])), in_force.get("members", members)
        checked, problems = verify_proposal(entry, book.get, book.owner, spec, voters)
        report.checked["sm2_signatures"] += checked
        report.checked["sm3_digests"] += 1
        report.problems += problems
    ids = record_ids if record_ids is not None else list(dict.fromkeys(e["record_id"] for e in events if e["kind"] == "record"))
    for record_id in ids:
        versions = client.record_history(record_id)
        report.records[record_id] = versions
        sigs, digests, problems = verify_history(versions, book.get, book.owner, decrypt_key)
        report.checked["sm2_signatures"] += sigs
        report.checked["sm3_digests"] += digests
        report.problems += problems + verify_current_state(versions, client.current_record(record_id))
        report.checked["current_state_rows"] += 1
    _audit_sharing(client, book, report, _access_records(events))
    accesses = [_access_event(e) for entries in report.accesses.values() for e in entries]
    report.timeline = timeline_rows(client, events + accesses)
    return report


def _access_event(entry: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "access", "tx_id": entry["tx_id"], "at": entry["at"], "actor_msp": entry["reader_msp"],
            "record_id": entry["record_id"], "basis": entry["basis"], "grant_id": entry.get("grant_id"),
            "purpose": entry["purpose"]}


def timeline_with_accesses(client: AuditClient, from_time: int = 0, to_time: int = END_OF_TIME) -> list[dict[str, Any]]:
    """The channel timeline in [from_time, to_time) *with* the logged accesses (who read which L3/L4 record)
    of every record whose access log the caller may read (its owner, a supervisory role), sorted by time.

    Raises:
        qcchain_gateway.errors.EvaluateError: a read failed (other than a 403/404 on one access log).
    """
    events = client.timeline(from_time, to_time)
    accesses = []
    for record_id in _access_records(client.timeline()):
        try:
            entries = client.access_log(record_id)
        except EvaluateError as exc:
            if exc.chaincode_status in (403, 404):  # not the owner nor a supervisor / record gone
                continue
            raise
        accesses += [_access_event(e) for e in entries if from_time <= e["at"] < to_time]
    return sorted(events + accesses, key=lambda e: e["at"])


def _audit_sharing(client: AuditClient, book: KeyBook, report: AuditReport, record_ids: list[str]) -> None:
    report.grants = client.grants()
    for grant in report.grants:
        keys = {step["key_id"]: book.get(step["key_id"]) for step in grant.get("trail", [])}
        verified, problems = check_trail(grant, {k: v for k, v in keys.items() if v}, book.owner)
        report.problems += [f"grant {grant['grant_id']}: {p}" for p in problems]
        report.checked["sm2_signatures"] += verified
    for record_id in record_ids:
        report.accesses[record_id] = client.access_log(record_id)


def timeline_rows(client: AuditClient, events: list[dict[str, Any]]) -> list[TimelineRow]:
    rows = []
    for event in events:
        where = client.locate(event["tx_id"])
        rows.append(TimelineRow(event["at"], event["kind"], event["actor_msp"], _detail(event), event["tx_id"],
                                where.block_number if where else None))
    return sorted(rows, key=lambda r: (r.block if r.block is not None else -1, r.at))


def format_timeline(report: AuditReport) -> list[str]:
    """Human-readable lines: the timeline, the grants, the accesses and the verification result."""
    import time as _time

    lines = [f"{'block':>5}  {'time (UTC)':19}  {'org':15}  {'event':16}  detail  (tx)"]
    for row in report.timeline:
        when = _time.strftime("%Y-%m-%d %H:%M:%S", _time.gmtime(row.at))
        block = "-" if row.block is None else str(row.block)
        lines.append(f"{block:>5}  {when}  {row.actor_msp:15}  {row.kind:16}  {row.detail}  ({row.tx_id[:12]})")
    for grant in report.grants:
        lines.append(f"grant {grant['grant_id']}: {grant['owner_msp']} -> {grant['grantee_msp']} "
                     f"{grant['scope']['type']}:{grant['scope']['value']} <= {grant['max_grade']} "
                     f"for {grant['purpose']}, {grant['status']}, used {grant.get('uses', 0)}x")
    c = report.checked
    lines.append(f"re-verified {c['sm2_signatures']} SM2 signatures, {c['sm3_digests']} SM3 digests, {c['keys']} keys, "
                 f"{c.get('current_state_rows', 0)} current record rows against their history, "
                 f"{len(report.proposals)} proposal thresholds as in force at execution: "
                 + ("all hold" if report.ok else f"{len(report.problems)} MISMATCH(ES)"))
    lines += [f"MISMATCH: {p}" for p in report.problems]
    return lines
