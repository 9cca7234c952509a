"""Finding 10: an oversized payload is refused at the edge, in one line, before anything is sent to the
chaincode (which accepts at most 64 KiB in clear) — no Gateway call at all."""

from __future__ import annotations

import pytest
from qcchain_core.gm import SM2PrivateKey
from qcchain_sdk.actions import submit_record


class CountingContract:
    """A contract double that records every call (there must be none)."""

    channel = "qcchannel"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def evaluate_transaction(self, fn: str, *args: object) -> bytes:
        self.calls.append(fn)
        raise AssertionError(f"{fn} was called")

    def submit_transaction(self, fn: str, *args: object, **kw: object) -> bytes:
        self.calls.append(fn)
        raise AssertionError(f"{fn} was called")


@pytest.mark.parametrize("grade, size", [("L1", 70 * 1024), ("L2", 60 * 1024 * 1024), ("L3", 2 * 1024 * 1024)])
def test_an_oversized_payload_is_refused_before_anything_is_sent(grade: str, size: int) -> None:
    contract = CountingContract()
    with pytest.raises(ValueError) as info:
        submit_record(contract, SM2PrivateKey.generate(), payload={"ID": "EQ-1", "blob": "x" * size}, original=None,
                      record_id="EQ-1", category="equipment", equipment_code="32010001", stage="production", grade=grade)
    assert contract.calls == [] and "nothing was sent" in str(info.value) and "\n" not in str(info.value)
