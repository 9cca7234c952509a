"""Overview: channels and heights, node registry and health, certificates expiring, ingestion in the last
24 h, open warnings by colour."""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any

from cryptography import x509
from fabric_protos.common import ledger_pb2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qcchain_sdk.contracts.warnings import COLOURS as WARNING_COLOURS, WarningsClient

from ..web import render
from .common import attempt, console_of
from .riskdata import COLOURS, load_risk

EXPIRY_DAYS = 30
OPEN_STATUSES = ("raised", "acknowledged", "disposing", "disposed", "verified")


def _heights(chain: Any) -> list[dict[str, Any]]:
    out = []
    for name in sorted(chain.profile.channels or {chain.channel: {}}):
        started = time.perf_counter()
        try:
            raw = chain.gateway.get_network(name).get_contract("qscc").evaluate_transaction("GetChainInfo", name)
            info = ledger_pb2.BlockchainInfo.FromString(raw)
            out.append({"name": name, "height": info.height, "ms": (time.perf_counter() - started) * 1000, "error": ""})
        except Exception as exc:  # noqa: BLE001 - the org may not be on every channel of the profile
            out.append({"name": name, "height": None, "ms": None, "error": type(exc).__name__})
    return out


def _cert_rows(chain: Any, nodes: list[dict[str, Any]], now: int, consortium: list[Any]) -> list[dict[str, Any]]:
    rows = [{"what": f"{c.org} {c.kind}: {c.subject}", "not_after": c.not_after} for c in consortium]
    own = x509.load_pem_x509_certificate(chain.cert_pem)
    rows.append({"what": f"{chain.msp_id} {own.subject.rfc4514_string()}",
                 "not_after": int(own.not_valid_after_utc.timestamp())})
    for peer in chain.profile.peers.values():
        if peer.tls_ca_pem:
            cert = x509.load_pem_x509_certificate(peer.tls_ca_pem)
            rows.append({"what": f"TLS CA of {peer.name}", "not_after": int(cert.not_valid_after_utc.timestamp())})
    for node in nodes:
        if node.get("status") == "active" and node.get("not_after"):
            rows.append({"what": f"node {node['node_id']}", "not_after": int(node["not_after"])})
    for row in rows:
        row["days"] = (row["not_after"] - now) // 86400
    return sorted(rows, key=lambda r: r["not_after"])


def _open_warnings(chain: Any) -> dict[str, int]:
    """Warnings not yet closed, by colour (``warnings:list_warnings``, the first 500)."""
    counts = {c: 0 for c in WARNING_COLOURS}
    for warning in WarningsClient(chain.default).list(limit=500):
        if warning.get("status") in OPEN_STATUSES:
            counts[warning["colour"]] = counts.get(warning["colour"], 0) + 1
    return counts


async def _nothing() -> tuple[None, str]:
    return None, ""


async def overview(request: Request) -> Response:
    console = console_of(request)
    chain = console.chain
    now = int(time.time())
    # the reads are independent: run them side by side (each waits on the peer or the ingestion server)
    (heights, _), (nodes, nodes_error), (warnings, warnings_error), (risk, risk_error), (units, _) = await asyncio.gather(
        attempt(_heights, chain), attempt(chain.evaluate, "governance:nodes"), attempt(_open_warnings, chain),
        attempt(load_risk, chain, {}), attempt(console.ingest.units) if console.ingest is not None else _nothing())
    certs, certs_error = await attempt(_cert_rows, chain, nodes or [], now, console.certs)
    ingest = None
    if console.ingest is not None:
        per_table: dict[str, list[int]] = {}
        for unit in (units or {}).get("units", []):
            row = per_table.setdefault(unit["txcode"], [0, 0])
            row[0] += unit["batches_recent"]
            row[1] += unit["records_recent"]
        ingest = {"tables": sorted((code, b, r) for code, (b, r) in per_table.items()),
                  "refused": (units or {}).get("refusals_recent")}
    counts = {c: 0 for c in COLOURS}
    for point in (risk or {}).get("points", []):
        counts[point["colour"]] += 1
    expiring = [c for c in certs or [] if c["days"] <= EXPIRY_DAYS]
    return render(request, "overview.html", heights=heights or [], nodes=nodes or [], nodes_error=nodes_error,
                  certs=certs or [], expiring=expiring, certs_error=certs_error, within=EXPIRY_DAYS,
                  ingest=ingest, counts=counts, risk_error=risk_error, warnings=warnings or {},
                  warnings_error=warnings_error,
                  open_dangers=sum(1 for d in (risk or {}).get("dangers", []) if d["open"]),
                  today=datetime.date.today().isoformat())


def routes() -> list[Route]:
    return [Route("/", overview, methods=["GET"])]
