"""Source row → D-A record: the D-5.2.1 transforms (trim, code tables, defaults, type and date conversion, media).

Order per field: take the column (or constant), trim strings, empty → missing, code-table lookup, missing →
the documented ``default`` (or the field stays absent and the schema check reports it), then convert to
the field's D-A.1 kind: C text, N number, D ``YYYY-MM-DD``, M a media reference ``{name, media_type, sm3,
size}`` for a file under ``source.media_root``. A row that cannot be converted raises :class:`RowError`
naming the field, never the value.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from qcchain_core.gm import SM3Hasher

from .errors import RowError
from .mapping import FieldSpec, TxMapping

__all__ = ["Transformer", "record_id"]

_MAX_ID = 64
_DATE_CACHE = 65_536  # distinct date texts remembered per Transformer


def _text(value: Any) -> str:
    if type(value) is str:  # the common case first (a re-scan renders every column of every row)
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise ValueError("binary column")
    return str(value)


def record_id(txmap: TxMapping, row: Mapping[str, Any]) -> str:
    """The record ID (D-A.2, C64) of ``row``: ``id_prefix`` + the ID columns joined with ``-``.

    Raises:
        RowError: an ID column is empty or the ID is longer than 64 characters.
    """
    parts = []
    for column in txmap.id_columns:
        value = row.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise RowError("ID", f"source key column {column} is empty")
        try:
            parts.append(_text(value).strip())
        except ValueError as exc:
            raise RowError("ID", f"source key column {column}: {exc}") from None
    ident = txmap.id_prefix + "-".join(parts)
    if len(ident) > _MAX_ID:
        raise RowError("ID", f"record ID longer than {_MAX_ID} characters")
    return ident


class Transformer:
    """Turns the rows of one txcode into records (``ID``, ``txCode`` and the mapped business fields)."""

    def __init__(self, txmap: TxMapping, media_root: Path | None = None) -> None:
        self.txmap = txmap
        self.media_root = media_root.resolve() if media_root is not None else None
        self._media_cache: dict[tuple[str, int, int], dict[str, Any]] = {}
        self._date_cache: dict[tuple[tuple[str, ...], str], str] = {}  # dates repeat: strptime once per text

    def record(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The record of ``row`` (not yet checked against the D-A schema).

        Raises:
            RowError: the ID or a field cannot be produced (unknown code, unreadable date, missing media file...).
        """
        record: dict[str, Any] = {"ID": record_id(self.txmap, row), "txCode": self.txmap.txcode}
        for spec in self.txmap.fields:
            value = self._field(spec, row)
            if value is not None:
                record[spec.name] = value
        return record

    def _field(self, spec: FieldSpec, row: Mapping[str, Any]) -> Any:
        value = row.get(spec.column) if spec.column is not None else spec.value
        if isinstance(value, str):
            if spec.trim:
                value = value.strip()
            if value == "":
                value = None
        if value is not None and spec.codes is not None:
            key = _text(value)
            if key not in spec.codes:
                raise RowError(spec.name, "source code not in the code table")
            value = spec.codes[key]
        if value is None:
            value = spec.default
            if value is None:
                return None
        try:
            if spec.kind == "D":
                return self._cached_date(spec, value)
            if spec.kind == "N":
                return _number(value)
            if spec.kind == "M":
                return self._media(spec, value)
            text = _text(value)
            return text.upper() if spec.upper else text
        except ValueError as exc:
            raise RowError(spec.name, str(exc)) from None

    def _cached_date(self, spec: FieldSpec, value: Any) -> str:
        if not isinstance(value, str):
            return self._date(spec, value)
        key = (spec.date_formats, value)
        iso = self._date_cache.get(key)
        if iso is None:
            iso = self._date(spec, value)  # a ValueError is not cached: the row is quarantined each time
            if len(self._date_cache) >= _DATE_CACHE:
                self._date_cache.clear()
            self._date_cache[key] = iso
        return iso

    @staticmethod
    def _date(spec: FieldSpec, value: Any) -> str:
        if isinstance(value, dt.datetime):
            return value.date().isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        text = _text(value)
        for fmt in spec.date_formats:
            try:
                return dt.datetime.strptime(text, fmt).date().isoformat()
            except ValueError:
                continue
        raise ValueError("date in none of the formats " + ", ".join(spec.date_formats))

    def _media(self, spec: FieldSpec, value: Any) -> dict[str, Any]:
        if self.media_root is None:
            raise ValueError("no source.media_root for a media field")
        path = (self.media_root / _text(value)).resolve()
        if not path.is_relative_to(self.media_root):
            raise ValueError("media path leaves source.media_root")
        try:
            stat = path.stat()
        except OSError:
            raise ValueError("media file not found under source.media_root") from None
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        cached = self._media_cache.get(key)
        if cached is None:
            hasher = SM3Hasher()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    hasher.update(block)
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            cached = {"name": path.name, "media_type": media_type, "sm3": hasher.digest().hex(), "size": stat.st_size}
            self._media_cache[key] = cached
        return dict(cached)


def _number(value: Any) -> int | str:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (Decimal, float)):
        if value == int(value):
            return int(value)
        raise ValueError("not a whole number")
    text = _text(value)
    if text.lstrip("-").isdigit():
        return int(text)
    return text  # coded N fields written as text (e.g. acceptInfo); the schema decides
