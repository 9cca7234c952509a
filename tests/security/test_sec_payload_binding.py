"""Finding 6: a record's payload is bound to its signed envelope — ``ID``, ``busType``, ``regNo`` (the
equipment code) must agree with it, and ``updateDate`` may not lie after the transaction's date (China
Standard Time, as the ingestion contract) — or the write is refused, naming the field, writing nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from govkit import GovKit
from seckit import EQUIPMENT, equipment_record, full_kit

CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture()
def kit() -> GovKit:
    return full_kit()


def _submit(kit: GovKit, built: Any) -> Any:
    return kit.call("records:submit", built.args(), org="Manufacturer", transient=built.transient)


@pytest.mark.parametrize("field, value, contains", [
    ("ID", "EQ-OTHER", "$.ID"),
    ("busType", "U", "$.busType"),
    ("regNo", "99999999", "$.regNo"),
])
def test_a_payload_disagreeing_with_its_envelope_is_refused(kit: GovKit, field: str, value: str, contains: str) -> None:
    built = equipment_record(kit, payload=dict(EQUIPMENT, **{field: value}))
    message = kit.fails("records:submit", built.args(), contains, org="Manufacturer", transient=built.transient)
    assert "envelope" in message and "\n" not in message
    assert kit.call("records:get", ["EQ-1"]).status == 404


def test_update_date_may_not_lie_after_the_transaction_date(kit: GovKit) -> None:
    tomorrow = (dt.datetime.fromtimestamp(kit.now, CST) + dt.timedelta(days=2)).strftime("%Y-%m-%d")
    built = equipment_record(kit, payload=dict(EQUIPMENT, updateDate=tomorrow))
    kit.fails("records:submit", built.args(), "$.updateDate", org="Manufacturer", transient=built.transient)
    today = dt.datetime.fromtimestamp(kit.now + 1, CST).strftime("%Y-%m-%d")
    assert _submit(kit, equipment_record(kit, payload=dict(EQUIPMENT, updateDate=today))).ok


def test_an_update_must_carry_bus_type_u(kit: GovKit) -> None:
    assert _submit(kit, equipment_record(kit)).ok
    stale = dict(EQUIPMENT, model="XL-2")  # still says busType I
    built = equipment_record(kit, payload=stale, bus_type="U", version=2)
    kit.fails("records:submit", built.args(), "$.busType", org="Manufacturer", transient=built.transient)
    assert _submit(kit, equipment_record(kit, payload=dict(stale, busType="U"), bus_type="U", version=2)).ok
