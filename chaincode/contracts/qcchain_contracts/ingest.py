"""Ingest contract: batches of dual-prevention records pushed by using units through the ingestion service
(seed 001 Appendix B; ARCHITECTURE decision 11), anchored in ONE transaction per batch.

``ingest:anchor(batch)`` — called by the ingesting org (an active consortium member) — re-validates every
record against the shared schemas (:mod:`qcchain_model.tables`) and the D-A.2 envelope, enforces I/U/D per
record ``ID`` (insert new; update/delete an existing record of the same using unit ``org_no``; a delete
keeps the history) and batchNo uniqueness per appid, recomputes the SM3 Merkle root over the records'
canonical bytes (:mod:`qcchain_model.merkle`) and refuses a batch whose root differs, places each record by
its grade as ``records`` does (sender role ``using_unit``): ``world_state`` -> the record in the record
state; ``private_encrypted`` (L3) -> the server sends, in the transient map ``sealed`` only, ``{data_key,
wrapped_keys, records: {ID: ciphertext (nonce || data || tag)}}`` — ONE data key per batch: the batch's
records share one grade, so one audience. The chaincode decrypts each record with the data key (SM4-GCM,
AAD = ID) — authentication proves the ciphertext is exactly that record —, validates the plaintext, checks
the key is wrapped for every entitled org to its current encryption key, and stores in ``collectionL3``
each record's ciphertext (``ing:`` + ID -> ``{ciphertext, keys}``) and, once per batch, the wrapped keys
(composite key ``ing.keys`` [appid, batchNo] -> ``{wrapped_keys}``; ``keys`` names it). The ingest contract's
private keys are composite (``ing.l3`` [ID], ``ing.keys`` [...]): the records contract shares collectionL3 and its
record IDs cannot start with U+0000, so it cannot overwrite them. Records anchored before this layout
(``ing:`` + ID, their ``wrapped_keys`` inside) are still read, and a version's private entry is removed by an
update or delete according to the placement it was written with. All or nothing: any violation refuses the
whole batch, listing ``violations=[{index, field, reason}]`` (values never echoed) in the error.

Keys: ``ing.rec`` [ID] (current state; history = versions; ``media`` = the SM3 of each M field, also for
L3 records), ``ing.cnt`` [org_no, txcode, appid, batchNo] (records an insert batch added: an ID is
inserted once, so the sum is the unit's distinct IDs), ``ing.batch`` [appid, batchNo] (header: unit, appid,
batchNo, txcode, busType, count, Merkle root, ingesting org, tx id, time), ``ing.media`` [ID, tx id] (one
logged access to an M field's file: org, field, SM3, time, SM3 of the requester's one-time nonce);
private ``collectionL3`` ``ing.l3`` [ID] and ``ing.keys`` [appid, batchNo] (older versions: ``ing:`` + ID).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

from qcchain_core.canonical import canonical_json, canonical_loads
from qcchain_model.creditcode import validate_credit_code
from qcchain_model.errors import InvalidCreditCode
from qcchain_model.merkle import merkle_root
from qcchain_model.tables import TX_CODES, violations_of
from qcchain_shim import Context, Contract, transaction

from .common import caller_msp, get_json, put_json, record_event, sm3_hex, tx_time
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .grading_rules import may_read, placement_of, strictest_grade
from .ingest_sealing import check_sealing, read_sealed, unseal, violation
from .lifecycle import require_serving
from .masking import PERSONAL_FIELDS, mask_record
from .store.members import list_members, role_of
from .store.policies import get_policy

log = logging.getLogger(__name__)

__all__ = ["Ingest", "BATCH_FIELDS", "PERSONAL_FIELDS", "mask_record"]

BATCH_FIELDS = ("appid", "batch_no", "bus_type", "merkle_root", "org_no", "records", "txcode", "unit_name")
SENDER_ROLE = "using_unit"
COLLECTION = "collectionL3"
MAX_RECORDS = 5000
MAX_LISTED = 200
_APPID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_BATCH_NO = re.compile(r"^\d{8}(?!00000000)\d{8}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CST = dt.timezone(dt.timedelta(hours=8))


def _refuse(message: str, violations: list[dict[str, Any]], error: type = InvalidInput) -> Exception:
    listed = json.dumps(violations[:MAX_LISTED], ensure_ascii=False, sort_keys=True)
    return error(f"{message}; violations={listed}")


def _check_header(batch: Any) -> dict[str, Any]:
    """Shape of the anchor argument. Raises InvalidInput naming the field."""
    if not isinstance(batch, dict) or sorted(batch) != list(BATCH_FIELDS):
        raise InvalidInput(f"an ingest batch must have exactly the fields {', '.join(BATCH_FIELDS)}")
    problems = []
    if not isinstance(batch["appid"], str) or not _APPID.match(batch["appid"]):
        problems.append(violation(None, "$.appid", "must be 1..40 letters, digits, _ or -"))
    try:
        validate_credit_code(batch["org_no"])
    except InvalidCreditCode:
        problems.append(violation(None, "$.org_no", "is not a valid unified social credit code"))
    if not isinstance(batch["unit_name"], str) or not 1 <= len(batch["unit_name"]) <= 200:
        problems.append(violation(None, "$.unit_name", "must be 1..200 characters"))
    if not isinstance(batch["batch_no"], str) or not _BATCH_NO.match(batch["batch_no"]):
        problems.append(violation(None, "$.batch_no", "must be YYYYMMDD + an 8-digit sequence from 00000001"))
    if batch["txcode"] not in TX_CODES:
        problems.append(violation(None, "$.txcode", "must be one of 01..09"))
    if batch["bus_type"] not in ("I", "U", "D"):
        problems.append(violation(None, "$.bus_type", "must be I, U or D"))
    if not isinstance(batch["merkle_root"], str) or not _HEX64.match(batch["merkle_root"]):
        problems.append(violation(None, "$.merkle_root", "must be 64 lower-case hex digits"))
    if not isinstance(batch["records"], list) or not 1 <= len(batch["records"]) <= MAX_RECORDS:
        problems.append(violation(None, "$.records", f"must be a list of 1..{MAX_RECORDS} records"))
    if problems:
        raise _refuse("the ingest batch is malformed", problems)
    return batch


def _records(ctx: Context, batch: dict[str, Any], sealed: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(records, violations): unsealed records validated against schema and envelope, IDs unique."""
    category = TX_CODES[batch["txcode"]]
    today = dt.datetime.fromtimestamp(tx_time(ctx), _CST).strftime("%Y-%m-%d")
    out, problems, seen = [], [], set()
    ciphertexts = sealed.get("records", {})
    for i, given in enumerate(batch["records"]):
        rid = given.get("ID") if isinstance(given, dict) else None
        record = given
        if isinstance(rid, str) and rid in ciphertexts and sorted(given) == ["ID"]:
            record, reason = unseal(rid, sealed["key"], ciphertexts[rid])
            if record is None:
                problems.append(violation(i, "$", reason))
                out.append({})
                continue
            if record.get("ID") != rid:
                problems.append(violation(i, "$.ID", "the sealed record carries another ID"))
        problems += [violation(i, v.field, v.reason) for v in violations_of(category, record)]
        if isinstance(record, dict):
            for field, want in (("batchNo", batch["batch_no"]), ("txCode", batch["txcode"]), ("busType", batch["bus_type"])):
                if field in record and record[field] != want:
                    problems.append(violation(i, f"$.{field}", f"does not agree with the batch's {field}"))
            date = record.get("updateDate")
            if isinstance(date, str) and len(date) == 10 and date > today:
                problems.append(violation(i, "$.updateDate", "lies in the future"))
            if isinstance(record.get("ID"), str):
                if record["ID"] in seen:
                    problems.append(violation(i, "$.ID", "repeats an ID of this batch"))
                seen.add(record["ID"])
        out.append(record if isinstance(record, dict) else {})
    return out, problems


def _history(ctx: Context, batch: dict[str, Any], records: list[dict[str, Any]]) -> tuple[list[Any], list[dict[str, Any]]]:
    """(previous states, violations) of the I/U/D rules."""
    keys = [ctx.stub.create_composite_key("ing.rec", [r["ID"]]) for r in records]
    raws = ctx.stub.get_multiple_states(keys)
    prevs, problems = [], []
    for i, raw in enumerate(raws):
        prev = canonical_loads(raw) if raw else None
        prevs.append(prev)
        if batch["bus_type"] == "I":
            if prev is not None:
                problems.append(violation(i, "$.ID", "already exists on chain; use busType U"))
        elif prev is None or prev["deleted"]:
            problems.append(violation(i, "$.ID", "does not exist on chain (or was deleted)"))
        elif prev["org_no"] != batch["org_no"]:
            problems.append(violation(i, "$.ID", "belongs to another using unit"))
        elif prev["txcode"] != batch["txcode"]:
            problems.append(violation(i, "$.txCode", "differs from the record's table on chain"))
    return prevs, problems


def _entitled(ctx: Context, policy: dict[str, Any], grade: str, owner: str) -> list[str]:
    roles = {a.split(":", 1)[1] for a in policy["grades"][grade]["audiences"] if a.startswith("role:")}
    msps = {m["msp_id"] for m in list_members(ctx.stub) if m["status"] == "active" and m["role"] in roles}
    return sorted(msps | {owner})


def _private_key(ctx: Context, state: dict[str, Any]) -> str | None:
    """Where a record version's ciphertext sits in collectionL3 (None: it has none): the composite key
    ``ing.l3`` [ID]; versions anchored before it were written under ``ing:`` + ID."""
    if state.get("placement") != "private_encrypted":
        return None
    return ctx.stub.create_composite_key("ing.l3", [state["ID"]]) if state.get("pvt_key") == "l3" else "ing:" + state["ID"]


def _place(ctx: Context, batch: dict[str, Any], records: list[dict[str, Any]], leaves: list[bytes],
           prevs: list[Any], placement: str, grade: str, sealed: dict[str, Any]) -> None:
    msp, at, tx_id = caller_msp(ctx), tx_time(ctx), ctx.stub.get_tx_id()
    deleting = batch["bus_type"] == "D"
    # composite keys (a leading U+0000): no record ID of the records contract, which shares collectionL3, can name them
    keys_key = ctx.stub.create_composite_key("ing.keys", [batch["appid"], batch["batch_no"]])
    if placement == "private_encrypted" and not deleting:  # the batch's wrapped data key, once
        ctx.stub.put_private_data(COLLECTION, keys_key, canonical_json({"wrapped_keys": sealed["wrapped_keys"]}))
    for i, (record, leaf, prev) in enumerate(zip(records, leaves, prevs)):
        rid = record["ID"]
        state = {"ID": rid, "txcode": batch["txcode"], "category": TX_CODES[batch["txcode"]], "org_no": batch["org_no"],
                 "appid": batch["appid"], "batch_no": batch["batch_no"], "bus_type": batch["bus_type"],
                 "version": 1 if prev is None else prev["version"] + 1, "grade": grade, "placement": placement,
                 "digest": sm3_hex(leaf), "leaf_index": i, "owner_msp": msp, "tx_id": tx_id, "at": at,
                 "deleted": deleting,
                 "media": {f: v["sm3"] for f, v in sorted(record.items()) if isinstance(v, dict) and "sm3" in v}}
        old_key = _private_key(ctx, prev) if prev is not None and not prev["deleted"] else None  # by ITS placement
        if placement == "private_encrypted" and not deleting:
            new_key = ctx.stub.create_composite_key("ing.l3", [rid])
            ctx.stub.put_private_data(COLLECTION, new_key, canonical_json(
                {"ciphertext": sealed["records"][rid], "keys": keys_key}))
            state["pvt_key"] = "l3"
            if old_key is not None and old_key != new_key:
                ctx.stub.del_private_data(COLLECTION, old_key)
        else:
            if old_key is not None:
                ctx.stub.del_private_data(COLLECTION, old_key)
            if not deleting:
                state["record"] = record
        put_json(ctx.stub, ctx.stub.create_composite_key("ing.rec", [rid]), state)
    if batch["bus_type"] == "I":  # one count per batch, not one index key per record (half the rows written)
        ctx.stub.put_state(ctx.stub.create_composite_key("ing.cnt", [batch["org_no"], batch["txcode"], batch["appid"],
                                                                     batch["batch_no"]]), str(len(records)).encode())


def anchor_batch(ctx: Context, batch: Any) -> dict[str, Any]:
    """Validate and write one batch; returns its header.

    Raises:
        Frozen/Destroyed: ingest or records may not write. Forbidden: caller not an active member.
        InvalidInput: malformed batch, record violations, Merkle root mismatch, bad sealing (with violations).
        Conflict: batchNo already anchored for this appid, or the I/U/D rules (with violations).
    """
    require_serving(ctx, "ingest", write=True)
    require_serving(ctx, "records", write=True)
    msp = caller_msp(ctx)
    if role_of(ctx.stub, msp) is None:
        raise Forbidden(f"{msp} is not an active consortium member")
    batch = _check_header(batch)
    header_key = ctx.stub.create_composite_key("ing.batch", [batch["appid"], batch["batch_no"]])
    if ctx.stub.get_state(header_key):
        raise _refuse(f"batch {batch['batch_no']} of appid {batch['appid']} is already anchored",
                      [violation(None, "$.batchNo", "already anchored for this appid")], Conflict)
    sealed = read_sealed(ctx)
    records, problems = _records(ctx, batch, sealed)
    if problems:
        raise _refuse(f"{len({p['index'] for p in problems})} of {len(records)} records are invalid", problems)
    prevs, problems = _history(ctx, batch, records)
    if problems:
        raise _refuse("the batch breaks the insert/update/delete rules", problems, Conflict)
    leaves = [canonical_json(r) for r in records]
    if merkle_root(leaves).hex() != batch["merkle_root"]:
        raise _refuse("the Merkle root does not match the records", [violation(None, "$.merkle_root", "does not match")])
    policy = get_policy(ctx.stub, "grading")
    grade = strictest_grade(policy, TX_CODES[batch["txcode"]], SENDER_ROLE).grade
    placement = placement_of(policy, grade)
    if placement == "private_encrypted":  # deletes too: an L3 record's plaintext is never in the arguments
        problems = check_sealing(ctx, sealed, _entitled(ctx, policy, grade, msp), batch["records"])
        if problems:
            raise _refuse("the batch's L3 records are not all sealed and wrapped for every entitled org", problems)
    elif sealed:
        raise InvalidInput(f"transient 'sealed' is only for L3 records; {TX_CODES[batch['txcode']]} is {grade}")
    _place(ctx, batch, records, leaves, prevs, placement, grade, sealed)
    header = {"appid": batch["appid"], "org_no": batch["org_no"], "unit_name": batch["unit_name"],
              "batch_no": batch["batch_no"], "txcode": batch["txcode"], "bus_type": batch["bus_type"],
              "count": len(records), "merkle_root": batch["merkle_root"], "grade": grade, "ingesting_msp": msp,
              "tx_id": ctx.stub.get_tx_id(), "at": tx_time(ctx), "channel": ctx.stub.get_channel_id()}
    put_json(ctx.stub, header_key, header)
    record_event(ctx, "ingest_batch", {"appid": batch["appid"], "batch_no": batch["batch_no"], "count": len(records),
                                       "txcode": batch["txcode"], "bus_type": batch["bus_type"],
                                       "merkle_root": batch["merkle_root"]})
    return header


def ingested_view(ctx: Context, state: dict[str, Any]) -> dict[str, Any]:
    """What the caller may see: metadata always; the record to the owner and the regulator, masked personal
    fields to the grade's other audiences; the L3 ciphertext and the caller's wrapped key to its audience."""
    view = dict(state)
    record = view.pop("record", None)
    msp = caller_msp(ctx)
    role = role_of(ctx.stub, msp)
    policy = get_policy(ctx.stub, "grading")
    allowed = state["grade"] == "L1" or may_read(policy, state["grade"], role, msp, state["owner_msp"])
    full = msp == state["owner_msp"] or role == "regulator"
    view["access"] = "full" if allowed and full else "masked" if allowed else "metadata"
    if record is not None and allowed:
        view["record"] = record if full else mask_record(record)
    if state["placement"] == "private_encrypted" and not state["deleted"] and allowed:
        raw = ctx.stub.get_private_data(COLLECTION, _private_key(ctx, state))
        if raw:
            stored = json.loads(raw)
            view["ciphertext"] = stored["ciphertext"]
            if "keys" in stored:  # the batch's wrapped keys, stored once
                keys = ctx.stub.get_private_data(COLLECTION, stored["keys"])
                wrapped = json.loads(keys)["wrapped_keys"] if keys else {}
            else:  # anchored before the per-batch layout: the keys sit in the record's entry
                wrapped = stored["wrapped_keys"]
            view["wrapped_key"] = wrapped.get(msp)
    return view


class Ingest(Contract):
    """``ingest:*`` — anchor batches from the ingestion service; read headers and records."""

    name = "ingest"
    write_batch = True

    @transaction
    def anchor(self, ctx: Context, batch: dict) -> dict:
        """Anchor one batch (see :func:`anchor_batch` for what it raises)."""
        return anchor_batch(ctx, batch)

    @transaction(evaluate=True)
    def batch(self, ctx: Context, appid: str, batch_no: str) -> dict:
        """The header of an anchored batch. Raises NotFound."""
        require_serving(ctx, "ingest", write=False)
        header = get_json(ctx.stub, ctx.stub.create_composite_key("ing.batch", [appid, batch_no]))
        if header is None:
            raise NotFound("no such batch")
        return header

    @transaction(evaluate=True)
    def get(self, ctx: Context, record_id: str) -> dict:
        """An ingested record as the caller may see it. Raises NotFound."""
        require_serving(ctx, "ingest", write=False)
        state = get_json(ctx.stub, ctx.stub.create_composite_key("ing.rec", [record_id])) if record_id else None
        if state is None:
            raise NotFound(f"no ingested record {record_id!r}")
        return ingested_view(ctx, state)

    @transaction(evaluate=True)
    def history(self, ctx: Context, record_id: str) -> list:
        """Every version of an ingested record (metadata: batch, busType, digest, leaf, tx). Raises NotFound."""
        require_serving(ctx, "ingest", write=False)
        out = []
        for mod in ctx.stub.get_history_for_key(ctx.stub.create_composite_key("ing.rec", [record_id])):
            if mod.value:
                state = json.loads(mod.value)
                state.pop("record", None)
                out.append(state)
        if not out:
            raise NotFound(f"no ingested record {record_id!r}")
        return out

    @transaction(evaluate=True)
    def count(self, ctx: Context, org_no: str, txcode: str) -> dict:
        """How many records of a using unit (and table, "" = all) are on chain."""
        require_serving(ctx, "ingest", write=False)
        attrs = [org_no] + ([txcode] if txcode else [])
        with ctx.stub.get_state_by_partial_composite_key("ing.cnt", attrs) as it:
            return {"org_no": org_no, "txcode": txcode, "records": sum(int(kv.value) for kv in it)}

    @transaction(evaluate=True)
    def summary(self, ctx: Context, appid: str) -> dict:
        """The batches anchored for one appid, counted from their headers: ``{appid, batches, records, last:
        {txcode: {batch_no, at}}}`` (``last`` = the latest batch per table, for the D-5.4 cycles)."""
        require_serving(ctx, "ingest", write=False)
        batches = records = 0
        last: dict[str, dict[str, Any]] = {}
        with ctx.stub.get_state_by_partial_composite_key("ing.batch", [appid]) as it:
            for kv in it:
                header = canonical_loads(kv.value)
                batches += 1
                records += int(header["count"])
                seen = last.get(header["txcode"])
                if seen is None or (header["at"], header["batch_no"]) > (seen["at"], seen["batch_no"]):
                    last[header["txcode"]] = {"batch_no": header["batch_no"], "at": header["at"]}
        return {"appid": appid, "batches": batches, "records": records, "last": dict(sorted(last.items()))}

    @transaction
    def media_access(self, ctx: Context, record_id: str, field: str) -> dict:
        """Log on chain that the caller fetches the file of M field ``field`` of a record (T-8.1.2e) and
        return ``{record_id, field, sm3, grant}``; the ingestion server serves the blob to whoever presents
        this grant (the tx id) with the nonce whose SM3 the transient ``nonce`` put here (one use).

        Raises:
            NotFound: no such (live) record or no such M field. Forbidden: the caller is not entitled to the
            record's grade. InvalidInput: no transient ``nonce`` (16..64 bytes).
        """
        require_serving(ctx, "ingest", write=True)
        state = get_json(ctx.stub, ctx.stub.create_composite_key("ing.rec", [record_id])) if record_id else None
        if state is None or state["deleted"] or field not in state.get("media", {}):
            raise NotFound("no live ingested record with this M field")
        msp = caller_msp(ctx)
        policy = get_policy(ctx.stub, "grading")
        if not (msp == state["owner_msp"] or may_read(policy, state["grade"], role_of(ctx.stub, msp), msp, state["owner_msp"])):
            raise Forbidden(f"{msp} is not entitled to {state['grade']} records")
        nonce = ctx.stub.get_transient().get("nonce", b"")
        if not 16 <= len(nonce) <= 64:
            raise InvalidInput("transient 'nonce' (16..64 bytes) is required")
        entry = {"record_id": record_id, "field": field, "sm3": state["media"][field], "msp": msp,
                 "at": tx_time(ctx), "grant": ctx.stub.get_tx_id(), "nonce_sm3": sm3_hex(nonce)}
        put_json(ctx.stub, ctx.stub.create_composite_key("ing.media", [record_id, entry["grant"]]), entry)
        record_event(ctx, "ingest_media_access", {k: entry[k] for k in ("record_id", "field", "sm3", "msp")})
        return {k: entry[k] for k in ("record_id", "field", "sm3", "grant")}

    @transaction(evaluate=True)
    def media_grant(self, ctx: Context, record_id: str, grant: str) -> dict:
        """A logged media access (see :meth:`media_access`). Raises NotFound."""
        require_serving(ctx, "ingest", write=False)
        entry = get_json(ctx.stub, ctx.stub.create_composite_key("ing.media", [record_id, grant]))
        if entry is None:
            raise NotFound("no such media access")
        return entry
