"""The records write path: checks and placement of one QC record version, reusable by any front.

``records:submit`` is :func:`place_record` behind the records contract's serving check; a batch front
(several records in one transaction) calls :func:`require_submitter` once and :func:`place_record` per
record, passing each L3 record's :class:`SealedPayload` explicitly (the transient map holds one).

Order of checks in :func:`place_record` (each refusal raises before anything is written by it):
envelope shape -> channel -> payload is an object -> submitter is an active member -> owner is the
submitter -> history (insert/update/delete, version, owner, immutable fields) -> grade floor
(:func:`check_grade`) -> SM2 signature and its replay guard -> placement by the grade's policy placement
(payload schema/size, binding to the envelope — ``ID``, ``busType``, ``regNo``, ``updateDate`` not after
the transaction date (:func:`check_binding`) — and digest for ``world_state``; ciphertext and wrapped keys for ``private_encrypted``)
-> writes: metadata, signature guard, indexes, timeline event.

Rules layer: reads and writes through :mod:`.store`; applies :mod:`.grading_rules` and
:mod:`.signatures`. A record written earlier in the *same* transaction is not visible to these reads
(Fabric reads committed state): a batch front must refuse repeated record ids and signatures itself.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_model.envelope import (BUS_DELETE, BUS_INSERT, BUS_TYPES, ENVELOPE_FIELDS, STAGES, TRANSIENT_CIPHERTEXT,
                                    TRANSIENT_WRAPPED_KEYS)
from qcchain_model.grades import PLACEMENT_PRIVATE_ENCRYPTED, PLACEMENT_WORLD_STATE, ROLE_AUDIENCE_PREFIX

from .common import caller_msp, record_event, require_hex64, require_int, require_str, sm3_hex, tx_time
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .grading_rules import decide_grade, grade_rank, placement_of, strictest_grade
from .schemas import validate_payload
from .signatures import org_encryption_key, verify_sm2
from .store.members import list_members, role_of
from .store.policies import get_policy
from .store.records import (RECORD_ID, delete_sealed, get_record_meta, put_record, put_sealed, signature_key,
                            signature_used, spend_signature, write_indexes)

log = logging.getLogger(__name__)

__all__ = [
    "MAX_PAYLOAD",
    "MAX_CIPHERTEXT",
    "Submitter",
    "SealedPayload",
    "validate_envelope",
    "check_channel",
    "require_submitter",
    "check_history",
    "check_grade",
    "check_signature",
    "check_binding",
    "sealed_from_transient",
    "l3_entitled",
    "sealed_value",
    "place_payload",
    "place_record",
]

MAX_PAYLOAD = 64 * 1024
MAX_CIPHERTEXT = 1024 * 1024
_ID = RECORD_ID
_MIN_CIPHERTEXT = 28  # 12-byte nonce + 16-byte tag
_CST = dt.timezone(dt.timedelta(hours=8))  # D-A dates are China Standard Time (as the ingestion contract)
#: Payload field -> envelope field it must equal (when the payload carries it).
BOUND_FIELDS = {"ID": "record_id", "busType": "bus_type", "regNo": "equipment_code"}


@dataclass(frozen=True)
class Submitter:
    """The org submitting records in this transaction and its active member role."""

    msp: str
    role: str


@dataclass(frozen=True)
class SealedPayload:
    """An L3 payload as the client sends it: ``nonce || SM4-GCM ciphertext || tag`` and the JSON bytes of
    ``{msp_id: {"key_id", "wrapped": hex}}`` (the data key SM2-wrapped per entitled org). Not yet checked."""

    ciphertext: bytes = b""
    wrapped_keys: bytes = b""


def validate_envelope(env: Any) -> dict[str, Any]:
    """Shape checks of an envelope (pure). Returns it.

    Raises:
        InvalidInput: naming the field.
    """
    if not isinstance(env, dict) or sorted(env) != sorted(ENVELOPE_FIELDS):
        raise InvalidInput(f"an envelope must have exactly the fields {', '.join(ENVELOPE_FIELDS)}")
    require_str(env["record_id"], "record_id", 64, _ID)
    require_str(env["category"], "category", 64)
    require_str(env["equipment_code"], "equipment_code", 64, _ID)
    if env["stage"] not in STAGES:
        raise InvalidInput(f"stage is not one of {', '.join(STAGES)}")
    if env["bus_type"] not in BUS_TYPES:
        raise InvalidInput("bus_type is not I, U or D")
    require_int(env["version"], "version", 1)
    require_hex64(env["digest"], "digest")
    require_str(env["key_id"], "key_id", 128)
    if not isinstance(env["receiver_role"], str) or not isinstance(env["ciphertext_digest"], str):
        raise InvalidInput("receiver_role and ciphertext_digest must be strings ('' when unused)")
    require_str(env["channel"], "channel", 249)
    return env


def check_channel(ctx: Any, env: dict[str, Any]) -> None:
    """The signed envelope names this channel (a signature cannot be replayed on another channel).

    Raises:
        InvalidInput: the envelope's channel is not the transaction's channel.
    """
    if env["channel"] != ctx.stub.get_channel_id():
        raise InvalidInput("envelope field channel does not name the channel of this transaction")


def require_submitter(ctx: Any) -> Submitter:
    """The calling org, which must be an active member.

    Raises:
        Forbidden: the caller has no MSP id or is not an active consortium member.
    """
    msp = caller_msp(ctx)
    role = role_of(ctx.stub, msp)
    if role is None:
        raise Forbidden(f"{msp} is not an active consortium member")
    return Submitter(msp, role)


def check_history(env: dict[str, Any], prev: dict[str, Any] | None, msp: str) -> None:
    """The write fits the record's history: insert of a new id at version 1; update/delete of a live record
    by its owner, at the next version, keeping category and equipment code. Pure.

    Raises:
        Conflict: insert of an existing id, wrong version. NotFound: update/delete of a missing or deleted
        record. Forbidden: not the owner. InvalidInput: insert not at version 1, immutable field changed.
    """
    rid = env["record_id"]
    if env["bus_type"] == BUS_INSERT:
        if prev is not None:
            raise Conflict(f"record {rid} already exists (version {prev['version']}); use bus_type U")
        if env["version"] != 1:
            raise InvalidInput("an insert (bus_type I) has version 1")
        return
    if prev is None or prev["deleted"]:
        raise NotFound(f"record {rid} does not exist or was deleted")
    if prev["owner_msp"] != msp:
        raise Forbidden(f"record {rid} belongs to {prev['owner_msp']}; {msp} may not change it")
    for field in ("category", "equipment_code"):
        if env[field] != prev[field]:
            raise InvalidInput(f"{field} of record {rid} cannot change ({prev[field]!r})")
    if env["version"] != prev["version"] + 1:
        raise Conflict(f"record {rid} is at version {prev['version']}; this write must be version {prev['version'] + 1}")


def check_grade(ctx: Any, env: dict[str, Any], role: str, prev: dict[str, Any] | None) -> dict[str, Any]:
    """The declared route is valid and the envelope's grade is at least the floor (the strictest over every
    route, and the previous version's grade). Returns the grading policy.

    Raises:
        NotFound: no grading policy. InvalidInput: unknown category/route, grade below the floor.
        Forbidden: ``role`` may not submit the category.
    """
    policy = get_policy(ctx.stub, "grading")
    decide_grade(policy, env["category"], role, env["receiver_role"] or None, env["exec_type"])  # route is valid
    decision = strictest_grade(policy, env["category"], role)  # the floor does not depend on the route
    floor = decision.grade
    if prev is not None and grade_rank(prev["grade"]) > grade_rank(floor):
        floor = prev["grade"]
    if grade_rank(env["grade"]) < grade_rank(floor):
        raise InvalidInput(f"grade {env['grade']} is below the required grade {floor} for {env['category']} "
                           f"({decision.reason}); a submitter cannot lower it")
    return policy


def check_signature(ctx: Any, env: dict[str, Any], signature: str, msp: str) -> str:
    """Verify the submitter's SM2 ``sign`` signature over the canonical envelope, once only. Returns the key
    of its replay guard (to be spent by the caller once the record is written).

    Raises:
        InvalidInput: not hex. Conflict: the signature was used before. NotFound: unknown key.
        InvalidSignatureError: inactive key, key of another org or without ``sign``, bad signature.
    """
    try:
        sig = bytes.fromhex(signature)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("signature must be hex (DER SM2 signature)") from exc
    sig_key = signature_key(ctx.stub, sig)
    if signature_used(ctx.stub, sig_key):
        raise Conflict("this SM2 signature was already used for another write (replay)")
    verify_sm2(ctx, env["key_id"], canonical_json(env), sig, msp, usage="sign")
    return sig_key


def check_binding(env: dict[str, Any], payload: dict[str, Any], now: int) -> None:
    """The payload agrees with its signed envelope: ``ID`` = record id, ``busType`` = bus type, ``regNo`` =
    equipment code (each when present), and ``updateDate`` is not after the transaction's date (CST). Pure.

    Raises:
        InvalidInput: naming every disagreeing field (values are not echoed).
    """
    problems = [f"$.{field} does not agree with the envelope's {env_field}"
                for field, env_field in BOUND_FIELDS.items() if field in payload and payload[field] != env[env_field]]
    date, today = payload.get("updateDate"), dt.datetime.fromtimestamp(now, _CST).strftime("%Y-%m-%d")
    if isinstance(date, str) and date > today:
        problems.append(f"$.updateDate lies after the transaction date {today}")
    if problems:
        raise InvalidInput("payload is not bound to its envelope: " + "; ".join(problems))


def sealed_from_transient(ctx: Any) -> SealedPayload:
    """The L3 payload of ``records:submit``: transient ``ciphertext`` and ``wrapped_keys`` (empty if absent)."""
    transient = ctx.stub.get_transient()
    return SealedPayload(transient.get(TRANSIENT_CIPHERTEXT, b""), transient.get(TRANSIENT_WRAPPED_KEYS, b""))


def l3_entitled(ctx: Any, policy: dict[str, Any], grade: str, owner: str) -> list[str]:
    """The orgs a data key of ``grade`` must be wrapped for: the owner and every active member of a role
    in the grade's audiences, sorted."""
    audiences = policy["grades"][grade]["audiences"]
    roles = {a.split(":", 1)[1] for a in audiences if a.startswith(ROLE_AUDIENCE_PREFIX)}
    msps = {m["msp_id"] for m in list_members(ctx.stub) if m["status"] == "active" and m["role"] in roles}
    return sorted(msps | {owner})


def sealed_value(ctx: Any, env: dict[str, Any], policy: dict[str, Any], sealed: SealedPayload) -> bytes:
    """Check an L3 payload against its envelope and the key registry; returns the private-data value.

    Raises:
        InvalidInput: ciphertext or wrapped keys missing, ciphertext size out of range or not matching
            ``ciphertext_digest``, wrapped keys not JSON, an entitled org's key missing or not wrapped to
            its current encryption key.
        NotFound: an entitled org has no active encryption key.
    """
    ciphertext, raw_keys = sealed.ciphertext, sealed.wrapped_keys
    if not ciphertext or not raw_keys:
        raise InvalidInput(f"an {env['grade']} record is stored encrypted: it needs transient 'ciphertext' and 'wrapped_keys'")
    if len(ciphertext) > MAX_CIPHERTEXT or len(ciphertext) < _MIN_CIPHERTEXT:
        raise InvalidInput(f"ciphertext must be 28..{MAX_CIPHERTEXT} bytes (nonce || data || tag)")
    if sm3_hex(ciphertext) != env["ciphertext_digest"]:
        raise InvalidInput("SM3 of the transient ciphertext does not match ciphertext_digest")
    try:
        wrapped = json.loads(raw_keys)
    except ValueError as exc:
        raise InvalidInput("transient wrapped_keys is not JSON") from exc
    for msp in l3_entitled(ctx, policy, env["grade"], env["owner_msp"]):
        entry = wrapped.get(msp) if isinstance(wrapped, dict) else None
        if not isinstance(entry, dict) or not entry.get("wrapped"):
            raise InvalidInput(f"wrapped_keys lacks the data key wrapped for entitled org {msp}")
        current = org_encryption_key(ctx, msp)["key_id"]
        if entry.get("key_id") != current:
            raise InvalidInput(f"data key for {msp} must be wrapped to its current encryption key {current}")
    return canonical_json({"ciphertext": ciphertext.hex(), "wrapped_keys": wrapped})


def place_payload(ctx: Any, env: dict[str, Any], payload: dict[str, Any], policy: dict[str, Any],
                  prev: dict[str, Any] | None, sealed: SealedPayload | None = None) -> dict[str, Any]:
    """Check and place the payload by the grade's placement; returns the placement fields of the metadata
    (``placement``, and ``payload`` for ``world_state``).

    Private data of the previous version is deleted when the record is deleted or leaves
    ``private_encrypted`` (decided from the previous placement, not the new one). ``sealed`` None reads
    the L3 payload from the transient map when one is needed.

    Raises:
        InvalidInput: payload given where none is taken, too large, schema violation, digest mismatch; an
            L3 payload as :func:`sealed_value`.
    """
    placement = placement_of(policy, env["grade"])
    extra: dict[str, Any] = {"placement": placement}
    if env["bus_type"] == BUS_DELETE or placement != PLACEMENT_WORLD_STATE:
        if payload:
            raise InvalidInput(f"a {placement} record (or a delete) takes no payload argument")
    was_private = prev is not None and prev.get("placement") == PLACEMENT_PRIVATE_ENCRYPTED
    if was_private and (env["bus_type"] == BUS_DELETE or placement != PLACEMENT_PRIVATE_ENCRYPTED):
        delete_sealed(ctx.stub, env["record_id"])
    if env["bus_type"] == BUS_DELETE:
        return extra
    if placement == PLACEMENT_WORLD_STATE:
        size = len(canonical_json(payload))
        if size > MAX_PAYLOAD:
            raise InvalidInput(f"payload is {size} bytes; at most {MAX_PAYLOAD} are accepted")
        validate_payload(env["category"], payload)
        check_binding(env, payload, tx_time(ctx))
        if sm3_hex(canonical_json(payload)) != env["digest"]:
            raise InvalidInput("digest is not the SM3 of the canonical payload")
        extra["payload"] = payload
    elif placement == PLACEMENT_PRIVATE_ENCRYPTED:
        value = sealed_value(ctx, env, policy, sealed if sealed is not None else sealed_from_transient(ctx))
        put_sealed(ctx.stub, env["record_id"], value)
    return extra


def place_record(ctx: Any, envelope: Any, signature: str, payload: Any, *, submitter: Submitter | None = None,
                 sealed: SealedPayload | None = None) -> dict[str, Any]:
    """Validate and write one record version; returns the stored metadata (without payload).

    Does NOT check the governed serving state: the calling front does (``require_serving``) first.
    ``submitter`` None checks the caller (:func:`require_submitter`) after the envelope and payload shape;
    ``sealed`` None reads an L3 payload from the transient map.

    Raises:
        Forbidden: caller not an active member, not the owner, key not the caller's or inactive.
        InvalidInput: malformed envelope/payload, schema violation, grade too low, size, digest mismatch.
        Conflict: duplicate insert, wrong version, signature reused. NotFound: update of a missing record,
            no grading policy, an entitled org without an encryption key.
    """
    env = validate_envelope(envelope)
    check_channel(ctx, env)
    if not isinstance(payload, dict):
        raise InvalidInput("payload must be a JSON object ({} for L3, L4 and deletes)")
    who = submitter if submitter is not None else require_submitter(ctx)
    if env["owner_msp"] != who.msp:
        raise Forbidden(f"owner_msp {env['owner_msp']} is not the submitting org {who.msp}")
    prev = get_record_meta(ctx.stub, env["record_id"])
    check_history(env, prev, who.msp)
    policy = check_grade(ctx, env, who.role, prev)
    sig_key = check_signature(ctx, env, signature, who.msp)
    meta = {**env, **place_payload(ctx, env, payload, policy, prev, sealed), "signature": signature,
            "submitter_id": ctx.client_identity.id, "tx_id": ctx.stub.get_tx_id(), "at": tx_time(ctx),
            "deleted": env["bus_type"] == BUS_DELETE}
    put_record(ctx.stub, meta)
    spend_signature(ctx.stub, sig_key, env["record_id"])
    write_indexes(ctx.stub, env, prev)
    record_event(ctx, "record", {"record_id": env["record_id"], "version": env["version"], "bus_type": env["bus_type"],
                                 "grade": env["grade"], "category": env["category"]})
    meta.pop("payload", None)
    return meta
