"""Typed client of the ``records`` contract, and the pure builders it uses.

:func:`build_record` turns a payload into what ``records:submit`` expects — the canonical envelope, the
submitter's SM2 signature over it, the payload argument and (L3) the transient map with the SM4-GCM
ciphertext under a fresh data key and that key SM2-wrapped for each entitled org. :func:`verify_view`
re-verifies what a read returned (signature, payload digest, L3 ciphertext digest). Nothing here logs
payloads or keys.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_core.errors import CryptoError
from qcchain_core.gm import SM2PrivateKey, SM2PublicKey, sm3
from qcchain_model.envelope import ENVELOPE_FIELDS, TRANSIENT_CIPHERTEXT, TRANSIENT_WRAPPED_KEYS
from qcchain_model.grades import PLACEMENT_OFF_CHAIN, PLACEMENT_PRIVATE_ENCRYPTED, PLACEMENT_WORLD_STATE

from .sealed import MAX_SEALED_PAYLOAD, check_payload, open_payload, seal_payload

log = logging.getLogger(__name__)

__all__ = ["BuiltRecord", "build_record", "verify_view", "decrypt_view", "RecordsClient", "l3_recipients",
           "grade_placement", "sealing_plan", "DEFAULT_CHANNEL", "SHIPPED_PLACEMENTS"]

#: The consortium-wide channel (``network/consortium.yaml``); per-org channels must pass ``channel=``.
DEFAULT_CHANNEL = "qcchannel"
#: Placement of each grade in the shipped grading policy (``policies/grading.yaml``); :func:`build_record`'s
#: default. A client of a chain whose policy differs passes ``placement=`` (:func:`sealing_plan` reads it).
SHIPPED_PLACEMENTS = {"L1": PLACEMENT_WORLD_STATE, "L2": PLACEMENT_PRIVATE_ENCRYPTED,
                      "L3": PLACEMENT_PRIVATE_ENCRYPTED, "L4": PLACEMENT_OFF_CHAIN}


@dataclass
class BuiltRecord:
    """Arguments of one ``records:submit`` call."""

    envelope: dict[str, Any]
    signature: str
    payload: dict[str, Any]
    transient: dict[str, bytes] = field(default_factory=dict)
    data_key: bytes | None = None  # L3 only; the caller keeps it to wrap for grantees later

    def args(self) -> list[str]:
        """String arguments in ``records:submit`` order."""
        return [json.dumps(self.envelope), self.signature, json.dumps(self.payload)]


def build_record(
    *, record_id: str, category: str, equipment_code: str, stage: str, owner_msp: str, grade: str,
    signing_key: SM2PrivateKey, payload: dict[str, Any] | None = None, original: bytes | None = None,
    bus_type: str = "I", version: int = 1, exec_type: str = "publish", receiver_role: str = "",
    recipients: dict[str, SM2PublicKey] | None = None, channel: str = DEFAULT_CHANNEL, placement: str | None = None,
) -> BuiltRecord:
    """Build and sign a record write.

    ``placement`` (default: the grade's placement in the shipped policy, :data:`SHIPPED_PLACEMENTS`; the
    chain's own is :func:`grade_placement`) decides what is sent: ``world_state`` (L1) sends ``payload`` in
    clear (the chaincode validates it); ``private_encrypted`` (L2, L3) validates ``payload`` against the
    category's schema and the envelope (the chaincode cannot read it), encrypts it with a salted commitment
    as its digest (:mod:`.sealed`) and wraps the data key for every ``recipients`` org (MSP id -> its
    registered encryption key); ``off_chain`` (L4) sends only the SM3 digest of ``original`` (the bytes
    kept off chain). ``channel`` is signed into the envelope so the signature cannot
    be replayed on another channel (the chaincode checks it equals its channel).

    Raises:
        ValueError: missing payload/original/recipients for the placement; a sealed payload too large,
            violating its category's schema (``SchemaViolations``) or disagreeing with the envelope.
    """
    transient: dict[str, bytes] = {}
    data_key = None
    cipher_digest = ""
    where = placement or SHIPPED_PLACEMENTS.get(grade, PLACEMENT_WORLD_STATE)
    sealed = where == PLACEMENT_PRIVATE_ENCRYPTED and bus_type != "D"
    if where == PLACEMENT_OFF_CHAIN:
        if original is None:
            raise ValueError("an L4 record needs the original bytes (kept off chain)")
        digest, sent = sm3(original).hex(), {}
    else:
        if payload is None:
            raise ValueError(f"an {grade} record needs a payload")
        digest, sent = sm3(canonical_json(payload)).hex(), payload
    if sealed:
        if not recipients:
            raise ValueError(f"an encrypted ({grade}) record needs recipients (MSP id -> SM2 encryption key)")
        body = check_payload(category, payload, {"record_id": record_id, "bus_type": bus_type,  # type: ignore[arg-type]
                                                  "equipment_code": equipment_code}, MAX_SEALED_PAYLOAD)
        data_key = os.urandom(16)
        ciphertext, digest = seal_payload(record_id, body, data_key)
        wrapped = {msp: {"key_id": pub.key_id(), "wrapped": pub.encrypt(data_key).hex()} for msp, pub in recipients.items()}
        transient = {TRANSIENT_CIPHERTEXT: ciphertext, TRANSIENT_WRAPPED_KEYS: canonical_json(wrapped)}
        cipher_digest, sent = sm3(ciphertext).hex(), {}
    envelope = {
        "record_id": record_id, "category": category, "equipment_code": equipment_code, "stage": stage,
        "owner_msp": owner_msp, "bus_type": bus_type, "version": version, "grade": grade, "digest": digest,
        "exec_type": exec_type, "receiver_role": receiver_role, "key_id": signing_key.public_key().key_id(),
        "ciphertext_digest": cipher_digest, "channel": channel,
    }
    signature = signing_key.sign(canonical_json(envelope)).hex()
    return BuiltRecord(envelope, signature, sent if bus_type != "D" else {}, transient, data_key)


def envelope_of(view: dict[str, Any]) -> dict[str, Any]:
    """The signed envelope fields of a stored record view."""
    return {name: view[name] for name in ENVELOPE_FIELDS}


def verify_view(view: dict[str, Any], public_key: SM2PublicKey) -> list[str]:
    """Re-verify a record read from the chain; returns the problems found (empty list = all good)."""
    problems = []
    try:
        public_key.verify(bytes.fromhex(view["signature"]), canonical_json(envelope_of(view)))
    except (CryptoError, ValueError):
        problems.append(f"{view['record_id']} v{view['version']}: SM2 signature does not verify")
    if "payload" in view and sm3(canonical_json(view["payload"])).hex() != view["digest"]:
        problems.append(f"{view['record_id']} v{view['version']}: payload does not match its SM3 digest")
    if view.get("ciphertext") and sm3(bytes.fromhex(view["ciphertext"])).hex() != view["ciphertext_digest"]:
        problems.append(f"{view['record_id']} v{view['version']}: ciphertext does not match its SM3 digest")
    return problems


def decrypt_view(view: dict[str, Any], wrapped_hex: str, private_key: SM2PrivateKey) -> dict[str, Any]:
    """Unwrap the data key and decrypt an L3 view; checks the plaintext against the signed digest.

    Raises:
        qcchain_core.errors.DecryptionError: wrong key or tampered ciphertext.
        ValueError: the plaintext does not match the record's SM3 digest.
    """
    return decrypt_with_data_key(view, private_key.decrypt(bytes.fromhex(wrapped_hex)))


def decrypt_with_data_key(view: dict[str, Any], data_key: bytes) -> dict[str, Any]:
    """Decrypt an L3 view with its (unwrapped) SM4 data key; checks the plaintext against the signed digest.

    Raises:
        qcchain_core.errors.DecryptionError: wrong key or tampered ciphertext.
        ValueError: the plaintext does not open the record's digest (salted commitment, or plain SM3 of a
            record sealed before salting).
    """
    return open_payload(view, data_key)


class RecordsClient:
    """``records:*`` over a Gateway ``Contract`` (``network.get_contract("qcchain", "records")``)."""

    def __init__(self, contract: Any) -> None:
        self.contract = contract

    def submit(self, built: BuiltRecord) -> dict[str, Any]:
        """Submit a built record; returns the stored metadata. Raises the SDK's per-stage errors."""
        raw = self.contract.submit_transaction("submit", *built.args(), transient=built.transient or None)
        return json.loads(raw)

    def get(self, record_id: str) -> dict[str, Any]:
        """The record as this identity is entitled to see it."""
        return json.loads(self.contract.evaluate_transaction("get", record_id))

    def query(self, index: str, value: str, page_size: int = 20, bookmark: str = "") -> dict[str, Any]:
        """One page of records by ``equipment`` / ``category`` / ``stage``."""
        return json.loads(self.contract.evaluate_transaction("query", index, value, str(page_size), bookmark))

    def verify_original(self, record_id: str, original: bytes) -> dict[str, Any]:
        """Ask the chain whether ``original`` matches the record's digest."""
        return json.loads(self.contract.evaluate_transaction("verify_original", record_id, original))


def grade_placement(contract: Any, grade: str) -> str:
    """Where the chain's grading policy places ``grade`` (``world_state``, ``private_encrypted``, ``off_chain``).

    Raises:
        LookupError: the policy has no such grade.
        qcchain_gateway.errors.EvaluateError: the read failed.
    """
    policy = json.loads(contract.evaluate_transaction("governance:policy", "grading"))["document"]
    spec = policy["grades"].get(grade)
    if spec is None:
        raise LookupError(f"the grading policy has no grade {grade!r}")
    return str(spec["placement"])


def sealing_plan(contract: Any, grade: str, owner_msp: str) -> tuple[str, dict[str, SM2PublicKey] | None]:
    """(placement, recipients) of a new ``grade`` record of ``owner_msp`` as the chain's policy has it:
    the recipients' encryption keys (:func:`l3_recipients`) when the placement is ``private_encrypted``,
    else None. ``contract`` is the chaincode's default contract.

    Raises:
        LookupError: unknown grade, or an entitled org has no active encryption key.
        qcchain_gateway.errors.EvaluateError: a read failed.
    """
    placement = grade_placement(contract, grade)
    if placement != PLACEMENT_PRIVATE_ENCRYPTED:
        return placement, None
    return placement, l3_recipients(contract, grade, owner_msp)


def l3_recipients(contract: Any, grade: str, owner_msp: str) -> dict[str, SM2PublicKey]:
    """The orgs an L3 record's data key must be wrapped for, each with its current SM2 encryption key
    (mirrors the chaincode: the owner plus every active member whose role is an audience of ``grade``).

    ``contract`` is the chaincode's default contract (calls ``governance:*`` and ``keys:*``).

    Raises:
        LookupError: an entitled org has no active encryption key.
        qcchain_gateway.errors.EvaluateError: a read failed.
    """
    policy = json.loads(contract.evaluate_transaction("governance:policy", "grading"))["document"]
    roles = {a.split(":", 1)[1] for a in policy["grades"][grade]["audiences"] if a.startswith("role:")}
    members = json.loads(contract.evaluate_transaction("governance:members"))
    msps = sorted({m["msp_id"] for m in members if m["status"] == "active" and m["role"] in roles} | {owner_msp})
    out = {}
    for msp in msps:
        keys = [k for k in json.loads(contract.evaluate_transaction("keys:list_org", msp))
                if k["state"] == "active" and "encrypt" in k["usages"]]
        if not keys:
            raise LookupError(f"{msp} has no active SM2 encryption key to wrap the data key for")
        best = max(keys, key=lambda k: (k["not_before"], k["registered_at"], k["key_id"]))
        out[msp] = SM2PublicKey.from_pem(best["public_key_pem"].encode("ascii"))
    return out
