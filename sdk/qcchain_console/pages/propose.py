"""Contracts, for an org admin: open a governance proposal from the browser (freeze / thaw / destroy of a
contract unit) signed with the org's console key — below the threshold it stays open on chain for the
other orgs to sign — and add the org's signature to a proposal another org opened. Both write the
``governance`` contract as this org (``propose`` / ``sign``) and are recorded in the console audit log.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from qcchain_sdk.proposals import governed, proposalfile
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..security import current_user, post_action
from .common import call, console_of, error_text, flash

log = logging.getLogger(__name__)

__all__ = ["routes", "UI_OPERATIONS"]

UI_OPERATIONS = ("freeze", "thaw", "destroy")
MAX_HOURS = 30 * 24


def _form(form: FormData) -> tuple[str, str, str, int]:
    """(operation, contract unit, reason, expiry hours). Raises ValueError naming the bad field."""
    operation, contract = str(form.get("operation", "")), str(form.get("contract", "")).strip()
    reason = " ".join(str(form.get("reason", "")).split())
    if operation not in UI_OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(UI_OPERATIONS)}")
    if not contract or len(contract) > 64 or not contract.replace("_", "").replace("-", "").isalnum():
        raise ValueError("contract: a contract unit name (letters, digits, - and _)")
    if not 4 <= len(reason) <= 200:
        raise ValueError("reason: 4 to 200 characters")
    try:
        hours = int(str(form.get("hours", "72")))
    except ValueError:
        raise ValueError("hours: a whole number") from None
    if not 1 <= hours <= MAX_HOURS:
        raise ValueError(f"hours: 1 to {MAX_HOURS}")
    return operation, contract, reason, hours


def _open(chain: Any, operation: str, contract: str, reason: str, hours: int) -> dict[str, Any]:
    """Create, sign with the console key and open on chain. Raises the SDK's/gateway's errors."""
    if not chain.ensure_key_registered():
        raise ValueError("the console's SM2 key is not registered on chain yet")
    now = int(time.time())
    proposal = proposalfile.new_proposal(operation, chain.channel, "qcchain", contract=contract, reason=reason,
                                         expiry=now + hours * 3600)
    governance = chain.contract("governance")
    governed.check_state(proposal, governance)  # a transition the unit's state forbids: nothing written
    entry = proposalfile.sign(proposal, chain.key, now)
    governance.submit_transaction("propose", json.dumps(proposal.body), json.dumps({}), entry["key_id"],
                                  entry["signature"])
    return {"proposal_id": proposal.proposal_id, "operation": operation}


def _sign(chain: Any, pid: str) -> dict[str, Any]:
    """Add this org's signature (console key) to an open proposal on chain."""
    if not chain.ensure_key_registered():
        raise ValueError("the console's SM2 key is not registered on chain yet")
    on_chain = chain.evaluate("governance:get_proposal", pid)
    if on_chain.get("status") != "open":
        raise ValueError(f"proposal {pid[:12]} is {on_chain.get('status')}, not open")
    if chain.msp_id in (on_chain.get("signatures") or {}):
        raise ValueError(f"{chain.msp_id} already signed proposal {pid[:12]}")
    proposal = proposalfile.ProposalFile(body=on_chain["body"])
    if proposal.proposal_id != pid:
        raise ValueError("the chain's proposal body does not hash to its id")
    entry = proposalfile.sign(proposal, chain.key, int(time.time()))
    chain.contract("governance").submit_transaction("sign", pid, entry["key_id"], entry["signature"])
    return {"proposal_id": pid}


def _execute(chain: Any, pid: str) -> dict[str, Any]:
    """Execute an open proposal whose signatures on chain meet the threshold (the chain re-checks)."""
    return dict(json.loads(chain.contract("governance").submit_transaction("execute", pid)))


@post_action(roles=("admin",))
async def propose(request: Request, form: FormData) -> Response:
    console = console_of(request)
    user = current_user(request)
    try:
        operation, contract, reason, hours = _form(form)
    except ValueError as exc:
        flash(request, f"refused: {exc}", ok=False)
        return RedirectResponse("/contracts", status_code=303)
    try:
        result = await call(_open, console.chain, operation, contract, reason, hours)
    except Exception as exc:  # noqa: BLE001 - refusal shown and logged for the staff account
        text = error_text(exc)
        console.store.record(user.username, "open_proposal", f"{operation} {contract}", f"refused: {text}")
        flash(request, f"refused: {text}", ok=False)
        return RedirectResponse("/contracts", status_code=303)
    pid = result["proposal_id"]
    console.store.record(user.username, "open_proposal", pid, f"{operation} {contract}, signed by {console.chain.msp_id}")
    flash(request, f"proposal {pid[:12]} ({operation} {contract}) opened and signed by {console.chain.msp_id}")
    return RedirectResponse("/contracts", status_code=303)


async def _on_open(request: Request, action: str) -> Response:
    console = console_of(request)
    user = current_user(request)
    pid = str(request.path_params["pid"])
    if len(pid) != 64 or any(c not in "0123456789abcdef" for c in pid):
        flash(request, "no such proposal", ok=False)
        return RedirectResponse("/contracts", status_code=303)
    try:
        result = await call(_sign if action == "sign" else _execute, console.chain, pid)
    except Exception as exc:  # noqa: BLE001 - refusal shown and logged for the staff account
        text = error_text(exc)
        console.store.record(user.username, f"{action}_proposal", pid, f"refused: {text}")
        flash(request, f"refused: {text}", ok=False)
        return RedirectResponse("/contracts", status_code=303)
    if action == "sign":
        outcome, tx = f"signed by {console.chain.msp_id}", ""
    else:
        outcome, tx = f"{result.get('status')}: {result.get('outcome')}", str(result.get("executed_tx", ""))
    console.store.record(user.username, f"{action}_proposal", pid, outcome, tx)
    flash(request, f"proposal {pid[:12]} {outcome}")
    return RedirectResponse("/contracts", status_code=303)


@post_action(roles=("admin",))
async def sign(request: Request, form: FormData) -> Response:
    return await _on_open(request, "sign")


@post_action(roles=("admin",))
async def execute_open(request: Request, form: FormData) -> Response:
    return await _on_open(request, "execute")


def routes() -> list[Route]:
    return [Route("/contracts/propose", propose, methods=["POST"]),
            Route("/contracts/sign/{pid}", sign, methods=["POST"]),
            Route("/contracts/execute-open/{pid}", execute_open, methods=["POST"])]
