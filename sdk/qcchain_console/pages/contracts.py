"""Contracts: every contract unit's lifecycle state, version, package digest and history; pending
proposals with the signatures collected and the rule still to meet; an org admin uploads a proposal
file signed offline (``qcchain contract sign``) and executes it once the threshold is met."""

from __future__ import annotations

import logging
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from qcchain_sdk.proposals import governed, proposalfile
from qcchain_sdk.errors import ProposalFileError, SignatureError
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..web import render
from ..security import current_user, post_action
from .common import attempt, call, console_of, error_text, flash

log = logging.getLogger(__name__)

_PID = re.compile(r"^[0-9a-f]{64}$")
MAX_UPLOAD = 1024 * 1024


def _pending_rows(chain: Any, proposals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open proposals with who signed and what the rule still needs (the shared threshold rule)."""
    policy = chain.evaluate("governance:policy", "governance")["document"]
    members = chain.evaluate("governance:members")
    rows = []
    for p in proposals:
        if p.get("status") != "open":
            continue
        signers = set(p.get("signatures") or {})
        try:
            met, why = governed.threshold_met(governed.operation_rule(policy, p["body"]["operation"]), members, signers)
        except Exception as exc:  # noqa: BLE001 - shown on the page
            met, why = False, error_text(exc)
        rows.append({"p": p, "signers": sorted(signers), "met": met, "why": why})
    return rows


def _uploaded(console: Any, chain: Any) -> list[dict[str, Any]]:
    """Proposal files uploaded to this console, with the chain's pre-check verdict."""
    rows = []
    for path in sorted(console.proposals_dir.glob("*.json")):
        try:
            proposal = proposalfile.load(path)
        except (ProposalFileError, SignatureError) as exc:
            rows.append({"id": path.stem, "error": str(exc), "proposal": None})
            continue
        try:
            plan = governed.precheck(proposal, chain.contract("governance"), chain.contract("keys"), int(time.time()))
            verdict, met = plan.why, True
        except Exception as exc:  # noqa: BLE001 - the verdict is the point
            verdict, met = error_text(exc), False
        rows.append({"id": proposal.proposal_id, "proposal": proposal, "met": met, "verdict": verdict, "error": ""})
    return rows


async def contracts(request: Request) -> Response:
    console = console_of(request)
    chain = console.chain
    units, units_error = await attempt(chain.evaluate, "governance:units")
    proposals, proposals_error = await attempt(chain.evaluate, "governance:proposals")
    pending, pending_error = await attempt(_pending_rows, chain, proposals or [])
    uploaded, _ = await attempt(_uploaded, console, chain)
    history = sorted((p for p in proposals or [] if p.get("status") != "open"),
                     key=lambda p: p.get("executed_at") or p.get("proposed_at") or 0, reverse=True)
    return render(request, "contracts.html", units=units or [], error=units_error or proposals_error or pending_error,
                  pending=pending or [], history=history, uploaded=uploaded or [])


@post_action(roles=("admin",))
async def upload(request: Request, form: FormData) -> Response:
    console = console_of(request)
    item = form.get("proposal")
    if not isinstance(item, UploadFile):
        flash(request, "no proposal file was chosen", ok=False)
        return RedirectResponse("/contracts", status_code=303)
    data = await item.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        flash(request, "proposal file larger than 1 MiB refused", ok=False)
        return RedirectResponse("/contracts", status_code=303)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.json"
        path.write_bytes(data)
        try:
            proposal = proposalfile.load(path)
        except (ProposalFileError, SignatureError) as exc:
            flash(request, f"refused: {str(exc).replace(str(path), 'upload')}", ok=False)
            return RedirectResponse("/contracts", status_code=303)
    proposalfile.save(proposal, console.proposals_dir / f"{proposal.proposal_id}.json", overwrite=True)
    user = current_user(request)
    console.store.record(user.username, "upload_proposal", proposal.proposal_id, f"{proposal.operation} "
                         f"{governed.unit_name(proposal.target)}, {len(proposal.signatures)} signature(s)")
    flash(request, f"proposal {proposal.proposal_id[:12]} ({proposal.operation}) uploaded")
    return RedirectResponse("/contracts", status_code=303)


def _execute(chain: Any, path: Path) -> dict[str, Any]:
    proposal = proposalfile.load(path)
    plan = governed.precheck(proposal, chain.contract("governance"), chain.contract("keys"), int(time.time()))
    return governed.submit(proposal, plan, {chain.msp_id: chain.contract("governance")})


@post_action(roles=("admin",))
async def execute(request: Request, form: FormData) -> Response:
    console = console_of(request)
    pid = str(request.path_params["pid"])
    path = console.proposals_dir / f"{pid}.json"
    if not _PID.match(pid) or not path.exists():
        flash(request, "no such uploaded proposal", ok=False)
        return RedirectResponse("/contracts", status_code=303)
    user = current_user(request)
    try:
        result = await call(_execute, console.chain, path)
    except Exception as exc:  # noqa: BLE001 - refusal shown and logged for the staff account
        text = error_text(exc)
        console.store.record(user.username, "execute_proposal", pid, f"refused: {text}")
        flash(request, f"refused: {text}", ok=False)
        return RedirectResponse("/contracts", status_code=303)
    console.store.record(user.username, "execute_proposal", pid, f"{result.get('status')}: {result.get('outcome')}",
                         str(result.get("executed_tx", "")))
    path.unlink(missing_ok=True)
    flash(request, f"proposal {pid[:12]} {result.get('status')}: {result.get('outcome')}")
    return RedirectResponse("/contracts", status_code=303)


def routes() -> list[Route]:
    return [Route("/contracts", contracts, methods=["GET"]),
            Route("/contracts/upload", upload, methods=["POST"]),
            Route("/contracts/execute/{pid}", execute, methods=["POST"])]
