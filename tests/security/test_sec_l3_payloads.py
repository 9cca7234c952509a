"""Findings 4 and 5: an L3 record's signed digest is a salted commitment that only the audience can open,
and an L3 payload is validated before it is encrypted — and re-validated by the auditor after decryption.

Finding 4: the digest every channel member sees was SM3(canonical payload), so a low-entropy payload could
be confirmed by hashing guesses. Finding 5: the chaincode cannot read the ciphertext, so a schema-violating
payload committed and was later served as verified.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3, sm4_gcm_encrypt
from qcchain_model.errors import SchemaViolations
from qcchain_sdk.contracts import records as records_module
from qcchain_sdk.contracts.audit import AuditClient, audit_channel
from qcchain_sdk.contracts.records import build_record, decrypt_view

from govkit import CHANNEL, GovKit
from test_audit import KitEvaluator, kit  # noqa: F401  (the audit kit: EQ-1, HD-1 (L3), IR-1)
from test_records import DANGER


def _l3(k: GovKit, record_id: str, payload: dict[str, Any], **kw: Any) -> Any:
    use = k.orgs["UsingUnit"]
    return build_record(record_id=record_id, category="hidden_danger", equipment_code="32010001", stage="use",
                        owner_msp=use.msp, grade="L3", signing_key=use.key, payload=payload,
                        recipients={o.msp: o.key.public_key() for o in (use, k.orgs["Regulator"])}, **kw)


def _regulator_reads(k: GovKit, record_id: str) -> dict[str, Any]:
    view = json.loads(KitEvaluator(k, "Regulator").evaluate_transaction("records:get", record_id))
    return decrypt_view(view, view["wrapped_key"]["wrapped"], k.orgs["Regulator"].key)


def test_the_l3_digest_is_a_salted_commitment_not_the_hash_of_the_payload(kit: GovKit) -> None:  # noqa: F811
    low_entropy = dict(DANGER, ID="HD-2", troubleLevel="一般事故隐患")
    first, second = _l3(kit, "HD-2", low_entropy), _l3(kit, "HD-2", low_entropy)
    guessed = sm3(canonical_json(low_entropy)).hex()  # what any channel member can compute from a guess
    assert first.envelope["digest"] != guessed and second.envelope["digest"] != guessed
    assert first.envelope["digest"] != second.envelope["digest"]  # a fresh salt per write
    kit.ok("records:submit", first.args(), org="UsingUnit", transient=first.transient)
    stored = kit.ok("records:get", ["HD-2"], org="Manufacturer")  # a channel member outside the audience
    assert stored["digest"] == first.envelope["digest"] != guessed and "payload" not in stored
    assert _regulator_reads(kit, "HD-2") == low_entropy  # the audience opens the commitment


def test_an_l3_record_sealed_before_salting_still_opens(kit: GovKit) -> None:  # noqa: F811
    legacy = dict(DANGER, ID="HD-3")
    built = _l3(kit, "HD-3", legacy)
    nonce = os.urandom(12)
    ciphertext = nonce + sm4_gcm_encrypt(built.data_key, nonce, canonical_json(legacy), b"HD-3")
    view = {"record_id": "HD-3", "ciphertext": ciphertext.hex(), "digest": sm3(canonical_json(legacy)).hex()}
    assert records_module.decrypt_with_data_key(view, built.data_key) == legacy
    with pytest.raises(ValueError, match="does not match"):
        records_module.decrypt_with_data_key(dict(view, digest="00" * 32), built.data_key)


def test_a_salted_plaintext_cannot_open_another_digest(kit: GovKit) -> None:  # noqa: F811
    built = _l3(kit, "HD-4", dict(DANGER, ID="HD-4"))
    blob = built.transient["ciphertext"]
    view = {"record_id": "HD-4", "ciphertext": blob.hex(), "digest": sm3(canonical_json(dict(DANGER, ID="HD-4"))).hex()}
    with pytest.raises(ValueError, match="does not match"):  # the unsalted hash is not accepted for a salted record
        records_module.decrypt_with_data_key(view, built.data_key)


@pytest.mark.parametrize("change, contains", [
    ({"troubleLevel": 7}, "$.troubleLevel"),
    ({"limitDate": "not a date"}, "$.limitDate"),
])
def test_an_invalid_l3_payload_is_refused_before_encryption(kit: GovKit, change: dict[str, Any], contains: str) -> None:  # noqa: F811
    with pytest.raises(SchemaViolations) as info:
        _l3(kit, "HD-5", dict(DANGER, ID="HD-5", **change))
    assert contains in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("field, value, contains", [("ID", "HD-OTHER", "$.ID"), ("regNo", "99999999", "$.regNo"),
                                                    ("busType", "U", "$.busType")])
def test_an_l3_payload_disagreeing_with_its_envelope_is_refused(kit: GovKit, field: str, value: str, contains: str) -> None:  # noqa: F811
    with pytest.raises(ValueError, match="envelope") as info:
        _l3(kit, "HD-5", {**DANGER, "ID": "HD-5", field: value})
    assert contains in str(info.value)


def test_the_auditor_flags_an_l3_payload_violating_its_schema(kit: GovKit, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    # A client that skips validation (an old SDK, a hand-made transaction) gets an invalid payload committed:
    monkeypatch.setattr(records_module, "check_payload", lambda category, payload, bound, limit: canonical_json(payload))
    bad = _l3(kit, "HD-6", dict(DANGER, ID="HD-6", troubleLevel=7, regNo="99999999"))
    kit.ok("records:submit", bad.args(), org="UsingUnit", transient=bad.transient)
    monkeypatch.undo()
    report = audit_channel(AuditClient(KitEvaluator(kit, "Regulator"), CHANNEL), decrypt_key=kit.orgs["Regulator"].key)
    flagged = [p for p in report.problems if p.startswith("HD-6 v1: decrypted payload violates")]
    assert len(flagged) == 1 and "$.troubleLevel" in flagged[0] and "\n" not in flagged[0]
    assert len(report.problems) == 1, report.problems  # HD-1 (valid) is not flagged
    assert "99999999" not in flagged[0]  # values are never echoed, only paths
