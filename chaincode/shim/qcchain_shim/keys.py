"""Ledger key rules, as in fabric-chaincode-go ``shim/stub.go``.

* simple keys: an empty key is refused for reads and writes; range-query bounds must not start with
  U+0000 (the composite-key namespace); an open-ended range start becomes ``"\\x01"`` so simple
  range scans never return composite keys.
* composite keys: ``"\\x00" + objectType + "\\x00" + attr1 + "\\x00" + ... `` where neither the object
  type nor any attribute may contain U+0000 or U+10FFFF.
"""

from __future__ import annotations

from .errors import InvalidKeyError

COMPOSITE_KEY_NAMESPACE = "\x00"
EMPTY_KEY_SUBSTITUTE = "\x01"
MIN_UNICODE_RUNE = "\x00"
MAX_UNICODE_RUNE = "\U0010ffff"

__all__ = [
    "COMPOSITE_KEY_NAMESPACE",
    "EMPTY_KEY_SUBSTITUTE",
    "MAX_UNICODE_RUNE",
    "check_key",
    "create_composite_key",
    "partial_composite_range",
    "split_composite_key",
    "validate_simple_keys",
]


def _check_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidKeyError(f"{what} must be a str, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidKeyError(f"{what} is not valid UTF-8 (lone surrogate at position {exc.start})") from exc
    return value


def check_key(key: object) -> str:
    """Check a key used for get/put/delete (simple or composite).

    Raises:
        InvalidKeyError: ``key`` is not a str, is empty, or is not encodable as UTF-8.
    """
    if type(key) is str and key and key.isascii():  # the common case, checked without encoding the key
        return key
    key = _check_str(key, "key")
    if key == "":
        raise InvalidKeyError("key must not be an empty string")
    return key


def validate_simple_keys(*keys: str) -> None:
    """Refuse simple keys that start with U+0000 (Go's ``validateSimpleKeys``).

    Raises:
        InvalidKeyError: a key is not a str or starts with the composite-key namespace.
    """
    for key in keys:
        _check_str(key, "key")
        if key.startswith(COMPOSITE_KEY_NAMESPACE):
            raise InvalidKeyError(
                "first character of the key contains a null character (U+0000), "
                "which is reserved for composite keys"
            )


def _validate_attribute(value: object, what: str) -> str:
    value = _check_str(value, what)
    if MIN_UNICODE_RUNE not in value and MAX_UNICODE_RUNE not in value:  # the usual case: two C scans
        return value
    for index, char in enumerate(value):
        if char in (MIN_UNICODE_RUNE, MAX_UNICODE_RUNE):
            raise InvalidKeyError(
                f"{what} contains U+{ord(char):04X} at position {index}; U+0000 and U+10FFFF are not "
                "allowed in the object type or attributes of a composite key"
            )
    return value


def create_composite_key(object_type: str, attributes: list[str] | tuple[str, ...]) -> str:
    """Build a composite key ``\\x00type\\x00a1\\x00a2\\x00`` (Go's ``CreateCompositeKey``).

    Raises:
        InvalidKeyError: the object type or an attribute is not a str or contains U+0000/U+10FFFF.
    """
    parts = [COMPOSITE_KEY_NAMESPACE, _validate_attribute(object_type, "object type"), MIN_UNICODE_RUNE]
    if isinstance(attributes, str):
        raise InvalidKeyError("attributes must be a list of str, not a str")
    for index, attribute in enumerate(attributes):
        parts.append(_validate_attribute(attribute, f"attribute {index}"))
        parts.append(MIN_UNICODE_RUNE)
    return "".join(parts)


def split_composite_key(key: str) -> tuple[str, list[str]]:
    """Split a composite key into ``(object_type, attributes)`` (Go's ``splitCompositeKey``).

    Raises:
        InvalidKeyError: ``key`` is not a composite key (does not start with U+0000 or is unterminated).
    """
    key = _check_str(key, "composite key")
    if not key.startswith(COMPOSITE_KEY_NAMESPACE) or not key.endswith(MIN_UNICODE_RUNE) or len(key) < 2:
        raise InvalidKeyError("not a composite key (must start and end with U+0000)")
    components = key[1:-1].split(MIN_UNICODE_RUNE)
    return components[0], components[1:]


def partial_composite_range(object_type: str, attributes: list[str] | tuple[str, ...]) -> tuple[str, str]:
    """Start and end keys of a partial composite-key query.

    Raises:
        InvalidKeyError: as :func:`create_composite_key`.
    """
    start = create_composite_key(object_type, attributes)
    return start, start + MAX_UNICODE_RUNE
