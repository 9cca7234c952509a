"""Canonical JSON: the bytes every digest and signature covers."""

import math

import pytest

from qcchain_core.canonical import canonical_json, canonical_loads
from qcchain_core.errors import CanonicalJSONError


def test_sorted_keys_no_whitespace_utf8() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "特种设备"]}) == '{"a":[true,null,"特种设备"],"b":1}'.encode()


def test_nested_objects_are_sorted_too() -> None:
    assert canonical_json({"z": {"y": 1, "x": 2}}) == b'{"z":{"x":2,"y":1}}'


def test_round_trip() -> None:
    value = {"id": "R-1", "n": 12345678901234567890, "f": 1.5, "l": [1, "x"]}
    assert canonical_loads(canonical_json(value)) == value


@pytest.mark.parametrize("bad", [math.nan, math.inf, b"bytes", {1: "x"}, {"s": {1, 2}}])
def test_refuses_values_without_exact_json(bad: object) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical_json(bad)


def test_loads_names_the_problem() -> None:
    with pytest.raises(CanonicalJSONError, match="invalid UTF-8"):
        canonical_loads(b"\xff\xfe")
    with pytest.raises(CanonicalJSONError, match="invalid JSON"):
        canonical_loads(b"{")
    with pytest.raises(CanonicalJSONError, match="NaN"):
        canonical_loads(b"NaN")
