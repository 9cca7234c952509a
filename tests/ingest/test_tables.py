"""The shared schemas (qcchain_model.tables): txcodes, structured violations without values."""

from __future__ import annotations

import pytest

from qcchain_model.errors import SchemaViolations
from qcchain_model.tables import CATEGORIES, TX_CODES, category_of_txcode, check_record, violations_of


def test_every_txcode_has_a_schema_with_its_const() -> None:
    assert sorted(TX_CODES) == [f"0{i}" for i in range(1, 10)]
    for code, category in TX_CODES.items():
        assert category in CATEGORIES
        bad = violations_of(category, {"txCode": "00"})
        assert any(v.field == "$.txCode" for v in bad)
        assert category_of_txcode(code) == category
    with pytest.raises(SchemaViolations):
        category_of_txcode("10")


def test_violations_are_structured_and_never_echo_values() -> None:
    secret = "13800000000SECRET"
    found = violations_of("unit", {"linkTel": secret, "extra": 1})
    fields = {v.field for v in found}
    assert "$.linkTel" in fields and "$" in fields
    assert all(secret not in v.reason for v in found)
    with pytest.raises(SchemaViolations) as info:
        check_record("unit", {"linkTel": secret})
    assert secret not in str(info.value) and info.value.violations
    assert violations_of("unit", [1]) == [("$", "must be a JSON object, not list")]
    with pytest.raises(SchemaViolations):
        violations_of("nope", {})
