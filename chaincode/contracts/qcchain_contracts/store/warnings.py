"""Early warnings (issue 15, H-4): warning records (``wrn.w`` [warning_id]) and the index of warnings not
yet closed (``wrn.open`` [warning_id], read by the escalation scan in key order).

A warning record is never deleted; its ``history`` lists every step. Only the open-index entry of a
warning is removed when the warning is closed. The closed-loop rules are in
:mod:`qcchain_contracts.warning_rules`.
"""

from __future__ import annotations

from typing import Any, Iterator

from qcchain_core.canonical import canonical_loads

from ..common import get_json, put_json

__all__ = ["warning_of", "put_warning", "mark_open", "mark_closed", "open_ids", "iter_warnings"]


def _key(stub: Any, warning_id: str) -> str:
    return stub.create_composite_key("wrn.w", [warning_id])


def _open_key(stub: Any, warning_id: str) -> str:
    return stub.create_composite_key("wrn.open", [warning_id])


def warning_of(stub: Any, warning_id: str) -> dict[str, Any] | None:
    """The stored warning or None."""
    return get_json(stub, _key(stub, warning_id))


def put_warning(stub: Any, warning: dict[str, Any]) -> None:
    """Write a warning under its ``warning_id``."""
    put_json(stub, _key(stub, warning["warning_id"]), warning)


def mark_open(stub: Any, warning_id: str) -> None:
    """Add a warning to the open index."""
    put_json(stub, _open_key(stub, warning_id), {"warning_id": warning_id})


def mark_closed(stub: Any, warning_id: str) -> None:
    """Remove a closed warning from the open index (the warning record itself stays)."""
    stub.del_state(_open_key(stub, warning_id))


def open_ids(stub: Any, limit: int) -> list[str]:
    """Ids of warnings not closed yet, in key order, at most ``limit``."""
    out: list[str] = []
    with stub.get_state_by_partial_composite_key("wrn.open", []) as results:
        for kv in results:
            out.append(canonical_loads(kv.value)["warning_id"])
            if len(out) >= limit:
                break
    return out


def iter_warnings(stub: Any) -> Iterator[dict[str, Any]]:
    """Every warning record in warning-id order."""
    with stub.get_state_by_partial_composite_key("wrn.w", []) as results:
        for kv in results:
            yield canonical_loads(kv.value)
