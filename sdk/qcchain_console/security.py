"""Sessions, authentication, CSRF and roles.

* Every path but ``/login`` and ``/static/...`` needs a logged-in, enabled staff account; anything else
  is answered by a redirect to ``/login`` (pages and ``/api/...`` alike).
* Every POST handler is wrapped by :func:`post_action`: the form's ``csrf`` field (or the
  ``X-CSRF-Token`` header) must equal the session's token, and the account's role must be allowed;
  otherwise 403 and nothing is done.
* Responses carry a strict Content-Security-Policy (only the app's own scripts, styles and images).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .store import Staff

log = logging.getLogger(__name__)

__all__ = ["AuthMiddleware", "HeadersMiddleware", "csrf_token", "post_action", "current_user", "PUBLIC_PREFIXES"]

PUBLIC_PREFIXES = ("/login", "/static/")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def current_user(request: Request) -> Staff:
    """The logged-in staff account (set by :class:`AuthMiddleware`)."""
    return request.state.user  # type: ignore[no-any-return]


class AuthMiddleware:
    """Redirect every non-public request without a valid session to ``/login``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        path = request.url.path
        if not path.startswith(PUBLIC_PREFIXES):
            store = request.app.state.console.store
            name = request.session.get("user")
            user = store.get(name) if isinstance(name, str) else None
            if user is None or user.disabled:
                request.session.pop("user", None)
                await RedirectResponse("/login", status_code=303)(scope, receive, send)
                return
            request.state.user = user
        await self.app(scope, receive, send)


class HeadersMiddleware:
    """Security headers on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                for name, value in (("content-security-policy", CSP), ("x-content-type-options", "nosniff"),
                                    ("referrer-policy", "no-referrer"), ("x-frame-options", "DENY"),
                                    ("strict-transport-security", "max-age=31536000")):
                    headers.append((name.encode(), value.encode()))
                if not scope.get("path", "").startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped if scope["type"] == "http" else send)


Handler = Callable[[Request, FormData], Awaitable[Response]]


def post_action(roles: tuple[str, ...] | None = None) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a POST handler: CSRF check, then role check (``None`` = any logged-in account)."""

    def decorate(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            form = await request.form(max_part_size=4 * 1024 * 1024)
            sent = str(form.get("csrf") or request.headers.get("x-csrf-token") or "")
            expected = str(request.session.get("csrf") or "")
            if not expected or not hmac.compare_digest(sent, expected):
                log.warning("refused a POST to %s without a valid CSRF token", request.url.path)
                return PlainTextResponse("CSRF token missing or wrong; reload the page", status_code=403)
            user: Any = getattr(request.state, "user", None)
            if roles is not None and (user is None or user.role not in roles):
                log.warning("refused %s to %s (role %s)", request.url.path, getattr(user, "username", "-"),
                            getattr(user, "role", "-"))
                return PlainTextResponse("your role may not do this", status_code=403)
            return await handler(request, form)

        return endpoint

    return decorate
