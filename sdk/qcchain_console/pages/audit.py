"""Audit: the chain timeline (who wrote, granted, read, froze, upgraded what and when) with filters, paged
through ``audit:timeline_page`` (bookmarks), every item shown re-verified (SM2 signatures and SM3 digests,
cached per item by :class:`~qcchain_console.auditcache.AuditVerifier`), blocks placed by the incremental
:class:`~qcchain_console.blockindex.BlockIndex`; the reads of the L3/L4 records shown; CSV export and a
print-ready HTML report of the filtered range (bounded, with a link to continue); plus the console's own
log of chain writes by staff account."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass, field
from typing import Any

from qcchain_sdk.contracts.audit import TimelineRow
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auditcache import Verified
from ..auditscan import END_OF_TIME, Filters, Scan, detail, resume_key, scan
from ..timefmt import fmt_time, parse_date
from ..web import Console, render
from .common import attempt, console_of

FILTERS = ("kind", "org", "from", "to", "q")
KINDS = ("bootstrap", "key_registered", "key_revoked", "record", "proposed", "signed", "executed", "node_admitted",
         "node_removed", "ingest_batch", "ingest_media_access", "warning_raised", "warnings_escalated",
         "device_registered", "device_revoked", "certificate_imported", "windows_anchored", "source_proposed",
         "source_signed", "source_executed")
PAGE_ROWS = 50
REPORT_ROWS = 1000
CSV_ROWS = 5000
BUDGET_S = {"page": 0.3, "search": 1.8, "report": 1.0, "csv": 2.0}  # reading the timeline
VERIFY_S = {"page": 0.3, "search": 0.6, "report": 1.5, "csv": 0.0}  # then re-verifying what is shown (H-8)


@dataclass
class AuditView:
    """What an Audit page shows: rows, their verification, the reads, where to continue."""

    rows: list[TimelineRow] = field(default_factory=list)
    verified: Verified | None = None
    accesses: list[dict[str, Any]] = field(default_factory=list)
    scan: Scan | None = None
    indexed: int = 0
    chain_height: int = 0
    block_problems: list[str] = field(default_factory=list)


def _filters(request: Request) -> tuple[dict[str, str], Filters | None, str]:
    f = {k: str(request.query_params.get(k, "")).strip()[:64] for k in FILTERS}
    try:
        start, end = parse_date(f["from"]), parse_date(f["to"], end=True)
    except ValueError:
        return f, None, "dates are YYYY-MM-DD"
    return f, Filters(f["kind"], f["org"], int(start or 0), int(end or END_OF_TIME), f["q"]), ""


def _view(console: Console, filters: Filters, bookmark: str, want: int, kind: str, verify: bool) -> AuditView:
    view = AuditView()
    view.scan = scan(console.chain.default, filters, want, bookmark, BUDGET_S[kind])
    events = view.scan.events
    if verify:  # show only what could be re-verified in time; the next page starts at the first one not shown
        view.verified = console.verifier.verify(events, deadline=time.monotonic() + VERIFY_S[kind])
        if view.verified.covered < len(events):
            events = events[:view.verified.covered]
            view.scan.bookmark = resume_key(view.scan.events[view.verified.covered])
            view.scan.events = events
    try:
        state = console.blocks.catch_up(budget_s=0.2)
        view.indexed, view.chain_height, view.block_problems = state.height, state.chain_height, list(state.problems)
    except Exception:  # noqa: BLE001 - blocks are then shown as "-"; the background index retries
        view.indexed = console.blocks.state.height
    for event in events:
        where = console.blocks.locate(event["tx_id"])
        view.rows.append(TimelineRow(event["at"], event["kind"], event["actor_msp"], detail(event), event["tx_id"],
                                     where[0] if where else None))
    if verify:
        view.accesses = _accesses(console, events)
    return view


def _accesses(console: Console, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first page of reads of every L3/L4 record on the page (owner or supervisory role only)."""
    out: list[dict[str, Any]] = []
    for record_id in dict.fromkeys(e["record_id"] for e in events if e["kind"] == "record" and e.get("grade") in ("L3", "L4")):
        try:
            page = json.loads(console.chain.default.evaluate_transaction("audit:access_log_page", record_id, "100", ""))
        except Exception as exc:  # noqa: BLE001 - 403/404: not this org's to read; others shown as missing
            if getattr(exc, "chaincode_status", None) in (403, 404):
                continue
            raise
        out += [{**e, "record_id": record_id} for e in page["entries"]]
    return sorted(out, key=lambda e: e["at"])


async def _load(request: Request, want: int, budget: str, verify: bool = True) -> tuple[dict[str, str], AuditView | None, str]:
    console = console_of(request)
    f, filters, error = _filters(request)
    if filters is None:
        return f, None, error
    bookmark = str(request.query_params.get("after", ""))[:1024]
    kind = budget if budget != "page" or not any(f.values()) else "search"
    view, chain_error = await attempt(_view, console, filters, bookmark, want, kind, verify)
    return f, view, chain_error


def _orgs(console: Console) -> list[str]:
    try:
        _, members = console.verifier._governance()
    except Exception:  # noqa: BLE001 - the filter then offers no org names
        return []
    return sorted(m["msp_id"] for m in members if m.get("msp_id"))


async def audit(request: Request) -> Response:
    f, view, error = await _load(request, PAGE_ROWS, "page")
    console = console_of(request)
    orgs, _ = await attempt(_orgs, console)
    return render(request, "audit.html", f=f, view=view, error=error, kinds=KINDS, orgs=orgs or [],
                  console_log=console.store.audit_log(200))


async def export_csv(request: Request) -> Response:
    f, view, error = await _load(request, CSV_ROWS, "csv", verify=False)
    if view is None or view.scan is None:
        return Response(f"cannot export: {error}", status_code=502, media_type="text/plain; charset=utf-8")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["block", "time (Asia/Shanghai)", "org", "event", "detail", "tx_id"])
    for row in view.rows:
        writer.writerow(["" if row.block is None else row.block, fmt_time(row.at), row.actor_msp, row.kind,
                         _safe_cell(row.detail), row.tx_id])
    name = f"qcchain-audit-{time.strftime('%Y%m%d-%H%M%S')}.csv"
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    if view.scan.bookmark:  # more rows in the range: the next export starts here (?after=)
        headers["x-qcchain-continue"] = view.scan.bookmark.replace("\x00", "%00")
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def _safe_cell(text: str) -> str:
    """No spreadsheet formula injection: a cell starting with = + - @ is prefixed with a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


async def report_page(request: Request) -> Response:
    f, view, error = await _load(request, REPORT_ROWS, "report")
    return render(request, "report.html", f=f, view=view, error=error, generated=fmt_time(time.time()),
                  limit=REPORT_ROWS)


def routes() -> list[Route]:
    return [Route("/audit", audit, methods=["GET"]), Route("/audit/export.csv", export_csv, methods=["GET"]),
            Route("/audit/report", report_page, methods=["GET"])]
