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


# ---------------------------------------------------------------- fast path == jsonschema (differential)

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from qcchain_bench.ingestdata import record  # noqa: E402
from qcchain_model import tables  # noqa: E402

_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 2 ** 40), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=70), st.sampled_from(["2024-02-30", "2024-02-29", "2023-02-29", "２０２４-01-01",
                                                           "2024-1-01", "I", "U", "D", "09", "", "x" * 1001]),
                    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(txcode=st.sampled_from(sorted(TX_CODES)), n=st.integers(0, 10 ** 6),
       edits=st.dictionaries(st.sampled_from(["ID", "batchNo", "txCode", "busType", "updateDate", "comName", "orgNo",
                                              "linkTel", "idCardNo", "authDate", "fileAppendix", "trainFile", "riskNo",
                                              "inherentriskLevel", "riskFile", "checkDate", "troubleType", "size",
                                              "isSecDept", "extra"]), _VALUES, max_size=3),
       drop=st.sets(st.sampled_from(["ID", "updateDate", "orgNo", "taskNo", "fileName", "riskName"]), max_size=1))
def test_fast_validator_agrees_with_jsonschema(txcode: str, n: int, edits: dict, drop: set) -> None:
    """The compiled fast path never accepts what jsonschema rejects (and vice versa)."""
    category = TX_CODES[txcode]
    doc = record(txcode, f"id-{n}", "2024070800000001", "I", "2024-07-08", n)
    doc.update(edits)
    for key in drop:
        doc.pop(key, None)
    media = next((k for k, v in doc.items() if isinstance(v, dict)), None)
    if media and "size" in edits:  # also perturb inside the M-field object
        doc[media] = dict(doc[media], size=edits["size"])
    slow = sorted(tables._VALIDATORS[category].iter_errors(doc), key=str)
    assert bool(violations_of(category, doc)) == bool(slow)
    try:
        tables._FAST[category](doc)
        fast_ok = True
    except Exception:  # noqa: BLE001 - fastjsonschema's JsonSchemaException
        fast_ok = False
    assert fast_ok == (not slow)
