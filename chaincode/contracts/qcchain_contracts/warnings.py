"""Warnings contract (issue 15, H-4): four-colour early warnings written on chain and driven to closure.

Transactions (``warnings:<fn>``):

* ``raise_warning(warning)`` — a warning with colour, source, subject, rule, responsible unit, summary and
  evidence (:func:`.warning_rules.validate_raise`); deadlines by colour. Raising an id that exists
  answers the stored warning with ``duplicate: true`` and writes nothing (relays deliver at least once).
  A device or prediction warning needs the subject device registered and active; its owner is the
  responsible unit, and ``evidence.reading_digest`` must be the SM3 of the reading's canonical bytes
  (the Merkle leaf later anchored with its window).
* ``acknowledge`` / ``start`` / ``dispose`` / ``verify`` / ``close`` ``(warning_id, evidence)`` — the
  closed loop (:data:`.warning_rules.STEPS`); a step out of order or by the wrong org writes nothing.
* ``raise_warnings(warnings)`` — up to :data:`MAX_BATCH` warnings in one transaction (the relay's batches):
  each checked as by ``raise_warning``, all before anything is written, so one bad warning refuses the whole
  batch with its index named; ids already raised answer ``duplicate: true``; an id twice is refused. One
  timeline entry (``warning_raised`` with ``warning_ids``) and one event for the new ones.
* ``resolve_reminder(warning_id, renewal)`` — an open expiry reminder closed by its recorded renewal
  (:mod:`.warning_reminders`; a regulator or inspection body other than the responsible unit).
* ``escalate_overdue(limit)`` — any active member: every open warning past its deadline at the
  transaction time goes one colour up (see :func:`.warning_rules.escalate`).
* ``get(warning_id)``, ``list_warnings(status, colour, responsible_msp, limit)``, ``list_open(source,
  responsible_msp, limit)`` (the open index: warnings not closed, without history) — readable by active members.

Each write sets the chaincode event ``qcchain.warning`` (``{kind, warnings: [{warning_id, colour, status,
responsible_msp, source, subject, notify_roles}]}``; ``kind`` = raised, acknowledge, ..., resolve_reminder,
escalated — red/orange raises and escalations are addressed to the regulator: ``notify_roles =
["regulator"]`` per warning, and at the top the roles of every warning of the event) and appends the channel
timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_shim import Context, Contract, transaction

from .common import caller_msp, record_event, require_hex64, require_int, sm3_hex, tx_time
from .device_rules import require_active_device
from .errors import ContractError, Forbidden, InvalidInput, NotFound
from .lifecycle import require_serving
from .store.members import role_of
from .store.warnings import iter_warnings, mark_closed, mark_open, open_ids, put_warning, warning_of
from .warning_reminders import resolve, validate_raise_due
from .warning_rules import COLOURS, SOURCES, STEPS, apply_step, escalate, new_warning, overdue, require_raiser, validate_raise

log = logging.getLogger(__name__)

__all__ = ["Warnings", "CONTRACT", "EVENT"]

CONTRACT = "warnings"
EVENT = "qcchain.warning"
MAX_ESCALATE = 200
MAX_LIST = 500
MAX_BATCH = 64
STATUSES = ("raised", "acknowledged", "disposing", "disposed", "verified", "closed")


def _brief(w: dict[str, Any]) -> dict[str, Any]:
    return {"warning_id": w["warning_id"], "colour": w["colour"], "status": w["status"],
            "responsible_msp": w["responsible_msp"], "source": w["source"], "subject": w["subject"]}


def _emit(ctx: Context, kind: str, warnings: list[dict[str, Any]], notify: list[str]) -> None:
    ctx.stub.set_event(EVENT, canonical_json({"kind": kind, "notify_roles": notify,
                                              "warnings": [{**_brief(w), "notify_roles": notify} for w in warnings]}))


def _raise_notify(warning: dict[str, Any]) -> list[str]:
    return ["regulator"] if warning["colour"] in ("red", "orange") else []


def _emit_raised(ctx: Context, warnings: list[dict[str, Any]]) -> None:
    """One ``raised`` event: each warning with its own ``notify_roles``, the union at the top."""
    briefs = [{**_brief(w), "notify_roles": _raise_notify(w)} for w in warnings]
    notify = sorted({r for b in briefs for r in b["notify_roles"]})
    ctx.stub.set_event(EVENT, canonical_json({"kind": "raised", "notify_roles": notify, "warnings": briefs}))


def _checked_raise(ctx: Context, warning: Any) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """A warning to raise, checked against the ledger: (validated doc, the stored warning if the id exists,
    the raiser's MSP ("" for a duplicate)).

    Raises:
        InvalidInput, Forbidden, NotFound: as ``raise_warning``.
    """
    doc = validate_raise(warning)
    validate_raise_due(doc)
    existing = warning_of(ctx.stub, doc["warning_id"])
    if existing is not None:  # answered (the stored warning) only to an active member, as ``get``
        _reader(ctx)
        return doc, existing, ""
    owner = None
    if doc["source"] in ("device", "prediction"):
        owner = require_active_device(ctx.stub, doc["subject"])["owner_msp"]
        if sm3_hex(canonical_json(doc["evidence"]["reading"])) != doc["evidence"]["reading_digest"]:
            raise InvalidInput("evidence.reading_digest is not the SM3 of the reading's canonical bytes")
    return doc, None, require_raiser(ctx, doc, owner)


def _reader(ctx: Context) -> str:
    msp = caller_msp(ctx)
    if role_of(ctx.stub, msp) is None:
        raise Forbidden(f"{msp} is not an active member")
    return msp


def _summaries(warnings: Iterable[dict[str, Any] | None], keep: Callable[[Any], Any], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` warnings ``keep`` accepts, without their history (in the given, key order)."""
    out = []
    for w in warnings:
        if keep(w):
            out.append({k: v for k, v in w.items() if k != "history"})  # type: ignore[union-attr]
            if len(out) >= limit:
                break
    return out


def _load(ctx: Context, warning_id: Any) -> dict[str, Any]:
    require_hex64(warning_id, "warning_id")
    warning = warning_of(ctx.stub, warning_id)
    if warning is None:
        raise NotFound(f"warning {warning_id[:16]} does not exist")
    return warning


class Warnings(Contract):
    """Four-colour warnings and their closed loop (see the module docstring)."""

    name = CONTRACT

    @transaction
    def raise_warning(self, ctx: Context, warning: dict) -> dict:
        require_serving(ctx, CONTRACT, write=True)
        doc, existing, msp = _checked_raise(ctx, warning)
        if existing is not None:
            return {**existing, "duplicate": True}
        stored = new_warning(ctx, doc, msp)
        put_warning(ctx.stub, stored)
        mark_open(ctx.stub, stored["warning_id"])
        record_event(ctx, "warning_raised", {"warning_id": stored["warning_id"], "colour": stored["colour"],
                                             "source": stored["source"]})
        _emit_raised(ctx, [stored])
        return {**stored, "duplicate": False}

    @transaction
    def raise_warnings(self, ctx: Context, warnings: list) -> dict:
        require_serving(ctx, CONTRACT, write=True)
        if not isinstance(warnings, list) or not 1 <= len(warnings) <= MAX_BATCH:
            raise InvalidInput(f"warnings must be a list of 1..{MAX_BATCH} warnings")
        checked, seen = [], set()
        for i, warning in enumerate(warnings):          # everything checked before anything is written
            try:
                doc, existing, msp = _checked_raise(ctx, warning)
            except ContractError as exc:
                raise ContractError(f"warnings[{i}]: {exc.message}", exc.status) from None
            if doc["warning_id"] in seen:
                raise InvalidInput(f"warnings[{i}]: warning_id {doc['warning_id'][:16]} appears twice")
            seen.add(doc["warning_id"])
            checked.append((doc, existing, msp))
        answers, stored = [], []
        for doc, existing, msp in checked:
            if existing is not None:
                answers.append({"warning_id": doc["warning_id"], "duplicate": True, "status": existing["status"]})
                continue
            warning = new_warning(ctx, doc, msp)
            put_warning(ctx.stub, warning)
            mark_open(ctx.stub, warning["warning_id"])
            stored.append(warning)
            answers.append({"warning_id": doc["warning_id"], "duplicate": False, "status": warning["status"]})
        if stored:
            record_event(ctx, "warning_raised", {"warning_ids": [w["warning_id"] for w in stored],
                                                 "colours": [w["colour"] for w in stored]})
            _emit_raised(ctx, stored)
        return {"warnings": answers, "raised": len(stored), "duplicates": len(answers) - len(stored)}

    def _step(self, ctx: Context, step: str, warning_id: str, evidence: Any) -> dict:
        require_serving(ctx, CONTRACT, write=True)
        warning = apply_step(ctx, _load(ctx, warning_id), step, evidence)
        put_warning(ctx.stub, warning)
        if warning["status"] == "closed":
            mark_closed(ctx.stub, warning_id)
        record_event(ctx, f"warning_{STEPS[step][1]}", {"warning_id": warning_id, "colour": warning["colour"]})
        _emit(ctx, step, [warning], [])
        return warning

    @transaction
    def acknowledge(self, ctx: Context, warning_id: str, evidence: dict | None = None) -> dict:
        return self._step(ctx, "acknowledge", warning_id, evidence)

    @transaction
    def start(self, ctx: Context, warning_id: str, evidence: dict | None = None) -> dict:
        return self._step(ctx, "start", warning_id, evidence)

    @transaction
    def dispose(self, ctx: Context, warning_id: str, evidence: dict) -> dict:
        return self._step(ctx, "dispose", warning_id, evidence)

    @transaction
    def verify(self, ctx: Context, warning_id: str, evidence: dict) -> dict:
        return self._step(ctx, "verify", warning_id, evidence)

    @transaction
    def close(self, ctx: Context, warning_id: str, evidence: dict | None = None) -> dict:
        return self._step(ctx, "close", warning_id, evidence)

    @transaction
    def resolve_reminder(self, ctx: Context, warning_id: str, renewal: dict) -> dict:
        require_serving(ctx, CONTRACT, write=True)
        warning = resolve(ctx, _load(ctx, warning_id), renewal)
        put_warning(ctx.stub, warning)
        mark_closed(ctx.stub, warning_id)
        record_event(ctx, "warning_closed", {"warning_id": warning_id, "colour": warning["colour"],
                                             "renewed_due": warning["renewed_due"]})
        _emit(ctx, "resolve_reminder", [warning], [])
        return warning

    @transaction
    def escalate_overdue(self, ctx: Context, limit: int = MAX_ESCALATE) -> dict:
        require_serving(ctx, CONTRACT, write=True)
        if not 1 <= require_int(limit, "limit") <= MAX_ESCALATE:
            raise InvalidInput(f"limit must be 1..{MAX_ESCALATE}")
        _reader(ctx)
        now = tx_time(ctx)
        escalated = []
        for warning_id in open_ids(ctx.stub, 10_000):
            warning = warning_of(ctx.stub, warning_id)
            missed = overdue(warning, now) if warning is not None else None
            if missed is None:
                continue
            warning = escalate(ctx, warning, missed)
            put_warning(ctx.stub, warning)
            escalated.append(warning)
            if len(escalated) >= limit:
                break
        if escalated:
            record_event(ctx, "warnings_escalated", {"warning_ids": [w["warning_id"] for w in escalated]})
            _emit(ctx, "escalated", escalated, ["regulator"])
        return {"escalated": [_brief(w) for w in escalated], "at": now}

    @transaction(evaluate=True)
    def get(self, ctx: Context, warning_id: str) -> dict:
        _reader(ctx)
        return _load(ctx, warning_id)

    @transaction(evaluate=True)
    def list_open(self, ctx: Context, source: str = "", responsible_msp: str = "", limit: int = 100) -> list:
        _reader(ctx)
        if source and source not in SOURCES:
            raise InvalidInput(f"source must be one of {', '.join(SOURCES)}")
        if not 1 <= require_int(limit, "limit") <= MAX_LIST:
            raise InvalidInput(f"limit must be 1..{MAX_LIST}")
        ws = (warning_of(ctx.stub, warning_id) for warning_id in open_ids(ctx.stub, 100_000))
        return _summaries(ws, lambda w: w is not None and not (source and w["source"] != source) and
                          not (responsible_msp and w["responsible_msp"] != responsible_msp), limit)

    @transaction(evaluate=True)
    def list_warnings(self, ctx: Context, status: str = "", colour: str = "", responsible_msp: str = "",
                      limit: int = 100) -> list:
        _reader(ctx)
        if status and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
        if colour and colour not in COLOURS:
            raise InvalidInput(f"colour must be one of {', '.join(COLOURS)}")
        if not 1 <= require_int(limit, "limit") <= MAX_LIST:
            raise InvalidInput(f"limit must be 1..{MAX_LIST}")
        return _summaries(iter_warnings(ctx.stub), lambda w: not (
            (status and w["status"] != status) or (colour and w["colour"] != colour) or
            (responsible_msp and w["responsible_msp"] != responsible_msp)), limit)
