"""Risk map (H-4): risk points and hazard sources in four colours by residual risk level — major red,
larger orange, general yellow, low blue — grouped by city / area / unit as an inline SVG, filterable;
hidden dangers with their rectification state, overdue ones highlighted."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..web import render
from .common import attempt, console_of
from .riskdata import COLOURS, load_risk

CELL, GAP, PER_ROW, WIDTH = 26, 6, 12, 1000


def layout(points: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """SVG geometry: one band per (city, area, unit), a square per point ordered red → blue; total height."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for point in points:
        groups.setdefault((point["city"], point["area"], point["unit"]), []).append(point)
    shapes, y = [], 10
    for (city, area, unit), items in sorted(groups.items()):
        shapes.append({"kind": "label", "x": 10, "y": y + 14, "text": f"{city or '-'} / {area or '-'} / {unit}"})
        y += 22
        items.sort(key=lambda p: (COLOURS.index(p["colour"]), p["id"]))
        for i, point in enumerate(items):
            row, col = divmod(i, PER_ROW)
            shapes.append({"kind": "cell", "x": 20 + col * (CELL + GAP), "y": y + row * (CELL + GAP), "p": point})
        y += ((len(items) - 1) // PER_ROW + 1) * (CELL + GAP) + 12
    return shapes, max(y, 40)


async def riskmap(request: Request) -> Response:
    console = console_of(request)
    filters = {k: str(request.query_params.get(k, "")).strip()[:100] for k in ("city", "area", "unit")}
    data, error = await attempt(load_risk, console.chain, filters)
    data = data or {"points": [], "dangers": [], "cities": [], "areas": [], "units": []}
    shapes, height = layout(data["points"])
    counts = {c: sum(1 for p in data["points"] if p["colour"] == c) for c in COLOURS}
    return render(request, "riskmap.html", data=data, filters=filters, error=error, shapes=shapes, height=height,
                  width=WIDTH, cell=CELL, counts=counts, colours=COLOURS)


def routes() -> list[Route]:
    return [Route("/riskmap", riskmap, methods=["GET"])]
