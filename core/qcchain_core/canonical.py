"""Canonical JSON bytes: sorted keys, UTF-8, no insignificant whitespace (ARCHITECTURE decision 6).

Every digest and signature in qcchain covers exactly these bytes, so the chaincode and the SDK must
produce identical output for identical values. Floats are refused unless finite; integers are kept
exact; strings are emitted as UTF-8 (no ``\\uXXXX`` escapes except for control characters).
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import CanonicalJSONError

__all__ = ["canonical_json", "canonical_loads"]


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CanonicalJSONError(f"{path}: non-finite float {value!r} has no JSON form")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(f"{path}: object key {key!r} is not a string")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise CanonicalJSONError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes.

    Raises:
        CanonicalJSONError: ``value`` holds something JSON cannot represent exactly
            (bytes, sets, non-string keys, NaN/Infinity).
    """
    _check(value, "$")
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def canonical_loads(data: bytes | str) -> Any:
    """Parse JSON bytes (UTF-8) into Python values.

    Raises:
        CanonicalJSONError: the bytes are not valid UTF-8 or not valid JSON (NaN/Infinity refused).
    """
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    except UnicodeDecodeError as exc:
        raise CanonicalJSONError(f"invalid UTF-8 at byte {exc.start}") from exc

    def _no_constants(name: str) -> Any:
        raise CanonicalJSONError(f"{name} is not valid JSON")

    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise CanonicalJSONError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
