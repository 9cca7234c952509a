"""Helpers shared by the pages: running blocking chain calls off the event loop, one-line error texts,
flash messages, the org's own view of who it is."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..web import Console

log = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["console_of", "call", "error_text", "flash", "attempt"]


def console_of(request: Request) -> Console:
    return request.app.state.console  # type: ignore[no-any-return]


async def call(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking (gRPC) call in the worker pool."""
    return await run_in_threadpool(fn, *args)


def error_text(exc: BaseException) -> str:
    """One line: the error and the chaincode's own message when the gateway gives per-peer details."""
    details = getattr(exc, "details", None) or []
    parts = [str(exc)] + [str(getattr(d, "message", d)) for d in details]
    return " ".join(" | ".join(dict.fromkeys(parts)).split())[:400]


async def attempt(fn: Callable[..., T], *args: Any) -> tuple[T | None, str]:
    """``(result, "")`` or ``(None, error text)`` — a page shows what failed instead of failing."""
    try:
        return await call(fn, *args), ""
    except Exception as exc:  # noqa: BLE001 - shown on the page, one line
        log.info("chain read failed: %s", type(exc).__name__)
        return None, error_text(exc)


def flash(request: Request, text: str, ok: bool = True) -> None:
    """A one-time message shown on the next page."""
    request.session["flash"] = {"text": text[:500], "ok": ok}
