"""A cross-chain proof bundle for one QC certificate record, verified against a source's trust anchors
(pure; rules rung). Shared by the ``crosschain`` contract and offline verification (``qcchain crosschain
verify FILE``).

Bundle (JSON, :data:`BUNDLE_FORMAT`)::

    {format, record_id, source{channel, chaincode},
     record_proof{block (base64 common.Block), tx_index},   # the tx that wrote rec[record_id]
     key_proof{block, tx_index},                            # the tx that registered the signer's SM2 key
     config{block (base64 config block), msps, orderer_msps, endorsement_policy},   # the source's own view
     ingest (null | {leaf, proof}: the batch inclusion proof of an ingested record; key_proof is then null),
     exported_at, [attestation (null | {envelope}: the source's peers' endorsed read of the record)]}

:func:`verify_bundle` re-derives everything from the blocks (see :mod:`.fabricproof`): both blocks signed by
the registered orderers, both transactions VALID and endorsed per the registered policy by unrevoked
identities of registered MSPs; the record transaction writes ``rec[record_id]``; the key transaction writes
``gov.key[key_id]`` of the record's owner with usage ``sign`` no later than the record; the record's SM2
signature over its canonical envelope verifies with that key, and the payload (when on chain) hashes to the
envelope's SM3 digest. The bundle's own ``config`` is never trusted on chain: only its CRLs that verify
under a registered CA are *added* (a bundle can only revoke more).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
from typing import Any

from qcchain_core.canonical import canonical_json, canonical_loads
from qcchain_core.errors import CanonicalJSONError
from qcchain_core.gm import SM2PublicKey
from qcchain_model.envelope import BUS_DELETE, ENVELOPE_FIELDS
from cryptography import x509

from .common import sm3_hex
from .crosschain_attest import parse_attestation, verify_attestation
from .crosschain_ingest import check_inclusion, parse_ingest
from .errors import InvalidInput
from .fabricproof import MspAnchor, ProvenTx, TrustAnchors, verify_block, verify_transaction

log = logging.getLogger(__name__)

__all__ = ["BUNDLE_FORMAT", "BUNDLE_FIELDS", "MAX_BUNDLE", "parse_bundle", "verify_bundle", "composite_key",
           "with_bundle_crls"]

BUNDLE_FORMAT = "qcchain-crosschain-bundle/1"
BUNDLE_FIELDS = ("format", "record_id", "source", "record_proof", "key_proof", "config", "ingest", "exported_at")
OPTIONAL_FIELDS = ("attestation",)
MAX_BUNDLE = 8 * 1024 * 1024


def composite_key(object_type: str, attributes: list[str]) -> str:
    """Fabric's composite key ``\\x00type\\x00a1\\x00...`` (as the shim builds it)."""
    return "\x00" + object_type + "\x00" + "".join(a + "\x00" for a in attributes)


def parse_bundle(raw: bytes | str) -> dict[str, Any]:
    """Decode a bundle's JSON and check its shape.

    Raises:
        InvalidInput: too large, not JSON, wrong format or fields.
    """
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if len(data) > MAX_BUNDLE:
        raise InvalidInput(f"bundle is {len(data)} bytes; at most {MAX_BUNDLE} are accepted")
    try:
        bundle = canonical_loads(data)
    except (CanonicalJSONError, ValueError) as exc:
        raise InvalidInput("bundle is not JSON") from exc
    if not isinstance(bundle, dict) or not set(BUNDLE_FIELDS) <= set(bundle) <= set(BUNDLE_FIELDS + OPTIONAL_FIELDS):
        raise InvalidInput(f"a bundle must have exactly the fields {', '.join(BUNDLE_FIELDS)} "
                           f"(and optionally {', '.join(OPTIONAL_FIELDS)})")
    if bundle["format"] != BUNDLE_FORMAT:
        raise InvalidInput(f"bundle format {bundle['format']!r} is not {BUNDLE_FORMAT}")
    if not isinstance(bundle["record_id"], str) or not bundle["record_id"]:
        raise InvalidInput("bundle record_id must be a non-empty string")
    ingested = bundle["ingest"] is not None
    for name in ("record_proof",) if ingested else ("record_proof", "key_proof"):
        proof = bundle[name]
        if not isinstance(proof, dict) or sorted(proof) != ["block", "tx_index"] or not isinstance(proof["tx_index"], int):
            raise InvalidInput(f"bundle {name} must be {{block, tx_index}}")
    if ingested:
        if bundle["key_proof"] is not None:
            raise InvalidInput("a bundle of an ingested record has no key_proof (null): it is bound to its batch")
        bundle = {**bundle, "ingest": parse_ingest(bundle["ingest"])}
    if not isinstance(bundle["config"], dict):
        raise InvalidInput("bundle config must be an object")
    return {**bundle, "attestation": parse_attestation(bundle.get("attestation"))}


def _b64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise InvalidInput(f"bundle {what} is not base64") from exc


def with_bundle_crls(anchors: TrustAnchors, config: dict[str, Any]) -> TrustAnchors:
    """The anchors plus every CRL of the bundle's ``config.msps[*].crls`` that is signed by a registered CA
    of that MSP (others are ignored: a bundle can add revocations, never trust)."""
    msps = dict(anchors.msps)
    for msp_id, spec in sorted((config.get("msps") or {}).items()) if isinstance(config.get("msps"), dict) else []:
        anchor = msps.get(msp_id)
        if anchor is None or not isinstance(spec, dict) or not isinstance(spec.get("crls"), list):
            continue
        added = []
        for pem in spec["crls"][:16]:
            try:
                crl = x509.load_pem_x509_crl(str(pem).encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                continue
            cas = anchor.roots + anchor.intermediates
            if any(ca.subject == crl.issuer and crl.is_signature_valid(ca.public_key()) for ca in cas):
                added.append(crl)
        msps[msp_id] = MspAnchor(msp_id, anchor.roots, anchor.intermediates, anchor.crls + tuple(added))
    return dataclasses.replace(anchors, msps=msps)


def _proven(bundle: dict[str, Any], name: str, anchors: TrustAnchors) -> ProvenTx:
    proof = bundle[name]
    block = verify_block(_b64(proof["block"], f"{name}.block"), anchors)
    return verify_transaction(block, proof["tx_index"], anchors)


def _json_write(tx: ProvenTx, key: str, what: str) -> dict[str, Any]:
    if key not in tx.writes:
        raise InvalidInput(f"transaction {tx.tx_id} (block {tx.block}) does not write {what}")
    value, deleted = tx.writes[key]
    if deleted:
        raise InvalidInput(f"transaction {tx.tx_id} deletes {what}")
    try:
        doc = canonical_loads(value)
    except (CanonicalJSONError, ValueError) as exc:
        raise InvalidInput(f"{what} written by {tx.tx_id} is not JSON") from exc
    if not isinstance(doc, dict):
        raise InvalidInput(f"{what} written by {tx.tx_id} is not an object")
    return doc


def _check_key(key: dict[str, Any], meta: dict[str, Any], key_tx: ProvenTx, record_tx: ProvenTx) -> None:
    if key.get("key_id") != meta.get("key_id") or key.get("msp_id") != meta.get("owner_msp"):
        raise InvalidInput("the key proof registers another key or another org's key than the record's signer")
    if "sign" not in (key.get("usages") or []) or key.get("status") != "active":
        raise InvalidInput("the signer key was not an active key with usage 'sign' when registered")
    if (key_tx.block, key_tx.index) >= (record_tx.block, record_tx.index):
        raise InvalidInput("the key proof is not older than the record")
    if not key.get("not_before", 0) <= record_tx.timestamp < key.get("not_after", 0):
        raise InvalidInput("the signer key was not valid at the record's transaction time")


def _check_record(meta: dict[str, Any], key: dict[str, Any]) -> None:
    try:
        envelope = {f: meta[f] for f in ENVELOPE_FIELDS}
        signature = bytes.fromhex(meta["signature"])
        SM2PublicKey.from_pem(str(key["public_key_pem"]).encode("ascii")).verify(signature, canonical_json(envelope))
    except Exception as exc:  # noqa: BLE001 - missing field, bad hex or PEM, bad signature: all refuse
        raise InvalidInput("the record's SM2 signature over its envelope does not verify with the registered key") from exc
    payload = meta.get("payload")
    if payload is not None and sm3_hex(canonical_json(payload)) != meta.get("digest"):
        raise InvalidInput("the record's payload does not hash (SM3) to its envelope digest")


def _ingested(bundle: dict[str, Any], record_tx: ProvenTx) -> tuple[dict[str, Any], bool, dict[str, Any]]:
    """(record metadata with payload and batch header, deleted, provenance extras) of an ingested record."""
    record_id = bundle["record_id"]
    state = _json_write(record_tx, composite_key("ing.rec", [record_id]), f"ingested record {record_id}")
    batch = [str(state.get("appid")), str(state.get("batch_no"))]
    header = _json_write(record_tx, composite_key("ing.batch", batch), f"the header of batch {'/'.join(batch)}")
    payload = check_inclusion(bundle["ingest"], state, header, record_id, record_tx.tx_id)
    meta = {**{k: v for k, v in sorted(state.items()) if k != "record"}, "payload": payload, "batch": header}
    return meta, bool(state.get("deleted")), {"kind": "ingested", "batch": batch, "leaf_index": state.get("leaf_index"),
                                             "merkle_root": header.get("merkle_root"), "key_block": None,
                                             "key_tx_id": None}


def verify_bundle(bundle: dict[str, Any], anchors: TrustAnchors) -> dict[str, Any]:
    """Verify a parsed bundle against ``anchors`` (see module doc). Returns the certificate with provenance:
    ``{record_id, record (metadata, payload if on chain), status (active | revoked), provenance{kind (record |
    ingested), channel, chaincode, block, tx_index, tx_id, tx_time, endorsers, key_block, key_tx_id; for an
    ingested record also batch [appid, batch_no], leaf_index, merkle_root; attested_at, attested_by,
    attestation_tx_id (None/[] without an attestation, :mod:`.crosschain_attest`)}}``. For an ingested record
    (``ingest`` set, see :mod:`.crosschain_ingest`) the batch inclusion proof replaces the key proof and
    ``record`` is the record's state with ``payload`` (the record) and ``batch`` (its header).

    Raises:
        InvalidInput: any check failing, naming it. Forbidden: an identity outside the registered MSPs.
    """
    source = bundle.get("source")
    if source != {"channel": anchors.channel, "chaincode": anchors.chaincode}:
        raise InvalidInput(f"bundle is for {source}, the source is {anchors.channel}/{anchors.chaincode}")
    anchors = with_bundle_crls(anchors, bundle["config"])
    record_tx = _proven(bundle, "record_proof", anchors)
    record_id = bundle["record_id"]
    if bundle["ingest"] is not None:
        meta, deleted, extra = _ingested(bundle, record_tx)
    else:
        meta = _json_write(record_tx, composite_key("rec", [record_id]), f"record {record_id}")
        if meta.get("record_id") != record_id:
            raise InvalidInput(f"the written record is {meta.get('record_id')!r}, not {record_id}")
        key_tx = _proven(bundle, "key_proof", anchors)
        key = _json_write(key_tx, composite_key("gov.key", [str(meta.get("key_id"))]), f"key {meta.get('key_id')}")
        _check_key(key, meta, key_tx, record_tx)
        _check_record(meta, key)
        deleted = bool(meta.get("deleted")) or meta.get("bus_type") == BUS_DELETE
        extra = {"kind": "record", "key_block": key_tx.block, "key_tx_id": key_tx.tx_id}
    attested = {"attested_at": None, "attested_by": [], "attestation_tx_id": None}
    if bundle.get("attestation") is not None:
        state_key = composite_key("ing.rec" if bundle["ingest"] is not None else "rec", [record_id])
        attested = verify_attestation(bundle["attestation"], anchors, state_key, f"record {record_id}", record_tx)
    return {"record_id": record_id, "record": meta, "status": "revoked" if deleted else "active",
            "provenance": {"channel": anchors.channel, "chaincode": anchors.chaincode, "block": record_tx.block,
                           "tx_index": record_tx.index, "tx_id": record_tx.tx_id, "tx_time": record_tx.timestamp,
                           "endorsers": list(record_tx.endorsers), **extra, **attested}}
