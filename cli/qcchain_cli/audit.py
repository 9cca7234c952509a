"""``qcchain audit``: auditor queries — record history, channel timeline (accesses included), full
re-verification with a report people keep (``verify --out report.html|.json``).

Every command reads through a connection profile (``--profile``) and re-verifies what it reads
(:mod:`qcchain_sdk.contracts.audit`): SM3 digests, SM2 signatures, key ids. Transactions are placed in
their blocks through ``qscc``. Times are ISO-8601 (Asia/Shanghai unless ``QCCHAIN_TZ``); ``--from``/``--to``
accept the same. Any mismatch is printed and the command exits with status 1. ``--json`` prints JSON.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from .auditreport import summary, write_report
from .errors import CliError
from .options import common_options, connect_contract, emit, opt, optional_key, sdk_call
from .tables import table
from .timefmt import When, show_time

log = logging.getLogger(__name__)

TIMELINE_COLUMNS = [("block", lambda r: r.block), ("time", lambda r: show_time(r.at)), ("org", lambda r: r.actor_msp),
                    ("event", lambda r: r.kind), ("detail", lambda r: r.detail), ("tx", lambda r: r.tx_id[:12])]


def _client(ctx: click.Context) -> Any:
    from qcchain_sdk.contracts.audit import AuditClient

    return AuditClient(connect_contract(ctx), opt(ctx, "channel"), connect_contract(ctx, "qscc"))


@click.group()
@common_options()
@click.pass_context
def audit(ctx: click.Context) -> None:
    """Auditor queries: history, timeline, verify."""
    ctx.ensure_object(dict)


@audit.command()
@click.argument("record_id")
@common_options()
@click.pass_context
def history(ctx: click.Context, record_id: str) -> None:
    """Every version of RECORD_ID with its block, each SM2 signature and SM3 digest re-verified."""
    from qcchain_sdk.contracts.audit import AuditReport, KeyBook, verify_history

    client = _client(ctx)
    versions = sdk_call(lambda: client.record_history(record_id))
    report = AuditReport()
    book = KeyBook(client, report)
    _, _, problems = verify_history(versions, book.get, book.owner)
    problems = report.problems + problems
    for view in versions:
        where = client.locate(view["history_tx_id"])
        view["block"] = where.block_number if where else None
    result = {"record_id": record_id, "versions": versions, "problems": problems}
    columns = [("version", lambda v: f"v{v['version']}"), ("op", lambda v: v["bus_type"]), ("grade", lambda v: v["grade"]),
               ("owner", lambda v: v["owner_msp"]), ("time", lambda v: show_time(v["at"])), ("block", lambda v: v["block"]),
               ("tx", lambda v: v["history_tx_id"][:12]), ("digest", lambda v: v["digest"][:16] + "…")]
    emit(ctx, result, lambda r: table(r["versions"], columns) + [
        f"verified: the SM2 signature and SM3 digest of all {len(r['versions'])} version(s) hold" if not r["problems"]
        else f"NOT verified: {'; '.join(r['problems'])}"])
    if problems:
        raise CliError(f"record {record_id}: {len(problems)} mismatch(es): {problems[0]}")


@audit.command()
@click.option("--from", "from_time", type=When(), default=None,
              help="Start, ISO-8601 (e.g. 2026-12-01 or 2026-12-01T09:30; Asia/Shanghai unless an offset is given).")
@click.option("--to", "to_time", type=When(), default=None, help="End (exclusive), ISO-8601.")
@common_options()
@click.pass_context
def timeline(ctx: click.Context, from_time: int | None, to_time: int | None) -> None:
    """Channel events with blocks: bootstrap, keys, proposals, signatures, executions, records, grants and
    accesses (who read which L3/L4 record, for what purpose, under which grant)."""
    from qcchain_sdk.contracts.audit import END_OF_TIME, timeline_rows, timeline_with_accesses

    start, end = from_time or 0, to_time or END_OF_TIME
    if end < start:
        raise click.BadParameter("--to must not be before --from", param_hint="--to")
    client = _client(ctx)
    rows = sdk_call(lambda: timeline_rows(client, timeline_with_accesses(client, start, end)))
    emit(ctx, [row.__dict__ for row in rows], lambda _r: table(rows, TIMELINE_COLUMNS, "(no event in this period)"))


@audit.command()
@click.option("--record", "record_ids", multiple=True, help="Only these records [default: every record in the timeline].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a report to keep: report.html, report.json or report.pdf (timeline, what was verified, mismatches).")
@common_options()
@click.pass_context
def verify(ctx: click.Context, record_ids: tuple[str, ...], out: Path | None) -> None:
    """Re-verify the whole visible history: proposals, records, grants, keys; exit 1 on any mismatch.

    With --key (your SM2 key) the L3 payloads wrapped for your org are decrypted and checked too."""
    from qcchain_sdk.contracts.audit import audit_channel

    key = optional_key(ctx)
    report = sdk_call(lambda: audit_channel(_client(ctx), key, list(record_ids) or None))
    grant_columns = [("grant", lambda g: g["grant_id"]), ("status", lambda g: g["status"]),
                     ("owner", lambda g: g["owner_msp"]), ("grantee", lambda g: g["grantee_msp"]),
                     ("scope", lambda g: f"{g['scope']['type']}:{g['scope']['value']}"), ("max", lambda g: g["max_grade"]),
                     ("purpose", lambda g: g["purpose"]), ("uses", lambda g: g.get("uses", 0))]
    emit(ctx, report.to_dict(), lambda _r: table(report.timeline, TIMELINE_COLUMNS) + [""]
         + (table(report.grants, grant_columns) + [""] if report.grants else []) + summary(report))
    if out is not None:
        write_report(report, out, opt(ctx, "channel"), str(opt(ctx, "profile")))
        click.echo(f"report written to {out}", err=bool(opt(ctx, "json")))
    if not report.ok:
        raise CliError(f"{len(report.problems)} mismatch(es): {report.problems[0]}")
