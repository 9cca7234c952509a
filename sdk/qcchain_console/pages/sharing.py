"""Sharing: grants given and received, requests to approve or reject (approving writes the grant on
chain, SM2-signed with the console's key for this org), revocation, a record's access log, and the
findings of the sharing check. Every decision is recorded in the console audit log under the staff
account that made it."""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import WRITER_ROLES
from ..web import render
from ..security import current_user, post_action
from .common import attempt, call, console_of, error_text, flash

_ID = re.compile(r"^[\w.:-]{1,128}$")
ACTIONS = ("approve", "reject", "revoke")


async def sharing(request: Request) -> Response:
    console = console_of(request)
    chain = console.chain
    grants, error = await attempt(chain.sharing().list_grants, "")
    grants = sorted(grants or [], key=lambda g: g.get("updated_at") or g.get("created_at") or 0, reverse=True)
    record_id = str(request.query_params.get("record", "")).strip()
    log_rows, log_error = (None, "")
    if record_id:
        log_rows, log_error = (await attempt(chain.sharing().access_log, record_id)) if _ID.match(record_id) \
            else (None, "record ids are letters, digits, '.', '_', ':', '-'")
    check, check_error = await attempt(chain.sharing().check)
    me = chain.msp_id
    return render(request, "sharing.html", error=error, record_id=record_id, log_rows=log_rows, log_error=log_error,
                  requests=[g for g in grants if g["owner_msp"] == me and g["status"] == "requested"],
                  given=[g for g in grants if g["owner_msp"] == me and g["status"] != "requested"],
                  received=[g for g in grants if g["grantee_msp"] == me],
                  others=[g for g in grants if me not in (g["owner_msp"], g["grantee_msp"])],
                  check=check, check_error=check_error)


def _decide(chain: Any, action: str, grant_id: str, reason: str) -> dict[str, Any]:
    chain.ensure_key_registered()
    client = chain.sharing()
    result: dict[str, Any] = getattr(client, action)(grant_id, reason=reason)
    return result


@post_action(roles=WRITER_ROLES)
async def decide(request: Request, form: FormData) -> Response:
    console = console_of(request)
    action, grant_id = str(request.path_params["action"]), str(request.path_params["grant_id"])
    reason = str(form.get("reason", ""))[:200]
    if action not in ACTIONS or not _ID.match(grant_id):
        flash(request, "unknown action or grant id", ok=False)
        return RedirectResponse("/sharing", status_code=303)
    user = current_user(request)
    try:
        result = await call(_decide, console.chain, action, grant_id, reason)
    except Exception as exc:  # noqa: BLE001 - refusal shown and logged for the staff account
        text = error_text(exc)
        console.store.record(user.username, f"sharing_{action}", grant_id, f"refused: {text}")
        flash(request, f"{action} refused: {text}", ok=False)
        return RedirectResponse("/sharing", status_code=303)
    grant = result.get("grant", result)
    console.store.record(user.username, f"sharing_{action}", grant_id, f"status {grant.get('status')}",
                         str(result.get("tx_id", "")))
    flash(request, f"grant {grant_id}: {grant.get('status', action)}")
    return RedirectResponse("/sharing", status_code=303)


def routes() -> list[Route]:
    return [Route("/sharing", sharing, methods=["GET"]),
            Route("/sharing/{action}/{grant_id}", decide, methods=["POST"])]
