"""Conversion of transaction argument bytes to typed parameters, and their JSON schemas."""

from __future__ import annotations

import functools
import re
import types
import typing
from typing import Any

from qcchain_core.canonical import canonical_loads
from qcchain_core.errors import CanonicalJSONError

from .errors import InvalidArgumentError

_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
#: Deepest JSON nesting an argument may have (deeper input would exhaust the recursion of the decoder
#: and of every contract walking it).
MAX_JSON_DEPTH = 64
_JSON_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: one C loop per string, not per character
_JSON_BRACKETS = re.compile(r"[\[\]{}]")


def _json_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting of ``text`` (brackets inside strings do not count); linear, no recursion.
    The strings are cut out first in C, so the Python loop runs over the brackets only."""
    depth = deepest = 0
    for token in _JSON_BRACKETS.findall(_JSON_STRINGS.sub("", text)):
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _base(annotation: Any) -> tuple[Any, bool]:
    """Strip ``X | None`` / ``Optional[X]``; return (type, optional)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0], True
    return annotation, False


@functools.lru_cache(maxsize=512)
def _kind_cached(annotation: Any) -> tuple[Any, Any]:
    kind, _ = _base(annotation)
    return kind, typing.get_origin(kind) or kind


def _kind(annotation: Any) -> tuple[Any, Any]:
    """(type, origin) of an annotation, ``X | None`` stripped; cached (it runs for every argument)."""
    try:
        return _kind_cached(annotation)
    except TypeError:  # an unhashable annotation: not cached
        return _kind_cached.__wrapped__(annotation)


def _text(name: str, value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(f"parameter '{name}': invalid UTF-8 at byte {exc.start}") from exc


def convert_arg(name: str, annotation: Any, value: bytes) -> Any:
    """Convert one argument by its annotation: str, int, float, bool, dict/list (JSON), bytes.

    Raises:
        InvalidArgumentError: the bytes do not hold a value of that type (names the parameter).
    """
    if annotation is str:  # the common case first
        return _text(name, value)
    kind, origin = _kind(annotation)
    if kind is bytes:
        return value
    text = _text(name, value)
    if kind is str or kind is Any:
        return text
    if kind is bool:
        if text in ("true", "false"):
            return text == "true"
        raise InvalidArgumentError(f"parameter '{name}': expected true or false")
    if kind is int:
        if _INT.fullmatch(text):
            return int(text)
        raise InvalidArgumentError(f"parameter '{name}': expected an integer")
    if kind is float:
        if _FLOAT.fullmatch(text):
            return float(text)
        raise InvalidArgumentError(f"parameter '{name}': expected a number")
    if origin in (dict, list):
        if _json_depth(text) > MAX_JSON_DEPTH:
            raise InvalidArgumentError(f"parameter '{name}': JSON nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            parsed = canonical_loads(text)
        except RecursionError as exc:
            raise InvalidArgumentError(f"parameter '{name}': JSON nested too deeply") from exc
        except CanonicalJSONError as exc:
            raise InvalidArgumentError(f"parameter '{name}': {exc}") from exc
        if not isinstance(parsed, origin):
            raise InvalidArgumentError(f"parameter '{name}': expected a JSON {'object' if origin is dict else 'array'}")
        return parsed
    raise InvalidArgumentError(f"parameter '{name}': unsupported parameter type {kind!r}")


def schema_for(annotation: Any) -> dict[str, Any]:
    """JSON schema of a parameter or return annotation (for GetMetadata)."""
    kind, _ = _base(annotation)
    origin = typing.get_origin(kind) or kind
    table: dict[Any, dict[str, Any]] = {
        str: {"type": "string"},
        int: {"type": "integer"},
        float: {"type": "number"},
        bool: {"type": "boolean"},
        bytes: {"type": "string", "format": "byte"},
        dict: {"type": "object"},
        list: {"type": "array"},
    }
    return dict(table.get(origin, {}))
