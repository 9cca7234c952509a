"""``qcchain warnings remind`` and ``qcchain warnings resolve-reminder`` (issue 15): the daily reminder job
(:func:`qcchain_iot.reminderjob.run_reminder_job`) and a renewal recorded by hand.

``remind --records FILE`` reads one JSON/YAML document of the responsible unit's records::

    responsible_msp: UsingUnitMSP
    hidden_dangers: [D-A.11 records]        # overdue rectifications
    personnel: [D-A.5 records]              # certNo + endDate
    inspections: [inspection reports]       # regNo + inspectionDate + nextInspectionDate
    items: [{kind, subject, due: YYYY-MM-DD, record: {...}}]   # safety valves, bursting discs, node certs

and, as the profile's org (a regulator or inspection body, to close reminders), closes every open reminder
whose item was renewed and raises today's warnings; prints the counts and ids as JSON. Added to the
``warnings`` group by :mod:`qcchain_cli.iot` (this module does not import it: no cycle).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
import yaml

from .errors import CliError
from .iotcommon import ROOT, _evidence, _policy, _run, _wclient

__all__ = ["remind", "resolve_reminder", "load_records"]

LISTS = ("hidden_dangers", "personnel", "inspections", "items")


def _date(value: Any, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise CliError(f"{where}: {value!r} is not a date YYYY-MM-DD") from None


def load_records(path: Path) -> dict[str, Any]:
    """The records document of ``remind``, checked (one-line errors naming the field).

    Raises:
        CliError: unreadable, not a mapping, an unknown key, a list that is not a list of mappings, an item
            without kind/subject/due/record.
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"cannot read the records {path}: {' '.join(str(exc).split())[:200]}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("responsible_msp"), str) or not doc["responsible_msp"]:
        raise CliError(f"{path}: a mapping with responsible_msp (an MSP id) is required")
    unknown = sorted(set(doc) - set(LISTS) - {"responsible_msp"})
    if unknown:
        raise CliError(f"{path}: unknown key {unknown[0]!r} (expected responsible_msp, {', '.join(LISTS)})")
    for name in LISTS:
        value = doc.setdefault(name, [])
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise CliError(f"{path}: {name} must be a list of mappings")
    for i, item in enumerate(doc["items"]):
        if sorted(item) != ["due", "kind", "record", "subject"] or not isinstance(item["record"], dict):
            raise CliError(f"{path}: items[{i}] needs exactly kind, subject, due and a record mapping")
        _date(item["due"], f"{path}: items[{i}].due")
    return doc


@click.command()
@click.option("--records", "records_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON/YAML of the unit's records (see qcchain_cli.warnings_remind).")
@click.option("--today", default=None, help="Date the job runs for (YYYY-MM-DD; default: today, UTC).")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=ROOT / "policies" / "warnings.yaml", show_default=True)
@click.pass_context
def remind(ctx: click.Context, records_file: Path, today: str | None, policy_file: Path) -> None:
    """The daily reminder job: close renewed reminders, raise overdue-rectification and expiry warnings."""
    from qcchain_iot.reminderjob import run_reminder_job
    from qcchain_iot.reminders import DueItem, inspection_items, personnel_items

    doc = load_records(records_file)
    day = _date(today, "--today") if today else dt.datetime.now(dt.timezone.utc).date()
    policy = _policy(policy_file)
    msp = doc["responsible_msp"]
    items = (personnel_items(doc["personnel"], msp) + inspection_items(doc["inspections"], msp)
             + [DueItem(str(i["kind"]), str(i["subject"]), _date(i["due"], "items"), msp, i["record"])
                for i in doc["items"]])

    def job() -> dict[str, Any]:
        result = run_reminder_job(_wclient(ctx), day, policy, items, doc["hidden_dangers"], msp, msp)
        return {**result.summary(), "today": day.isoformat(), "resolved_ids": result.resolved,
                "raised_ids": result.raised, "failed_ids": result.failed}
    _run(job)


@click.command("resolve-reminder")
@click.argument("warning_id")
@click.option("--due", required=True, help="The renewed due date (YYYY-MM-DD), later than the reminder's.")
@click.option("--note", required=True, help="What was renewed.")
@click.option("--digest", "digests", multiple=True, help="Hex SM3/SHA-256 of the renewed record (repeatable).")
@click.option("--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The renewed record (its SHA-256 is attached).")
@click.pass_context
def resolve_reminder(ctx: click.Context, warning_id: str, due: str, note: str, digests: tuple[str, ...],
                     files: tuple[Path, ...]) -> None:
    """Close an open expiry reminder by its recorded renewal (a regulator or inspection body)."""
    evidence = _evidence(note, digests, files)
    _run(lambda: _wclient(ctx).resolve_reminder(warning_id, {"due": due, **evidence}))


