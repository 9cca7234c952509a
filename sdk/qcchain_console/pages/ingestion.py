"""Ingestion: what the ingestion service's database holds (tables, rows, the last 24 h, newest rows with
secret-like and personal columns hidden) when ``serve --ingest-db`` is given; otherwise says so."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..web import render
from .common import attempt, console_of


async def ingestion(request: Request) -> Response:
    console = console_of(request)
    if console.ingest is None:
        return render(request, "ingestion.html", configured=False, tables=[], error="", url="")
    tables, error = await attempt(console.ingest.tables, int(time.time()))
    return render(request, "ingestion.html", configured=True, tables=tables or [], error=error,
                  url=console.ingest.url_shown)


def routes() -> list[Route]:
    return [Route("/ingestion", ingestion, methods=["GET"])]
