"""Ingestion, for the org that runs the ingestion service (``serve --ingest-url``, its admin API): batches
per unit and txcode (each shown batch checked against its header on chain: present, same Merkle root and
count), refused batches with their reasons, units overdue against their D-5.4 cycle, and the appid
credentials — an admin issues one (the secret is shown on the answer page once, stored nowhere by the
console) or revokes one; both are recorded in the console audit log under the staff account."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from qcchain_sdk.contracts.ingest import IngestClient
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..security import current_user, post_action
from ..web import Console, render
from .common import attempt, call, console_of, error_text, flash

_APPID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_TXCODE = re.compile(r"^0[1-9]$")
BATCH_ROWS = 50


def _check(client: IngestClient, row: dict[str, Any]) -> dict[str, Any]:
    header = client.batch(row["appid"], row["batch_no"])
    if header is None:
        return {"ok": False, "why": "not on chain"}
    if header.get("merkle_root") != row["merkle_root"] or int(header.get("count", -1)) != int(row["count"]):
        return {"ok": False, "why": "differs from the header on chain"}
    return {"ok": True, "why": "", "tx_id": header.get("tx_id", ""), "grade": header.get("grade", "")}


def check_on_chain(console: Console, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each batch row with ``chain``: None while anchoring, else ``{"ok", "why", ...}`` from its on-chain
    header (read side by side; remembered once it holds — a header never changes). Raises the gateway's
    errors for a failed read other than "not found"."""
    client = IngestClient(console.chain.default)
    todo = [r for r in rows if r["status"] == "anchored" and (r["appid"], r["batch_no"]) not in console.batch_checks]
    with ThreadPoolExecutor(min(8, max(1, len(todo)))) as pool:
        fresh = dict(zip([(r["appid"], r["batch_no"]) for r in todo], pool.map(lambda r: _check(client, r), todo)))
    for key, result in fresh.items():
        if result["ok"]:
            console.batch_checks[key] = result
    return [{**r, "chain": console.batch_checks.get((r["appid"], r["batch_no"])) or fresh.get((r["appid"], r["batch_no"]))}
            for r in rows]


def warm(console: Console) -> None:
    """Check the newest batches once at start-up. Raises IngestAdminError or the gateway's errors."""
    if console.ingest is not None:
        check_on_chain(console, console.ingest.batches("", "", BATCH_ROWS))


def _names(credentials: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    return {c["appid"]: c for c in credentials or []}


async def _page(request: Request, status: int = 200, **extra: Any) -> Response:
    console = console_of(request)
    if console.ingest is None:
        return render(request, "ingestion.html", configured=False, status=status, **extra)
    admin = console.ingest
    appid = str(request.query_params.get("appid", "")).strip()
    txcode = str(request.query_params.get("txcode", "")).strip()
    appid = appid if _APPID.match(appid) else ""
    txcode = txcode if _TXCODE.match(txcode) else ""
    (units, units_error), (creds, creds_error), (batches, batches_error), (refusals, refusals_error), \
        (overdue, overdue_error) = await asyncio.gather(
            attempt(admin.units), attempt(admin.credentials), attempt(admin.batches, appid, txcode, BATCH_ROWS),
            attempt(admin.refusals, appid, BATCH_ROWS), attempt(admin.overdue))
    checked, chain_error = await attempt(check_on_chain, console, batches or [])
    late = [{**u, "late": [t for t in u["tables"] if t["overdue"]]} for u in overdue or []]
    return render(request, "ingestion.html", status=status, configured=True, url=admin.url_shown, appid=appid,
                  txcode=txcode, units=(units or {}).get("units", []), units_error=units_error,
                  recent_refusals=(units or {}).get("refusals_recent"), names=_names(creds), credentials=creds or [],
                  creds_error=creds_error, batches=checked or [], batches_error=batches_error or chain_error,
                  refusals=refusals or [], refusals_error=refusals_error,
                  overdue=[u for u in late if u["late"]], overdue_error=overdue_error,
                  on_chain={u["appid"]: u for u in overdue or []}, **extra)


async def ingestion(request: Request) -> Response:
    return await _page(request)


@post_action(roles=("admin",))
async def issue(request: Request, form: FormData) -> Response:
    console = console_of(request)
    if console.ingest is None:
        return RedirectResponse("/ingestion", status_code=303)
    org_no, name = str(form.get("org_no", "")).strip()[:18], str(form.get("name", "")).strip()[:200]
    user = current_user(request)
    try:
        issued = await call(console.ingest.issue, org_no, name)
    except Exception as exc:  # noqa: BLE001 - refusal shown and recorded under the staff account
        text = error_text(exc)
        console.store.record(user.username, "appid_issue", org_no, f"refused: {text}")
        flash(request, f"issue refused: {text}", ok=False)
        return RedirectResponse("/ingestion", status_code=303)
    console.store.record(user.username, "appid_issue", issued["appid"], f"issued for unit {org_no}")
    # the secret goes into this answer only (no redirect, no flash: a session cookie would carry it)
    return await _page(request, issued={"appid": issued["appid"], "secret": issued["secret"], "org_no": org_no,
                                        "name": name})


@post_action(roles=("admin",))
async def revoke(request: Request, form: FormData) -> Response:
    console = console_of(request)
    appid = str(request.path_params["appid"])
    if console.ingest is None or not _APPID.match(appid):
        flash(request, "unknown appid", ok=False)
        return RedirectResponse("/ingestion", status_code=303)
    user = current_user(request)
    try:
        await call(console.ingest.revoke, appid)
    except Exception as exc:  # noqa: BLE001 - refusal shown and recorded under the staff account
        text = error_text(exc)
        console.store.record(user.username, "appid_revoke", appid, f"refused: {text}")
        flash(request, f"revoke refused: {text}", ok=False)
        return RedirectResponse("/ingestion", status_code=303)
    console.store.record(user.username, "appid_revoke", appid, "revoked")
    flash(request, f"appid {appid}: revoked")
    return RedirectResponse("/ingestion", status_code=303)


def routes() -> list[Route]:
    return [Route("/ingestion", ingestion, methods=["GET"]),
            Route("/ingestion/credentials/issue", issue, methods=["POST"]),
            Route("/ingestion/credentials/{appid}/revoke", revoke, methods=["POST"])]
