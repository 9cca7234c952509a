"""The D-A tables the agent pushes (txCode 01–09), read from the JSON Schemas of :mod:`qcchain_model`.

Each schema file carries its ``txCode`` as a ``const``; the agent uses the schemas to know which fields a
txcode has, what kind each is (C character, N numeric, D date, M media — D-A.1) and to check a mapped
record before it is ever queued (bad rows are quarantined locally instead of being sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from qcchain_model.tables import SCHEMAS, TX_CODES, violations_of

__all__ = ["ENVELOPE", "TxTable", "TABLES", "DEFAULT_CYCLE", "table_of"]

#: D-A.2 fields the agent fills itself; a mapping may set ``updateDate`` from a column, never the others.
ENVELOPE = ("ID", "batchNo", "txCode", "busType", "updateDate")

#: D-5.4 update cycles: daily for risk points, hazard sources, hidden dangers; weekly for the rest.
DEFAULT_CYCLE: Mapping[str, str] = MappingProxyType({
    "01": "weekly", "02": "weekly", "03": "weekly", "04": "weekly", "05": "weekly",
    "06": "daily", "07": "daily", "08": "weekly", "09": "daily",
})

_DATE_PATTERN_HINT = "^\\d{4}-"


@dataclass(frozen=True)
class TxTable:
    """One D-A table: its txcode, category, business fields with their D-A.1 kind, required fields."""

    txcode: str
    name: str
    title: str
    kinds: Mapping[str, str]
    required: frozenset[str]

    def violations(self, record: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Every schema violation of ``record`` as ``(field, reason)`` (:func:`qcchain_model.tables.violations_of`)."""
        return [(v.field.removeprefix("$."), v.reason) for v in violations_of(self.name, dict(record))]


def _kind(prop: Mapping[str, Any]) -> str:
    if str(prop.get("$ref", "")).endswith("/media"):
        return "M"
    if prop.get("format") == "date" or str(prop.get("pattern", "")).startswith(_DATE_PATTERN_HINT):
        return "D"
    enum = prop.get("enum")
    if enum is not None and any(isinstance(v, int) for v in enum):
        return "N"
    if prop.get("type") in ("integer", "number"):
        return "N"
    return "C"


def _load() -> dict[str, TxTable]:
    tables: dict[str, TxTable] = {}
    for txcode, name in sorted(TX_CODES.items()):
        schema = SCHEMAS[name]
        kinds = {field: _kind(prop) for field, prop in schema["properties"].items() if field not in ENVELOPE}
        kinds["updateDate"] = "D"
        tables[txcode] = TxTable(txcode=txcode, name=name, title=str(schema.get("title", "")),
                                 kinds=MappingProxyType(kinds), required=frozenset(schema.get("required", ())))
    return tables


TABLES: Mapping[str, TxTable] = MappingProxyType(_load())


def table_of(txcode: str) -> TxTable:
    """The D-A table of ``txcode``.

    Raises:
        KeyError: ``txcode`` is not one of 01–09.
    """
    return TABLES[txcode]
