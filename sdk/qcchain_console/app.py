"""The console's ASGI application: :func:`build_app` wires sessions, authentication, CSRF, templates and
the pages (each page module contributes its routes)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .errors import AuthError
from .i18n import pick_lang
from .pages import audit, contracts, ingestion, overview, propose, records, riskmap, sharing
from .security import AuthMiddleware, HeadersMiddleware, csrf_token, post_action
from .web import Console, render

log = logging.getLogger(__name__)

__all__ = ["build_app"]

SESSION_SECONDS = 8 * 3600


async def login_page(request: Request) -> Response:
    return render(request, "login.html")


@post_action(roles=None)
async def login_submit(request: Request, form: FormData) -> Response:
    console: Console = request.app.state.console
    try:
        user = await run_in_threadpool(console.store.authenticate, str(form.get("username", "")),
                                       str(form.get("password", "")))
    except AuthError as exc:
        log.info("failed login")
        return render(request, "login.html", status=401, error=str(exc))
    request.session.clear()  # new session: no fixation
    request.session.update(user=user.username)
    csrf_token(request)
    log.info("staff %s logged in", user.username)
    return RedirectResponse("/", status_code=303)


@post_action(roles=None)
async def logout(request: Request, form: FormData) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def set_lang(request: Request) -> Response:
    lang = pick_lang(request.query_params.get("to"))
    back = request.headers.get("referer") or "/"
    target = back if back.startswith(str(request.base_url)) else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie("lang", lang, max_age=365 * 86400, secure=True, httponly=True, samesite="strict")
    return response


def build_app(console: Console, session_secret: str, https: bool = True) -> Starlette:
    """The ASGI app. ``session_secret`` signs the session cookie (Secure, HttpOnly, SameSite=Strict)."""
    routes: list[Any] = [
        Route("/login", login_page, methods=["GET"]), Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]), Route("/lang", set_lang, methods=["GET"]),
        Mount("/static", app=StaticFiles(packages=[("qcchain_console", "static")]), name="static"),
    ]
    for module in (overview, contracts, propose, records, sharing, riskmap, ingestion, audit):
        routes += module.routes()
    middleware = [
        Middleware(HeadersMiddleware),
        Middleware(SessionMiddleware, secret_key=session_secret, session_cookie="qcconsole", max_age=SESSION_SECONDS,
                   same_site="strict", https_only=https),
        Middleware(AuthMiddleware),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.console = console
    return app
