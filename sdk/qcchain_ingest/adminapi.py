"""The ingesting org's admin API (mounted under ``/jsdspcloud/admin`` on the same HTTPS server): what the
browser console of that org shows and does on its Ingestion page — batches per unit and txcode,
refusals with their reasons, units overdue against their D-5.4 cycle, and appid credentials (list,
issue, revoke).

Every request carries ``Authorization: Bearer <admin key>``; a key is issued by ``qcchain ingest admin-key
issue`` (shown once, only its SHA-256 is stored in ``admin_keys``) and revoked at once. Any other
request gets 401 with one message, whatever was wrong. Answers use the service's envelope
``{"rescode", "msg", "data", "interface"}``. Nothing here returns a secret except the one an issue creates,
and nothing logs one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from typing import Any, Callable

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import case, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from qcchain_sdk.contracts.ingest import IngestClient

from .db import admin_keys, batches
from .errors import AuthFailed, CredentialError, StateError
from .proofs import overdue_tables
from .refusals import RefusalLog

log = logging.getLogger(__name__)

__all__ = ["ADMIN_PREFIX", "AdminKeys", "admin_router"]

ADMIN_PREFIX = "/jsdspcloud/admin"
_KEY = re.compile(r"^qcadm\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")
_APPID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_TXCODE = re.compile(r"^0[1-9]$")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


class AdminKeys:
    """Admin API keys (``qcadm.<key id>.<secret>``, 256 random bits) in the service database."""

    def __init__(self, engine: Engine, now: Callable[[], float]) -> None:
        self.engine, self.now = engine, now

    def issue(self, name: str) -> dict[str, str]:
        """A new key named ``name``; returns ``{"key_id", "key"}`` (the key is shown once).

        Raises:
            CredentialError: the name is empty or longer than 100 characters.
        """
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise CredentialError("an admin key's name must be 1..100 characters")
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(admin_keys.insert().values(key_id=key_id, name=name.strip(), key_hash=_digest(secret),
                                                    created_at=int(self.now()), revoked_at=0))
        log.info("issued admin key %s (%s)", key_id, name.strip())
        return {"key_id": key_id, "key": f"qcadm.{key_id}.{secret}"}

    def list(self) -> list[dict[str, Any]]:
        """Every key without its hash, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(admin_keys).order_by(admin_keys.c.created_at)).mappings().all()
        return [{"key_id": r["key_id"], "name": r["name"], "created_at": r["created_at"], "revoked_at": r["revoked_at"]}
                for r in rows]

    def revoke(self, key_id: str) -> None:
        """Revoke at once. Raises CredentialError: unknown or already revoked key id."""
        with self.engine.begin() as conn:
            done = conn.execute(update(admin_keys).where(admin_keys.c.key_id == key_id, admin_keys.c.revoked_at == 0)
                                .values(revoked_at=int(self.now()))).rowcount
        if not done:
            raise CredentialError(f"no active admin key {key_id[:16]!r}")
        log.info("revoked admin key %s", key_id)

    def authenticate(self, header: str | None) -> str:
        """The key id of a valid ``Bearer`` header. Raises AuthFailed (one message for every cause)."""
        match = _KEY.match(header[7:].strip()) if isinstance(header, str) and header[:7].lower() == "bearer " else None
        key_id, secret = (match.group(1), match.group(2)) if match else ("", "x")
        with self.engine.connect() as conn:
            row = conn.execute(select(admin_keys).where(admin_keys.c.key_id == key_id)).mappings().first() \
                if key_id else None
        stored = row["key_hash"] if row is not None else "0" * 64
        if not hmac.compare_digest(_digest(secret), stored) or row is None or row["revoked_at"]:
            raise AuthFailed("admin authentication failed")
        return key_id


def _answer(interface: str, ok: bool, msg: str, data: Any = "", status: int = 200) -> Response:
    body = {"rescode": "1" if ok else "0", "msg": msg, "data": data, "interface": interface}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json; charset=utf-8")


def _int(value: str | None, default: int, low: int, high: int) -> int:
    return max(low, min(high, int(value))) if value is not None and value.isdigit() else default


def _batches(engine: Engine, appid: str, txcode: str, limit: int) -> list[dict[str, Any]]:
    query = select(batches.c.appid, batches.c.batch_no, batches.c.org_no, batches.c.txcode, batches.c.bus_type,
                   batches.c["count"], batches.c.merkle_root, batches.c.status, batches.c.receipt, batches.c.created_at)
    if appid:
        query = query.where(batches.c.appid == appid)
    if txcode:
        query = query.where(batches.c.txcode == txcode)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(batches.c.created_at.desc(), batches.c.batch_no.desc()).limit(limit)).mappings().all()
    out = []
    for r in rows:
        receipt = json.loads(r["receipt"]) if r["receipt"] else {}
        out.append({k: r[k] for k in ("appid", "batch_no", "org_no", "txcode", "bus_type", "count", "merkle_root",
                                      "status", "created_at")} | {"tx_id": receipt.get("tx_id", ""),
                                                                 "block": receipt.get("block")})
    return out


def _units(engine: Engine, refusals: RefusalLog, since: int) -> dict[str, Any]:
    """Per (appid, txcode): anchored batches and records, the last batch, batches and records since ``since``;
    and the refusals since then."""
    recent = batches.c.created_at >= since
    query = (select(batches.c.appid, batches.c.org_no, batches.c.txcode, func.count().label("batches"),
                    func.sum(batches.c["count"]).label("records"), func.max(batches.c.created_at).label("last_at"),
                    func.max(batches.c.batch_no).label("last_batch_no"),
                    func.sum(case((recent, 1), else_=0)).label("batches_recent"),
                    func.sum(case((recent, batches.c["count"]), else_=0)).label("records_recent"))
             .where(batches.c.status == "anchored")
             .group_by(batches.c.appid, batches.c.org_no, batches.c.txcode)
             .order_by(batches.c.appid, batches.c.txcode))
    with engine.connect() as conn:
        rows = [{str(k): (int(v or 0) if k in ("batches", "records", "batches_recent", "records_recent") else v)
                 for k, v in r._asdict().items()} for r in conn.execute(query).all()]
    return {"since": since, "units": rows, "refusals_recent": refusals.count_since(since)}


def admin_router(service: Any) -> APIRouter:
    """The routes over ``service`` (an :class:`~qcchain_ingest.service.IngestService`)."""
    keys = AdminKeys(service.engine, service.now)
    refusals = RefusalLog(service.engine, service.now)
    router = APIRouter(prefix=ADMIN_PREFIX)

    async def run(interface: str, request: Request, fn: Callable[..., Any], *args: Any) -> Response:
        try:
            key_id = await run_in_threadpool(keys.authenticate, request.headers.get("authorization"))
            data = await run_in_threadpool(fn, *args)
        except AuthFailed as exc:
            return _answer(interface, False, str(exc), [], 401)
        except CredentialError as exc:
            return _answer(interface, False, str(exc), [], 400)
        except (StateError, SQLAlchemyError):
            return _answer(interface, False, "the ingestion database is unavailable; try again later", [], 503)
        except Exception as exc:  # noqa: BLE001 - a chain read (overdue) failed: one line, no payload
            log.warning("admin %s failed: %s", interface, type(exc).__name__)
            return _answer(interface, False, f"cannot read the chain: {type(exc).__name__}", [], 502)
        if request.method == "POST":
            log.info("admin key %s: %s", key_id, interface)
        return _answer(interface, True, "success", data)

    @router.get("/credentials", summary="every appid with its unit and status (no secrets)")
    async def list_credentials(request: Request) -> Response:
        return await run("credentials", request, service.credentials.list)

    @router.post("/credentials", summary="issue an appid for a using unit: {org_no, name} -> {appid, secret} (shown once)")
    async def issue_credential(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            body = None
        org_no, name = (body.get("org_no"), body.get("name")) if isinstance(body, dict) else (None, None)
        if not isinstance(org_no, str) or not isinstance(name, str):
            org_no, name = "", ""
        return await run("credentials", request, service.credentials.issue, org_no, name)

    @router.post("/credentials/{appid}/revoke", summary="revoke an appid at once (its tokens stop working)")
    async def revoke_credential(appid: str, request: Request) -> Response:
        def revoke() -> dict[str, str]:
            service.credentials.revoke(appid)
            return {"appid": appid, "status": "revoked"}
        return await run("credentials", request, revoke)

    @router.get("/batches", summary="newest anchored/anchoring batches (filters appid, txcode; limit <= 500)")
    async def list_batches(request: Request, appid: str = "", txcode: str = "", limit: str = "50") -> Response:
        appid = appid if _APPID.match(appid) else ""
        txcode = txcode if _TXCODE.match(txcode) else ""
        return await run("batches", request, _batches, service.engine, appid, txcode, _int(limit, 50, 1, 500))

    @router.get("/units", summary="per appid and txcode: batches, records, last batch, the last 24 h; refusals in 24 h")
    async def units(request: Request) -> Response:
        return await run("units", request, _units, service.engine, refusals, int(service.now()) - 86400)

    @router.get("/refusals", summary="newest refused batches with their reasons (no submitted values)")
    async def list_refusals(request: Request, appid: str = "", since: str = "0", limit: str = "100") -> Response:
        return await run("refusals", request, refusals.list, appid if _APPID.match(appid) else "",
                         _int(since, 0, 0, 10**12), _int(limit, 100, 1, 1000))

    @router.get("/overdue", summary="per active appid: each table's last batch on chain against its D-5.4 cycle")
    async def overdue(request: Request, limit: str = "200") -> Response:
        def compute() -> list[dict[str, Any]]:
            chain = IngestClient(service.chain.default)
            now, out = int(service.now()), []
            for unit in [c for c in service.credentials.list() if c["status"] == "active"][:_int(limit, 200, 1, 1000)]:
                summary = chain.summary(unit["appid"])
                out.append({"appid": unit["appid"], "org_no": unit["org_no"], "name": unit["name"],
                            "batches_on_chain": summary.get("batches", 0), "records_on_chain": summary.get("records", 0),
                            "tables": overdue_tables(summary, now)})
            return out
        return await run("overdue", request, compute)

    return router
