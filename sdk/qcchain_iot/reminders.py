"""The daily reminder job (issue 15; seed 003; D-A.5, D-A.11): hidden dangers past their limitDate without
acceptance become overdue-rectification warnings, and certificates / inspections / safety valves /
bursting discs / node certificates due soon become blue, then yellow, expiry reminders.

Pure functions of the records and ``today`` (the job passes the date it runs for): the same inputs give
the same warnings with the same deterministic ids (SM3 of source, kind, subject, due date and colour), so
running the job twice, or after a crash, raises nothing twice (the contract answers ``duplicate``). A
renewal changes the due date: :func:`renewals` finds the open reminders it answers (their item now due
later) and :func:`renewal_of` is the evidence that closes them (``warnings:resolve_reminder``); the next
reminder of the renewed item is a new warning. The job itself is :mod:`qcchain_iot.reminderjob`.

Warnings are ``raise_warning`` documents (``evidence = {note, digests: [SM3 of the item's canonical
JSON]}``); the job raises them through :class:`qcchain_sdk.contracts.warnings.WarningsClient`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Iterable

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3

from .policy import WarningsPolicy

log = logging.getLogger(__name__)

__all__ = ["TROUBLE_LEVELS", "DueItem", "overdue_rectifications", "expiry_reminders", "personnel_items",
           "inspection_items", "node_items", "reminder_subject", "reminder_due", "renewals", "renewal_of"]

#: D-A.11 troubleLevel -> the policy's rectification key.
TROUBLE_LEVELS = {"一般事故隐患": "general", "较大事故隐患": "larger", "严重事故隐患": "serious"}


@dataclass(frozen=True)
class DueItem:
    """Something with a due date: ``kind`` is a key of the policy's ``expiry`` table."""

    kind: str
    subject: str                 # certificate number, equipment code + part, node id
    due: dt.date
    responsible_msp: str
    record: dict[str, Any]       # the source record (hashed into the evidence, never copied on chain)


def _digest(record: dict[str, Any]) -> str:
    return sm3(canonical_json(record)).hex()


def _wid(*parts: str) -> str:
    return sm3(canonical_json(list(parts))).hex()


def _subject(value: str) -> str:
    out = "".join(c if c.isalnum() or c in "._:/-" else "-" for c in value)[:128]
    return out if out[:1].isalnum() else "x" + out[:127]


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def overdue_rectifications(dangers: Iterable[dict[str, Any]], responsible_msp: str, today: dt.date,
                           policy: WarningsPolicy) -> list[dict[str, Any]]:
    """Warnings for D-A.11 hidden dangers past ``limitDate`` with no ``acceptDate`` (colour by
    ``troubleLevel`` through the policy's ``rectification`` table). Items without a valid limitDate or
    with an unknown level are skipped with a logged reason."""
    table = policy.doc["rectification"]
    out = []
    for item in dangers:
        limit = _date(item.get("limitDate"))
        level = TROUBLE_LEVELS.get(str(item.get("troubleLevel")))
        if limit is None or level is None:
            log.warning("hidden danger %s skipped: no valid limitDate or troubleLevel", str(item.get("ID"))[:64])
            continue
        if item.get("acceptDate") or today <= limit:
            continue
        colour = table[level]
        subject = _subject(f"HD:{item.get('ID')}")
        days = (today - limit).days
        dealt = f", dealt {item['dealDate']} awaiting acceptance" if item.get("dealDate") else ", not dealt with"
        out.append({"warning_id": _wid("rectification", subject, limit.isoformat(), colour), "colour": colour,
                    "source": "rectification", "subject": subject, "rule": "overdue",
                    "responsible_msp": responsible_msp,
                    "summary": f"hidden danger {item.get('ID')} on {item.get('regNo')} is {days} day(s) past its "
                               f"limitDate {limit.isoformat()}{dealt}",
                    "evidence": {"note": f"D-A.11 limitDate {limit.isoformat()}; no acceptDate",
                                 "digests": [_digest(item)]}})
    return out


def expiry_reminders(items: Iterable[DueItem], today: dt.date, policy: WarningsPolicy) -> list[dict[str, Any]]:
    """Reminders for items due within the policy's windows: yellow within ``yellow_days`` (or past due),
    blue within ``blue_days``; nothing earlier. An unknown kind is skipped with a logged reason."""
    windows = policy.doc["expiry"]
    out = []
    for item in items:
        window = windows.get(item.kind)
        if window is None:
            log.warning("due item of unknown kind %s skipped", item.kind[:32])
            continue
        left = (item.due - today).days
        if left > window["blue_days"]:
            continue
        colour = "yellow" if left <= window["yellow_days"] else "blue"
        subject = reminder_subject(item)
        when = f"expired {-left} day(s) ago" if left < 0 else f"due in {left} day(s)"
        out.append({"warning_id": _wid("expiry", subject, item.due.isoformat(), colour), "colour": colour,
                    "source": "expiry", "subject": subject, "rule": item.kind[:32],
                    "responsible_msp": item.responsible_msp,
                    "summary": f"{item.kind.replace('_', ' ')} {item.subject} {when} ({item.due.isoformat()})",
                    "evidence": {"note": f"due {item.due.isoformat()}", "digests": [_digest(item.record)]}})
    return out


def reminder_subject(item: DueItem) -> str:
    """The ``subject`` of an item's reminders on chain (``kind:subject``, made an id)."""
    return _subject(f"{item.kind}:{item.subject}")


def reminder_due(warning: dict[str, Any]) -> dt.date | None:
    """The due date an expiry reminder on chain was raised for (its evidence note ``due YYYY-MM-DD``), or
    None when it records none."""
    note = (warning.get("evidence") or {}).get("note")
    return _date(note[4:14]) if isinstance(note, str) and note.startswith("due ") else None


def renewals(open_reminders: Iterable[dict[str, Any]],
             items: Iterable[DueItem]) -> list[tuple[dict[str, Any], DueItem]]:
    """The open expiry reminders a recorded renewal answers, each with the renewed item: the item of the
    reminder's subject is now due later than the reminder's due date (the latest due per subject counts,
    so an old record beside its renewal changes nothing). Reminders of an item no longer listed, or whose
    item is still due on the same date, stay open."""
    current: dict[str, DueItem] = {}
    for item in items:
        key = reminder_subject(item)
        if key not in current or item.due > current[key].due:
            current[key] = item
    out = []
    for warning in open_reminders:
        item = current.get(str(warning.get("subject")))
        due = reminder_due(warning)
        if warning.get("source") == "expiry" and warning.get("status") != "closed" and item is not None \
                and due is not None and item.due > due:
            out.append((warning, item))
    return out


def renewal_of(item: DueItem) -> dict[str, Any]:
    """The ``resolve_reminder`` renewal of a renewed item: its new due date, a note naming the item (the
    certificate number / equipment code, no personal field) and the SM3 of the renewed record."""
    return {"due": item.due.isoformat(),
            "note": f"{item.kind.replace('_', ' ')} {item.subject} renewed: due {item.due.isoformat()}"[:2000],
            "digests": [_digest(item.record)]}


def personnel_items(records: Iterable[dict[str, Any]], responsible_msp: str) -> list[DueItem]:
    """Operator certificates of D-A.5 personnel records (``certNo`` + ``endDate``); no personal field is
    copied into the item's subject (the certificate number only)."""
    out = []
    for r in records:
        due = _date(r.get("endDate"))
        if due is not None and r.get("certNo"):
            out.append(DueItem("personnel_certificate", str(r["certNo"]), due, responsible_msp, r))
    return out


def inspection_items(reports: Iterable[dict[str, Any]], responsible_msp: str) -> list[DueItem]:
    """Periodic inspection due dates: the latest report per equipment (``regNo``) with a
    ``nextInspectionDate``."""
    latest: dict[str, dict[str, Any]] = {}
    for r in reports:
        if _date(r.get("nextInspectionDate")) is None or not r.get("regNo"):
            continue
        if r["regNo"] not in latest or str(r.get("inspectionDate")) > str(latest[r["regNo"]].get("inspectionDate")):
            latest[r["regNo"]] = r
    return [DueItem("inspection_due", reg, _date(r["nextInspectionDate"]), responsible_msp, r)  # type: ignore[arg-type]
            for reg, r in sorted(latest.items())]


def node_items(nodes: Iterable[dict[str, Any]], responsible_msp: str) -> list[DueItem]:
    """Node certificates of the on-chain node registry (``governance:nodes`` records, ``not_after`` in
    seconds) of the active nodes of ``responsible_msp``'s org."""
    out = []
    for n in nodes:
        if n.get("status") == "active" and n.get("org_msp") == responsible_msp:
            due = dt.datetime.fromtimestamp(int(n["not_after"]), dt.timezone.utc).date()
            out.append(DueItem("node_certificate", str(n["node_id"]), due, responsible_msp,
                               {k: n[k] for k in ("node_id", "tls_cert_sha256", "sign_cert_sha256", "not_after")}))
    return out
