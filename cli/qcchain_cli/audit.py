"""``qcchain audit``: auditor queries — record history, channel timeline, full re-verification.

Every command reads through a connection profile (``--profile``, ``--user``, ``--channel``) and
re-verifies what it reads (:mod:`qcchain_sdk.contracts.audit`): SM3 digests, SM2 signatures, key ids.
Transactions are placed in their blocks through ``qscc``. Any mismatch is printed and the command exits
with status 1. ``--json`` prints JSON.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from .errors import CliError
from .records import connect_contract, emit, group_options, load_key, sdk_call, store_options

log = logging.getLogger(__name__)


def _client(ctx: click.Context) -> Any:
    from qcchain_sdk.contracts.audit import AuditClient

    return AuditClient(connect_contract(ctx), ctx.obj["channel"], connect_contract(ctx, "qscc"))


@click.group()
@group_options
@click.pass_context
def audit(ctx: click.Context, **options: Any) -> None:
    """Auditor queries: history, timeline, verify."""
    store_options(ctx, options)


@audit.command()
@click.argument("record_id")
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
    emit(ctx, result, lambda r: [f"v{v['version']} {v['bus_type']} {v['grade']} by {v['owner_msp']} at {v['at']} "
                                 f"block {v['block']} tx {v['history_tx_id'][:12]} digest {v['digest'][:16]}..."
                                 for v in r["versions"]] + _verdict(r["problems"]))
    if problems:
        raise CliError(f"record {record_id}: {len(problems)} mismatch(es): {problems[0]}")


def _verdict(problems: list[str]) -> list[str]:
    return ["re-verified: all hold"] if not problems else [f"MISMATCH: {p}" for p in problems]


@audit.command()
@click.option("--from", "from_time", type=click.IntRange(min=0), default=0, show_default=True,
              help="Start (transaction time, seconds since the epoch).")
@click.option("--to", "to_time", type=click.IntRange(min=0), default=10**12, help="End (exclusive).")
@click.pass_context
def timeline(ctx: click.Context, from_time: int, to_time: int) -> None:
    """Channel events (bootstrap, keys, proposals, signatures, executions, records, grants) with blocks."""
    from qcchain_sdk.contracts.audit import AuditReport, format_timeline, timeline_rows

    if to_time < from_time:
        raise click.BadParameter("--to must not be before --from", param_hint="--to")
    client = _client(ctx)
    rows = timeline_rows(client, sdk_call(lambda: client.timeline(from_time, to_time)))
    emit(ctx, [row.__dict__ for row in rows], lambda _r: format_timeline(AuditReport(timeline=rows))[:-1])


@audit.command()
@click.option("--record", "record_ids", multiple=True, help="Only these records (default: every record in the timeline).")
@click.option("--decrypt-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Your org's SM2 encryption key: L3 payloads wrapped for it are decrypted and checked too.")
@click.option("--key-password-env", default="QCCHAIN_KEY_PASSWORD", show_default=True)
@click.pass_context
def verify(ctx: click.Context, record_ids: tuple[str, ...], decrypt_key: Path | None, key_password_env: str) -> None:
    """Re-verify the whole visible history: proposals, records, grants, keys; exit 1 on any mismatch."""
    from qcchain_sdk.contracts.audit import audit_channel, format_timeline

    key = load_key(decrypt_key, key_password_env) if decrypt_key else None
    report = sdk_call(lambda: audit_channel(_client(ctx), key, list(record_ids) or None))
    emit(ctx, report.to_dict(), lambda _r: format_timeline(report))
    if not report.ok:
        raise CliError(f"{len(report.problems)} mismatch(es): {report.problems[0]}")
