"""Audit: the chain timeline (who wrote, granted, read, froze, upgraded what and when) with filters,
re-verification of everything (every SM3 digest and SM2 signature, by :func:`audit_channel`), CSV export
and a print-ready HTML report; plus the console's own log of chain writes by staff account."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from qcchain_sdk.contracts.audit import AuditReport, audit_channel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..web import render
from ..timefmt import fmt_time, parse_date
from .common import attempt, console_of

FILTERS = ("kind", "org", "from", "to", "q")


def _filters(request: Request) -> tuple[dict[str, str], str]:
    f = {k: str(request.query_params.get(k, "")).strip()[:64] for k in FILTERS}
    try:
        parse_date(f["from"]), parse_date(f["to"])
    except ValueError:
        return f, "dates are YYYY-MM-DD"
    return f, ""


def _report(chain: Any) -> AuditReport:
    # no decrypt key: audit_channel would try it on every L3 item, also those wrapped for the org's other
    # keys (reported as mismatches); the record page decrypts and digest-checks the console's own items
    return audit_channel(chain.audit())


def _rows(report: AuditReport, f: dict[str, str]) -> list[Any]:
    start, end = parse_date(f["from"]), parse_date(f["to"], end=True)
    out = []
    for row in report.timeline:
        if f["kind"] and row.kind != f["kind"]:
            continue
        if f["org"] and row.actor_msp != f["org"]:
            continue
        if (start is not None and row.at < start) or (end is not None and row.at >= end):
            continue
        if f["q"] and f["q"].lower() not in f"{row.detail} {row.tx_id}".lower():
            continue
        out.append(row)
    return out


async def _load(request: Request) -> tuple[dict[str, str], AuditReport | None, list[Any], str]:
    console = console_of(request)
    f, error = _filters(request)
    report, chain_error = await attempt(_report, console.chain)
    rows = _rows(report, f) if report is not None and not error else []
    return f, report, rows, error or chain_error


async def audit(request: Request) -> Response:
    f, report, rows, error = await _load(request)
    kinds = sorted({r.kind for r in report.timeline}) if report else []
    orgs = sorted({r.actor_msp for r in report.timeline}) if report else []
    console_log = console_of(request).store.audit_log(200)
    return render(request, "audit.html", f=f, report=report, rows=rows, error=error, kinds=kinds, orgs=orgs,
                  console_log=console_log)


async def export_csv(request: Request) -> Response:
    f, report, rows, error = await _load(request)
    if report is None:
        return Response(f"cannot export: {error}", status_code=502, media_type="text/plain; charset=utf-8")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["block", "time (Asia/Shanghai)", "org", "event", "detail", "tx_id"])
    for row in rows:
        writer.writerow(["" if row.block is None else row.block, fmt_time(row.at), row.actor_msp, row.kind,
                         _safe_cell(row.detail), row.tx_id])
    name = f"qcchain-audit-{time.strftime('%Y%m%d-%H%M%S')}.csv"
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


def _safe_cell(text: str) -> str:
    """No spreadsheet formula injection: a cell starting with = + - @ is prefixed with a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


async def report_page(request: Request) -> Response:
    f, report, rows, error = await _load(request)
    return render(request, "report.html", f=f, report=report, rows=rows, error=error,
                  generated=fmt_time(time.time()))


def routes() -> list[Route]:
    return [Route("/audit", audit, methods=["GET"]), Route("/audit/export.csv", export_csv, methods=["GET"]),
            Route("/audit/report", report_page, methods=["GET"])]
