"""Risk data for the four-colour map (H-4): risk points and hazard sources by residual risk level, the
using units' city/area from their unit records, hidden dangers with their rectification state."""

from __future__ import annotations

import datetime
from typing import Any

from ..recordview import payload_for

__all__ = ["COLOURS", "LEVEL_COLOUR", "load_risk", "all_of"]

COLOURS = ("red", "orange", "yellow", "blue")
LEVEL_COLOUR = {"重大风险": "red", "较大风险": "orange", "一般风险": "yellow", "低风险": "blue"}
MAX_RECORDS = 5000


def all_of(chain: Any, category: str, limit: int = MAX_RECORDS) -> list[dict[str, Any]]:
    """Every record of ``category`` (up to ``limit``), following the chain's bookmarks."""
    records, out, bookmark = chain.records(), [], ""
    while len(out) < limit:
        page = records.query("category", category, 100, bookmark)
        out += page["records"]
        bookmark = page.get("bookmark") or ""
        if not bookmark or not page["records"]:
            break
    return out[:limit]


def _units(chain: Any) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The latest unit record (name, city, area) per equipment code it was filed under, and per owner org."""
    by_equipment: dict[str, dict[str, Any]] = {}
    by_owner: dict[str, dict[str, Any]] = {}
    for view in all_of(chain, "unit"):
        payload, _ = payload_for(chain, view)
        if payload is None or view.get("deleted"):
            continue
        unit = {"at": view["at"], "name": str(payload.get("comName", "")), "city": str(payload.get("cityCode", "")),
                "area": str(payload.get("aeraCode", ""))}
        for index, key in ((by_equipment, view.get("equipment_code", "")), (by_owner, view["owner_msp"])):
            if key not in index or unit["at"] >= index[key]["at"]:
                index[key] = unit
    return by_equipment, by_owner


def _unit_of(view: dict[str, Any], units: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Where the record's equipment is (its unit record), else the submitting org's unit, else the org."""
    by_equipment, by_owner = units
    unit = by_equipment.get(view.get("equipment_code", "")) or by_owner.get(view["owner_msp"]) or {}
    return {"name": unit.get("name") or view["owner_msp"], "city": unit.get("city", ""), "area": unit.get("area", "")}


def _point(view: dict[str, Any], payload: dict[str, Any], unit: dict[str, Any]) -> dict[str, Any] | None:
    level = payload.get("remainriskLevel")
    if level not in LEVEL_COLOUR:
        return None
    hazard = view["category"] == "hazard_source"
    return {"id": view["record_id"], "kind": view["category"], "level": level, "colour": LEVEL_COLOUR[level],
            "name": str(payload.get("checkItem") if hazard else payload.get("riskName", "")),
            "unit": unit["name"], "by": view["owner_msp"], "city": unit["city"], "area": unit["area"],
            "equipment": view.get("equipment_code", "")}


def _danger(view: dict[str, Any], payload: dict[str, Any] | None, unit: dict[str, Any], today: str) -> dict[str, Any]:
    state = str((payload or {}).get("dealInfo") or "")
    limit = str((payload or {}).get("limitDate") or "")
    is_open = payload is not None and state != "已整改"
    return {"id": view["record_id"], "unit": unit["name"], "by": view["owner_msp"], "city": unit["city"],
            "area": unit["area"], "level": (payload or {}).get("troubleLevel", ""),
            "state": state or ("未整改" if payload is not None else ""), "limit": limit, "visible": payload is not None,
            "open": is_open, "overdue": is_open and bool(limit) and limit < today}


def _keep(item: dict[str, Any], filters: dict[str, str]) -> bool:
    return all(not filters.get(k) or item[k] == filters[k] for k in ("city", "area", "unit"))


def load_risk(chain: Any, filters: dict[str, str]) -> dict[str, Any]:
    """Points, dangers and the filter choices. Raises the gateway's EvaluateError when a read fails."""
    units = _units(chain)
    today = datetime.date.today().isoformat()
    points, dangers = [], []
    for category in ("risk_point", "hazard_source"):
        for view in all_of(chain, category):
            payload, _ = payload_for(chain, view)
            if payload is None or view.get("deleted") or payload.get("busType") == "D":
                continue
            point = _point(view, payload, _unit_of(view, units))
            if point is not None:
                points.append(point)
    for view in all_of(chain, "hidden_danger"):
        if not view.get("deleted"):
            payload, _ = payload_for(chain, view)
            dangers.append(_danger(view, payload, _unit_of(view, units), today))
    everything = points + dangers
    return {"points": [p for p in points if _keep(p, filters)], "dangers": [d for d in dangers if _keep(d, filters)],
            "cities": sorted({i["city"] for i in everything if i["city"]}),
            "areas": sorted({i["area"] for i in everything if i["area"]}),
            "units": sorted({i["unit"] for i in everything})}
