"""Plain-text tables for lists (grants, requests, records, timeline rows): one header, aligned columns,
wide (CJK) characters counted as two cells."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Column", "table"]

Column = tuple[str, Callable[[Any], Any]]  # (header, value of a row)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    return " ".join(str(value).split())


def table(rows: Sequence[Any], columns: Sequence[Column], empty: str = "(none)") -> list[str]:
    """The lines of a table of ``rows``; ``empty`` alone when there is no row."""
    if not rows:
        return [empty]
    cells = [[_cell(get(row)) for _, get in columns] for row in rows]
    headers = [name for name, _ in columns]
    widths = [max(_width(h), *(_width(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)]
