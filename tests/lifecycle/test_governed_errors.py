"""The governed-lifecycle precheck treats only a chaincode 404 as "does not exist"; every other read
failure (a 500 whose text happens to say "missing"/"does not exist", access denied, a transport error)
propagates instead of being mistaken for absence."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from qcchain_gateway.errors import ErrorDetail, EvaluateError, stage_error_type
from qcchain_sdk.proposals.governed import _signer_orgs, fetch_unit

TARGET = {"channel": "qcchannel", "chaincode": "qcchain", "contract": "records"}


def failure(status: int, message: str) -> EvaluateError:
    text = f"evaluate call to endorser returned error: chaincode response {status}, {message}"
    details = [ErrorDetail("peer0:7051", "RegulatorMSP", text)]
    # the type the Gateway client picks for this answer (EvaluateNotFoundError for a 404)
    return stage_error_type(EvaluateError, "evaluate failed", details)("evaluate failed", grpc.StatusCode.UNKNOWN, details)


class Raising:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def evaluate_transaction(self, name: str, *args: Any) -> bytes:
        raise self.exc

    def submit_transaction(self, name: str, *args: Any) -> bytes:
        raise AssertionError("nothing may be written")


class Proposal:
    signatures = [{"key_id": "ab" * 32, "signature": "00"}]


def test_a_404_means_not_governed_and_unregistered() -> None:
    assert fetch_unit(Raising(failure(404, "qcchannel/qcchain/records is not governed yet")), TARGET) is None
    signers, ignored = _signer_orgs(Proposal(), Raising(failure(404, "SM2 key 'ab' is not registered")), 0)  # type: ignore[arg-type]
    assert signers == {} and ignored == [f"key {'ab' * 8}… is not registered on chain"]


@pytest.mark.parametrize("exc", [
    failure(500, "state for records does not exist: missing 404 entries"),
    failure(403, "access denied"),
    RuntimeError("connection refused (404)"),
])
def test_any_other_failure_propagates(exc: Exception) -> None:
    with pytest.raises(type(exc)):
        fetch_unit(Raising(exc), TARGET)
    with pytest.raises(type(exc)):
        _signer_orgs(Proposal(), Raising(exc), 0)  # type: ignore[arg-type]
