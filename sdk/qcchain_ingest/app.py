"""The ASGI application (FastAPI): Appendix B's two endpoints plus batch status, proofs, M-field files, health
and OpenAPI; the ingesting org's admin API (:mod:`.adminapi`, under ``/jsdspcloud/admin``).

Every answer is ``{"rescode": "1"|"0", "msg": ..., "data": ..., "interface": ...}`` (D-B.3.4; ``interface``
makes it self-describing, D-5.2.2.2). Failures name the problem in one sentence and list violations as
``{index, field, reason}`` without echoing values; authentication failures give no hint which part was
wrong. Bodies: ``application/json``, UTF-8, at most 16 MiB by default. A refused batch of an authenticated
appid is logged (:class:`.refusals.RefusalLog`: appid, batchNo, txcode, time, message, violations).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from .adminapi import admin_router
from .errors import AuthFailed, ChainError, RateLimited, Refused, StateError
from .refusals import RefusalLog, batch_fields
from .service import IngestService

log = logging.getLogger(__name__)

__all__ = ["create_app", "PREFIX", "MAX_BODY"]

PREFIX = "/jsdspcloud/servlet"
MAX_BODY = 16 * 1024 * 1024


def answer(interface: str, ok: bool, msg: str, data: Any = "", status: int = 200) -> Response:
    body = {"rescode": "1" if ok else "0", "msg": msg, "data": data, "interface": interface}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json; charset=utf-8")


def _failure(interface: str, exc: Exception) -> Response:
    if isinstance(exc, RateLimited):
        return answer(interface, False, "too many attempts for this appid; try again later", [], 429)
    if isinstance(exc, AuthFailed):
        return answer(interface, False, str(exc), [], 401)
    if isinstance(exc, Refused):
        return answer(interface, False, str(exc), exc.violations, 400)
    if isinstance(exc, ChainError):
        return answer(interface, False, f"the batch was not acknowledged: {exc}; resend it later", [], 503)
    if isinstance(exc, StateError):
        return answer(interface, False, "the ingestion database is unavailable; resend later", [], 503)
    raise exc


async def _raw_body(request: Request, limit: int) -> bytes:
    """The request's bytes. Raises Refused: larger than ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(f"the body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request, limit: int) -> Any:
    """The request's JSON value. Raises Refused: wrong content type, too large, not UTF-8, not JSON."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise Refused("the body must be application/json (UTF-8)", [{"index": None, "field": "Content-Type",
                                                                   "reason": "must be application/json"}])
    raw = await _raw_body(request, limit)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("the body is not valid UTF-8") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Refused("the body is not well-formed JSON") from None


def _log_refusal(service: IngestService, refusals: RefusalLog, body: Any, exc: Refused) -> None:
    """Log a refused batch when its access token verifies (anonymous refusals are not logged); a failure
    to log never changes the answer."""
    try:
        credential = service.tokens.verify(body.get("access_token") if isinstance(body, dict) else None)
    except (AuthFailed, StateError):
        return
    batch_no, txcode = batch_fields(body)
    try:
        refusals.record(credential["appid"], batch_no, txcode, str(exc), exc.violations)
    except StateError as error:
        log.warning("%s", error)


def create_app(service: IngestService, max_body: int = MAX_BODY) -> FastAPI:
    """The application over ``service``."""
    app = FastAPI(title="qcchain ingestion (DB32/T 4743 Appendix B)", version="1.0", redirect_slashes=False,
                  description="appid/secret -> access_token -> syndata; each batch anchored on chain with an SM3 "
                              "Merkle root and answered with an SM2-signed receipt.")
    refusals = RefusalLog(service.engine, service.now)
    app.include_router(admin_router(service))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:  # unknown path, wrong method...
        reason = "no such interface" if exc.status_code == 404 else str(exc.detail)
        return answer(request.url.path.rsplit("/", 1)[-1][:40], False, f"{reason} (see /openapi.json)", [], exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, exc: RequestValidationError) -> Response:
        listed = [{"index": None, "field": "$." + ".".join(str(p) for p in e.get("loc", ())[1:]), "reason": e.get("msg", "invalid")}
                  for e in exc.errors()][:20]
        return answer(request.url.path.rsplit("/", 1)[-1][:40], False, "the request's parameters are invalid", listed, 400)

    @app.get(PREFIX + "/token", summary="B.2 access token")
    async def token(appid: str = "", secret: str = "") -> Response:
        try:
            data = await run_in_threadpool(service.token, appid, secret)
        except (AuthFailed, StateError) as exc:
            return _failure("token", exc)
        return answer("token", True, "success", data)

    @app.post(PREFIX + "/syndata", summary="B.3 push one batch of records")
    async def syndata(request: Request) -> Response:
        body: Any = None
        try:
            body = await _json_body(request, max_body)
            data = await run_in_threadpool(service.syndata, body)
        except Refused as exc:
            if body is not None:
                await run_in_threadpool(_log_refusal, service, refusals, body, exc)
            return _failure("syndata", exc)
        except (AuthFailed, ChainError, StateError) as exc:
            return _failure("syndata", exc)
        return answer("syndata", True, "success", data)

    @app.get(PREFIX + "/batch/{batch_no}", summary="acknowledgement: status and receipt of one batch")
    async def batch_status(batch_no: str, access_token: str = "") -> Response:
        try:
            data = await run_in_threadpool(service.status, access_token, batch_no)
        except (AuthFailed, StateError) as exc:
            return _failure("batch", exc)
        return answer("batch", True, "success", data)

    @app.get(PREFIX + "/proof/{record_id}", summary="Merkle inclusion proof of one of the caller's records")
    async def proof(record_id: str, access_token: str = "") -> Response:
        try:
            credential = await run_in_threadpool(service.tokens.verify, access_token)
            data = await run_in_threadpool(service.proof, record_id, credential["appid"])
        except (AuthFailed, StateError) as exc:
            return _failure("proof", exc)
        except LookupError as exc:
            return answer("proof", False, str(exc), [], 404)
        return answer("proof", True, "success", data)

    @app.post(PREFIX + "/media", summary="upload one file of an M field; answers {name, media_type, sm3, size}")
    async def media_upload(request: Request, access_token: str = "", name: str = "") -> Response:
        try:
            data = await _raw_body(request, max_body)
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            ref = await run_in_threadpool(service.upload, access_token, name, ctype, data)
        except (AuthFailed, Refused, StateError) as exc:
            return _failure("media", exc)
        return answer("media", True, "success", ref)

    @app.get(PREFIX + "/media/{sm3}", summary="a file, to the holder of an on-chain grant (ingest:media_access) and its nonce")
    async def media_fetch(sm3: str, record: str = "", grant: str = "", nonce: str = "") -> Response:
        try:
            data = await run_in_threadpool(service.fetch, sm3, record, grant, nonce)
        except (AuthFailed, ChainError, StateError) as exc:
            return _failure("media", exc)
        except LookupError:
            return answer("media", False, "no such file", [], 404)
        return Response(data, media_type="application/octet-stream", headers={"ETag": f'"{sm3}"'})

    @app.get(PREFIX + "/health", summary="liveness")
    async def health() -> Response:
        return answer("health", True, "success", {"status": "serving", "channel": service.chain.channel})

    return app
