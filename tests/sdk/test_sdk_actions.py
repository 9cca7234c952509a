"""Business steps of qcchain_sdk.actions, over contract doubles (the devnet runs them in tests/cli and the demo)."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest

from qcchain_gateway.errors import EvaluateError, stage_error_type
from qcchain_sdk.actions import NamedContract, check_package, verify_read, whoami
from qcchain_sdk.errors import PackageMismatch


class Recorder:
    channel = "qcchannel"

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers, self.calls = answers, []

    def evaluate_transaction(self, name: str, *args: str | bytes) -> bytes:
        self.calls.append((name, args))
        answer = self.answers[name]
        if isinstance(answer, Exception):
            raise answer
        return json.dumps(answer).encode()

    def submit_transaction(self, name: str, *args: str | bytes, **options: Any) -> bytes:
        self.calls.append((name, args, options))
        return b"{}"


def _chaincode_error(status: int) -> EvaluateError:
    text = f"evaluate call to endorser returned error: chaincode response {status}, no"
    return stage_error_type(EvaluateError, text, [])(text, grpc.StatusCode.UNKNOWN)


def test_named_contract_prefixes_calls_and_keeps_the_channel() -> None:
    base = Recorder({"records:get": {"ok": 1}})
    named = NamedContract(base, "records")
    assert json.loads(named.evaluate_transaction("get", "r1")) == {"ok": 1} and named.channel == "qcchannel"
    named.submit_transaction("submit", "x", transient={"k": b"v"})
    assert base.calls == [("records:get", ("r1",)), ("records:submit", ("x",), {"transient": {"k": b"v"}})]


def test_whoami_and_verify_read_take_only_a_404_as_unregistered() -> None:
    assert whoami(Recorder({"governance:whoami": {"msp_id": "ManufacturerMSP"}})) == "ManufacturerMSP"
    view = {"record_id": "EQ-1", "version": 1, "key_id": "ab" * 32, "owner_msp": "ManufacturerMSP"}
    assert verify_read(Recorder({"keys:get": _chaincode_error(404)}), view) == [
        f"SM2 key {'ab' * 8}... is not registered on chain"]
    with pytest.raises(EvaluateError, match="chaincode response 403"):
        verify_read(Recorder({"keys:get": _chaincode_error(403)}), view)


def test_check_package_names_the_file_on_a_digest_mismatch() -> None:
    check_package("aa" * 32, "aa" * 32, "cc.tar.gz")
    with pytest.raises(PackageMismatch, match=r"cc.tar.gz is not the package of this proposal") as info:
        check_package("aa" * 32, "bb" * 32, "cc.tar.gz")
    assert isinstance(info.value, ValueError)
