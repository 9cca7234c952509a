"""Records contract: graded QC records (REQUIREMENTS T-6, T-7.1, T-8; ARCHITECTURE decisions 5-7).

A write (``records:submit``) carries an *envelope* — canonical JSON with exactly :data:`ENVELOPE_FIELDS` —
and the submitter's SM2 signature (hex, DER) over the envelope bytes by a registered ``sign`` key of the
owner org. ``digest`` is the hex SM3 of the canonical payload (L1-L3) or of the original bytes (L4), so
the signature covers the payload; ``channel`` must equal the transaction's channel, so a signature
cannot be replayed on another channel (the replay guard ``rec.sig`` is per channel). ``version`` is 1 for ``bus_type`` I (insert), previous + 1 for U
(update) and D (delete); every version stays in the key history. The grade is computed on chain by
:func:`.grading.strictest_grade` (the strictest over every route, as the declared route is
self-chosen); the envelope's ``grade`` may be higher, never lower (nor lower than the
previous version's). Placement follows the grade's policy placement:

* ``world_state`` (L1/L2): the payload is an argument, validated against the category's JSON Schema and
  stored with the metadata;
* ``private_encrypted`` (L3): the client encrypts the canonical payload with SM4-GCM under a fresh data key
  and sends transient ``ciphertext`` (12-byte nonce || ciphertext || tag, SM3 = ``ciphertext_digest``) and
  ``wrapped_keys`` (JSON ``{msp_id: {"key_id", "wrapped": hex}}`` — the data key SM2-encrypted for the
  owner and every active member whose role is an audience of the grade, each to its current
  encryption key); stored in the private data collection ``collectionL3``;
* ``off_chain`` (L4): only digest and metadata; ``records:verify_original`` proves an original matches.

Keys: ``rec`` [record_id] (metadata, history = versions); ``rec.idx`` [equipment|category|stage, value,
record_id]; ``rec.sig`` [SM3 of signature] (a signature is accepted once); private ``collectionL3`` [record_id].
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_shim import Context, Contract, transaction

from .common import caller_msp, get_json, put_json, record_event, require_hex64, require_int, require_str, sm3_hex, tx_time
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .governance import get_policy, list_members, role_of
from .lifecycle import require_serving

log = logging.getLogger(__name__)

__all__ = ["Records", "ENVELOPE_FIELDS", "STAGES", "COLLECTION", "get_record_meta", "record_key"]

ENVELOPE_FIELDS = ("record_id", "category", "equipment_code", "stage", "owner_msp", "bus_type", "version",
                   "grade", "digest", "exec_type", "receiver_role", "key_id", "ciphertext_digest", "channel")
STAGES = ("production", "use", "maintenance", "inspection", "supervision")
INDEXES = {"equipment": "equipment_code", "category": "category", "stage": "stage"}
COLLECTION = "collectionL3"
MAX_PAYLOAD = 64 * 1024
MAX_CIPHERTEXT = 1024 * 1024
MAX_PAGE = 100
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def record_key(stub: Any, record_id: str) -> str:
    """Composite key of a record's metadata."""
    return stub.create_composite_key("rec", [record_id])


def get_record_meta(stub: Any, record_id: str) -> dict[str, Any] | None:
    """The current metadata of a record (without payload), or None."""
    if not isinstance(record_id, str) or not _ID.match(record_id):
        return None
    meta = get_json(stub, record_key(stub, record_id))
    if meta is None:
        return None
    meta.pop("payload", None)
    return meta


def validate_envelope(env: Any) -> dict[str, Any]:
    """Shape checks of an envelope (pure). Raises InvalidInput naming the field."""
    if not isinstance(env, dict) or sorted(env) != sorted(ENVELOPE_FIELDS):
        raise InvalidInput(f"an envelope must have exactly the fields {', '.join(ENVELOPE_FIELDS)}")
    require_str(env["record_id"], "record_id", 64, _ID)
    require_str(env["category"], "category", 64)
    require_str(env["equipment_code"], "equipment_code", 64, _ID)
    if env["stage"] not in STAGES:
        raise InvalidInput(f"stage is not one of {', '.join(STAGES)}")
    if env["bus_type"] not in ("I", "U", "D"):
        raise InvalidInput("bus_type is not I, U or D")
    require_int(env["version"], "version", 1)
    require_hex64(env["digest"], "digest")
    require_str(env["key_id"], "key_id", 128)
    if not isinstance(env["receiver_role"], str) or not isinstance(env["ciphertext_digest"], str):
        raise InvalidInput("receiver_role and ciphertext_digest must be strings ('' when unused)")
    require_str(env["channel"], "channel", 249)
    return env


def _check_channel(ctx: Context, env: dict[str, Any]) -> None:
    """The signed envelope names this channel (a signature cannot be replayed on another channel).

    Raises:
        InvalidInput: the envelope's channel is not the transaction's channel.
    """
    if env["channel"] != ctx.stub.get_channel_id():
        raise InvalidInput("envelope field channel does not name the channel of this transaction")


def _check_history(env: dict[str, Any], prev: dict[str, Any] | None, msp: str) -> None:
    rid = env["record_id"]
    if env["bus_type"] == "I":
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


def _check_grade(ctx: Context, env: dict[str, Any], role: str, prev: dict[str, Any] | None) -> dict[str, Any]:
    from .grading import decide_grade, grade_rank, strictest_grade

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


def _check_signature(ctx: Context, env: dict[str, Any], signature: str, msp: str) -> str:
    from .keyregistry import verify_sm2

    try:
        sig = bytes.fromhex(signature)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("signature must be hex (DER SM2 signature)") from exc
    sig_key = ctx.stub.create_composite_key("rec.sig", [sm3_hex(sig)])
    if ctx.stub.get_state(sig_key):
        raise Conflict("this SM2 signature was already used for another write (replay)")
    verify_sm2(ctx, env["key_id"], canonical_json(env), sig, msp, usage="sign")
    return sig_key


def _l3_entitled(ctx: Context, policy: dict[str, Any], grade: str, owner: str) -> list[str]:
    audiences = policy["grades"][grade]["audiences"]
    roles = {a.split(":", 1)[1] for a in audiences if a.startswith("role:")}
    msps = {m["msp_id"] for m in list_members(ctx.stub) if m["status"] == "active" and m["role"] in roles}
    return sorted(msps | {owner})


def _l3_value(ctx: Context, env: dict[str, Any], policy: dict[str, Any]) -> bytes:
    from .keyregistry import org_encryption_key

    transient = ctx.stub.get_transient()
    ciphertext, raw_keys = transient.get("ciphertext", b""), transient.get("wrapped_keys", b"")
    if not ciphertext or not raw_keys:
        raise InvalidInput("an L3 record needs transient 'ciphertext' and 'wrapped_keys'")
    if len(ciphertext) > MAX_CIPHERTEXT or len(ciphertext) < 28:
        raise InvalidInput(f"ciphertext must be 28..{MAX_CIPHERTEXT} bytes (nonce || data || tag)")
    if sm3_hex(ciphertext) != env["ciphertext_digest"]:
        raise InvalidInput("SM3 of the transient ciphertext does not match ciphertext_digest")
    try:
        wrapped = json.loads(raw_keys)
    except ValueError as exc:
        raise InvalidInput("transient wrapped_keys is not JSON") from exc
    for msp in _l3_entitled(ctx, policy, env["grade"], env["owner_msp"]):
        entry = wrapped.get(msp) if isinstance(wrapped, dict) else None
        if not isinstance(entry, dict) or not entry.get("wrapped"):
            raise InvalidInput(f"wrapped_keys lacks the data key wrapped for entitled org {msp}")
        current = org_encryption_key(ctx, msp)["key_id"]
        if entry.get("key_id") != current:
            raise InvalidInput(f"data key for {msp} must be wrapped to its current encryption key {current}")
    return canonical_json({"ciphertext": ciphertext.hex(), "wrapped_keys": wrapped})


def _place(ctx: Context, env: dict[str, Any], payload: dict, policy: dict[str, Any],
           prev: dict[str, Any] | None) -> dict[str, Any]:
    """Check and place the payload by the grade's placement; returns the placement fields of the metadata.

    Private data of the previous version is deleted when the record is deleted or leaves
    ``private_encrypted`` (decided from the previous placement, not the new one).

    Raises:
        InvalidInput: payload given where none is taken, too large, schema violation, digest mismatch.
    """
    from .grading import placement_of
    from .schemas import validate_payload

    placement = placement_of(policy, env["grade"])
    extra: dict[str, Any] = {"placement": placement}
    if env["bus_type"] == "D" or placement != "world_state":
        if payload:
            raise InvalidInput(f"a {placement} record (or a delete) takes no payload argument")
    was_private = prev is not None and prev.get("placement") == "private_encrypted"
    if was_private and (env["bus_type"] == "D" or placement != "private_encrypted"):
        ctx.stub.del_private_data(COLLECTION, env["record_id"])
    if env["bus_type"] == "D":
        return extra
    if placement == "world_state":
        size = len(canonical_json(payload))
        if size > MAX_PAYLOAD:
            raise InvalidInput(f"payload is {size} bytes; at most {MAX_PAYLOAD} are accepted")
        validate_payload(env["category"], payload)
        if sm3_hex(canonical_json(payload)) != env["digest"]:
            raise InvalidInput("digest is not the SM3 of the canonical payload")
        extra["payload"] = payload
    elif placement == "private_encrypted":
        ctx.stub.put_private_data(COLLECTION, env["record_id"], _l3_value(ctx, env, policy))
    return extra


def _write_indexes(ctx: Context, env: dict[str, Any], prev: dict[str, Any] | None) -> None:
    """Index an insert; on an update, move every index entry whose value changed (the stage may)."""
    if env["bus_type"] == "D":
        return
    for index, field in INDEXES.items():
        if prev is not None and prev[field] == env[field]:
            continue
        if prev is not None:
            ctx.stub.del_state(ctx.stub.create_composite_key("rec.idx", [index, prev[field], env["record_id"]]))
        key = ctx.stub.create_composite_key("rec.idx", [index, env[field], env["record_id"]])
        ctx.stub.put_state(key, env["record_id"].encode("utf-8"))


def submit_record(ctx: Context, envelope: Any, signature: str, payload: Any) -> dict[str, Any]:
    """Validate and write one record version; returns the stored metadata (without payload).

    Raises:
        Frozen/Destroyed: the records contract may not write.
        Forbidden: caller not an active member, not the owner, key not the caller's or inactive.
        InvalidInput: malformed envelope/payload, schema violation, grade too low, size, digest mismatch.
        Conflict: duplicate insert, wrong version, signature reused. NotFound: update of a missing record.
    """
    require_serving(ctx, "records", write=True)
    env = validate_envelope(envelope)
    _check_channel(ctx, env)
    if not isinstance(payload, dict):
        raise InvalidInput("payload must be a JSON object ({} for L3, L4 and deletes)")
    msp = caller_msp(ctx)
    role = role_of(ctx.stub, msp)
    if role is None:
        raise Forbidden(f"{msp} is not an active consortium member")
    if env["owner_msp"] != msp:
        raise Forbidden(f"owner_msp {env['owner_msp']} is not the submitting org {msp}")
    prev = get_record_meta(ctx.stub, env["record_id"])
    _check_history(env, prev, msp)
    policy = _check_grade(ctx, env, role, prev)
    sig_key = _check_signature(ctx, env, signature, msp)
    meta = {**env, **_place(ctx, env, payload, policy, prev), "signature": signature, "submitter_id": ctx.client_identity.id,
            "tx_id": ctx.stub.get_tx_id(), "at": tx_time(ctx), "deleted": env["bus_type"] == "D"}
    put_json(ctx.stub, record_key(ctx.stub, env["record_id"]), meta)
    ctx.stub.put_state(sig_key, env["record_id"].encode("utf-8"))
    _write_indexes(ctx, env, prev)
    record_event(ctx, "record", {"record_id": env["record_id"], "version": env["version"], "bus_type": env["bus_type"],
                                 "grade": env["grade"], "category": env["category"]})
    meta.pop("payload", None)
    return meta


def entitled_view(ctx: Context, meta: dict[str, Any]) -> dict[str, Any]:
    """What the caller may see of a stored record: metadata always, payload/ciphertext by entitlement."""
    from .grading import may_read
    from .sharing import find_grant

    view = dict(meta)
    payload = view.pop("payload", None)
    msp = caller_msp(ctx)
    policy = get_policy(ctx.stub, "grading")
    allowed = meta["grade"] == "L1" or may_read(policy, meta["grade"], role_of(ctx.stub, msp), msp, meta["owner_msp"])
    granted = not allowed and find_grant(ctx, msp, meta) is not None
    view["access"] = "audience" if allowed else "grant" if granted else "metadata"
    if payload is not None and (allowed or granted):
        view["payload"] = payload
    if meta.get("placement") == "private_encrypted" and not meta["deleted"] and (allowed or granted):
        raw = ctx.stub.get_private_data(COLLECTION, meta["record_id"])
        if raw:
            stored = json.loads(raw)
            view["ciphertext"] = stored["ciphertext"]
            view["wrapped_key"] = stored["wrapped_keys"].get(msp) if allowed else None
    return view


class Records(Contract):
    """``records:*`` — submit graded QC records, read what the caller is entitled to, verify originals."""

    name = "records"
    write_batch = True  # a submit writes the record, its index entries and its signature key: one batch

    @transaction
    def submit(self, ctx: Context, envelope: dict, signature: str, payload: dict) -> dict:
        """Write one record version (see :func:`submit_record` for what it raises)."""
        return submit_record(ctx, envelope, signature, payload)

    @transaction(evaluate=True)
    def get(self, ctx: Context, record_id: str) -> dict:
        """A record as the caller is entitled to see it. Raises NotFound, Destroyed."""
        require_serving(ctx, "records", write=False)
        meta = get_json(ctx.stub, record_key(ctx.stub, record_id)) if _ID.match(record_id or "") else None
        if meta is None:
            raise NotFound(f"record {record_id!r} does not exist")
        return entitled_view(ctx, meta)

    @transaction(evaluate=True)
    def query(self, ctx: Context, index: str, value: str, page_size: int, bookmark: str) -> dict:
        """Records by ``equipment`` code, ``category`` or ``stage``, one page at a time.

        Raises: InvalidInput (unknown index, page size outside 1..100), Destroyed.
        """
        require_serving(ctx, "records", write=False)
        if index not in INDEXES:
            raise InvalidInput(f"index {index!r} is not one of {', '.join(INDEXES)}")
        if isinstance(page_size, bool) or not 1 <= page_size <= MAX_PAGE:
            raise InvalidInput(f"page_size must be 1..{MAX_PAGE}")
        it, meta = ctx.stub.get_state_by_partial_composite_key_with_pagination("rec.idx", [index, value], page_size, bookmark)
        out = []
        for kv in it:
            record = get_json(ctx.stub, record_key(ctx.stub, kv.value.decode("utf-8")))
            if record is not None:
                out.append(entitled_view(ctx, record))
        return {"records": out, "bookmark": meta.bookmark, "fetched": meta.fetched_records_count}

    @transaction(evaluate=True)
    def verify_original(self, ctx: Context, record_id: str, original: bytes) -> dict:
        """Does SM3(original) equal the digest on chain? For L4 originals kept off chain. Raises NotFound, Destroyed."""
        require_serving(ctx, "records", write=False)
        meta = get_record_meta(ctx.stub, record_id)
        if meta is None:
            raise NotFound(f"record {record_id!r} does not exist")
        computed = sm3_hex(original)
        return {"record_id": record_id, "version": meta["version"], "match": computed == meta["digest"],
                "digest": meta["digest"], "computed": computed}
