"""Records: search (equipment code, category, stage through the chain's indexes; unit, grade and date
filters on the page read), and a record's detail with grade, placement, history (I/U/D versions) and a
verification badge; L3 content decrypted only for an entitled org, personal fields masked for others."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..recordview import show_record
from ..web import render
from ..timefmt import parse_date
from .common import attempt, console_of

INDEXES = ("equipment", "category", "stage")
GRADES = ("L1", "L2", "L3", "L4")
PAGE = 50
_VALUE = re.compile(r"^[\w.:-]{1,64}$")


def _filters(request: Request) -> tuple[dict[str, str], str]:
    q = request.query_params
    f = {k: str(q.get(k, "")).strip() for k in ("index", "value", "unit", "grade", "from", "to", "bookmark")}
    if f["index"] and f["index"] not in INDEXES:
        return f, "unknown index"
    if f["value"] and not _VALUE.match(f["value"]):
        return f, "search value: letters, digits, '.', '_', ':', '-' (at most 64)"
    if f["grade"] and f["grade"] not in GRADES:
        return f, "grade must be L1..L4"
    try:
        parse_date(f["from"]), parse_date(f["to"])
    except ValueError:
        return f, "dates are YYYY-MM-DD"
    return f, ""


def _search(chain: Any, f: dict[str, str]) -> dict[str, Any]:
    page = chain.records().query(f["index"], f["value"], PAGE, f["bookmark"])
    start, end = parse_date(f["from"]), parse_date(f["to"], end=True)
    rows = [r for r in page["records"]
            if (not f["unit"] or r["owner_msp"] == f["unit"]) and (not f["grade"] or r["grade"] == f["grade"])
            and (start is None or r["at"] >= start) and (end is None or r["at"] < end)]
    return {"rows": rows, "bookmark": page.get("bookmark") or "", "fetched": page.get("fetched", len(page["records"]))}


async def search(request: Request) -> Response:
    console = console_of(request)
    f, error = _filters(request)
    result: dict[str, Any] | None = None
    if f["index"] and f["value"] and not error:
        result, error = await attempt(_search, console.chain, f)
    members, _ = await attempt(console.chain.evaluate, "governance:members")
    return render(request, "records.html", f=f, error=error, result=result, indexes=INDEXES, grades=GRADES,
                  members=members or [])


def _detail(chain: Any, record_id: str) -> dict[str, Any]:
    view = chain.records().get(record_id)
    shown = show_record(chain, view)
    history = chain.audit().record_history(record_id)
    versions = [show_record(chain, v, verify=True) for v in history]
    return {"shown": shown, "versions": versions}


async def detail(request: Request) -> Response:
    console = console_of(request)
    record_id = str(request.path_params["record_id"])
    if not _VALUE.match(record_id):
        return render(request, "record.html", status=400, error="record ids are letters, digits, '.', '_', ':', '-'",
                      data=None, record_id=record_id)
    data, error = await attempt(_detail, console.chain, record_id)
    return render(request, "record.html", data=data, error=error, record_id=record_id)


def routes() -> list[Route]:
    return [Route("/records", search, methods=["GET"]), Route("/records/{record_id}", detail, methods=["GET"])]
