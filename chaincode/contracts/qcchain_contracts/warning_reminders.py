"""Expiry reminders closed by their renewal (issue 15; seed 003 §四: "each reminder is a blue/yellow warning
that closes when the renewal is recorded").

An ``expiry`` warning (a certificate, inspection, safety valve, bursting disc or node certificate due soon)
records its due date in its raise evidence: ``evidence.note`` begins ``due YYYY-MM-DD`` (what
:func:`qcchain_iot.reminders.expiry_reminders` writes; :func:`validate_raise_due` refuses an expiry warning
without it). ``warnings:resolve_reminder(warning_id, renewal)`` closes such a reminder from any open status
when the renewal is recorded: ``renewal = {due, note, digests}`` — the renewed due date, later than the
reminder's, and the SM3 of the renewed record. Only a regulator or inspection body other than the
responsible unit may record it (as it verifies and closes the closed loop); a warning of another source, a
closed warning or a due date not later is refused with nothing written. Deterministic: dates are compared
as calendar dates, the time recorded is the transaction time.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .common import caller_msp, tx_time
from .errors import Conflict, Forbidden, InvalidInput
from .store.members import role_of
from .warning_rules import MAX_HISTORY, VERIFIER_ROLES, validate_evidence

__all__ = ["REMINDER_SOURCE", "reminder_due", "validate_raise_due", "validate_renewal", "resolve"]

REMINDER_SOURCE = "expiry"
_DUE = re.compile(r"^due (\d{4}-\d{2}-\d{2})(?:\D|$)")


def _iso_date(value: Any, name: str) -> dt.date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise InvalidInput(f"{name} must be a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} {value} is not a calendar date") from None


def reminder_due(warning: dict[str, Any]) -> dt.date | None:
    """The due date an expiry reminder was raised for (its evidence note ``due YYYY-MM-DD ...``), or None."""
    note = warning.get("evidence", {}).get("note") if isinstance(warning.get("evidence"), dict) else None
    match = _DUE.match(note) if isinstance(note, str) else None
    if match is None:
        return None
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None


def validate_raise_due(doc: dict[str, Any]) -> None:
    """An expiry warning must record its due date (``evidence.note`` begins ``due YYYY-MM-DD``).

    Raises:
        InvalidInput: an expiry warning whose note does not begin with a valid due date.
    """
    if doc["source"] == REMINDER_SOURCE and reminder_due(doc) is None:
        raise InvalidInput("an expiry warning's evidence.note must begin with 'due YYYY-MM-DD'")


def validate_renewal(value: Any) -> dict[str, Any]:
    """Check a renewal ``{due, note, digests}`` (the renewed due date; a note and 1..32 digests).

    Raises:
        InvalidInput: not exactly these fields, a malformed date, note or digest.
    """
    if not isinstance(value, dict) or sorted(value) != ["digests", "due", "note"]:
        raise InvalidInput("renewal must be an object with exactly due, note and digests")
    due = _iso_date(value["due"], "renewal.due")
    evidence = validate_evidence({"note": value["note"], "digests": value["digests"]}, True)
    return {"due": due.isoformat(), **evidence}


def resolve(ctx: Any, warning: dict[str, Any], renewal: Any) -> dict[str, Any]:
    """Close an open expiry reminder by its recorded renewal; returns the updated warning.

    Raises:
        InvalidInput: malformed renewal, or the reminder records no due date.
        Conflict: not an expiry warning, already closed, the renewed due not later than the reminder's, or the
            history is full.
        Forbidden: the caller is not a regulator or inspection body other than the responsible unit.
    """
    wid = warning["warning_id"][:16]
    if warning["source"] != REMINDER_SOURCE:
        raise Conflict(f"warning {wid} is a {warning['source']} warning, not an expiry reminder: it closes "
                       "through its closed loop")
    if warning["status"] == "closed":
        raise Conflict(f"warning {wid} is closed")
    msp = caller_msp(ctx)
    if role_of(ctx.stub, msp) not in VERIFIER_ROLES or msp == warning["responsible_msp"]:
        raise Forbidden(f"{msp} may not record a renewal: only a regulator or inspection body other than the "
                        "responsible unit")
    attached = validate_renewal(renewal)
    due = reminder_due(warning)
    if due is None:
        raise InvalidInput(f"reminder {wid} records no due date (evidence note 'due YYYY-MM-DD')")
    if dt.date.fromisoformat(attached["due"]) <= due:
        raise Conflict(f"renewal.due {attached['due']} is not later than the reminder's due {due.isoformat()}")
    if len(warning["history"]) >= MAX_HISTORY:
        raise Conflict(f"warning {wid} has {MAX_HISTORY} history entries")
    now = tx_time(ctx)
    warning["history"].append({"step": "resolve_reminder", "status": "closed", "by": msp, "at": now,
                               "evidence": {"note": attached["note"], "digests": attached["digests"]},
                               "renewed_due": attached["due"], "tx_id": ctx.stub.get_tx_id()})
    warning.update(status="closed", updated_at=now, renewed_due=attached["due"])
    return warning
