"""The wire formats defined once in :mod:`qcchain_model.messages` and used by both chaincode and SDK."""

from __future__ import annotations

import pytest

from qcchain_core.errors import CanonicalJSONError
from qcchain_core.gm import sm3
from qcchain_model.messages import proposal_id, registration_message


def test_registration_message_bytes_are_fixed() -> None:
    message = registration_message("OrgMSP", "ab" * 32, "cd" * 32, ["sign", "govern"], 10, 20)
    assert message == (b'{"cert_sha256":"' + b"cd" * 32 + b'","key_id":"' + b"ab" * 32 + b'","msp_id":"OrgMSP",'
                       b'"not_after":20,"not_before":10,"purpose":"qcchain-key-registration","usages":["sign","govern"]}')


def test_proposal_id_is_sm3_of_the_canonical_body() -> None:
    body = {"operation": "freeze", "target": {"contract": "records", "chaincode": "qcchain", "channel": "c"},
            "version": "", "package_digest": "", "reason": "r", "nonce": "n" * 8, "expiry": 5}
    reordered = dict(reversed(list(body.items())))
    assert proposal_id(body) == proposal_id(reordered) == sm3(
        b'{"expiry":5,"nonce":"nnnnnnnn","operation":"freeze","package_digest":"","reason":"r",'
        b'"target":{"chaincode":"qcchain","channel":"c","contract":"records"},"version":""}').hex()
    assert proposal_id(dict(body, reason="s")) != proposal_id(body)


def test_bad_input_is_refused() -> None:
    with pytest.raises(CanonicalJSONError):
        proposal_id({"expiry": {1, 2}})
    with pytest.raises(ValueError):
        registration_message("OrgMSP", "k", "c", ["sign"], float("nan"), 1)  # type: ignore[arg-type]


def test_chaincode_and_sdk_use_the_same_definitions() -> None:
    from qcchain_contracts import keyregistry, proposals
    from qcchain_sdk.contracts import governance

    assert keyregistry.registration_message is registration_message is governance.registration_message
    body = {"operation": "thaw", "nonce": "x" * 8}
    assert proposals.proposal_id_of(body) == proposal_id(body)
