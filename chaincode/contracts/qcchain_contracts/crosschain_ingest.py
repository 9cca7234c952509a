"""The batch inclusion proof of an ingested record in a cross-chain bundle (pure; rules rung).

A record anchored by ``ingest:anchor`` has no SM2 signature of its own: it is bound to its batch. The one
anchoring transaction writes the record's state ``ing.rec[ID]`` (digest = SM3 of the record's canonical
bytes, ``leaf_index``, ``appid``, ``batch_no``; the record itself only when placed in world state) and the
batch header ``ing.batch[appid, batch_no]`` (``merkle_root`` over every record's canonical bytes, ``count``).
So a bundle of an ingested record carries, next to that transaction's block (``record_proof``)::

    ingest: {leaf: base64 of the record's canonical JSON bytes,
             proof: {index, size, leaf, siblings, root}}      # qcchain_model.merkle.InclusionProof

and :func:`check_inclusion` holds the leaf to what the proven transaction wrote: the bytes are canonical
JSON of a record with this ID, hash (SM3) to the state's digest, equal the world-state copy when there is
one, and lead through the path -- at the state's leaf index, in a tree of the header's count -- to the
header's Merkle root. Used by :mod:`.bundleverify` (chaincode and offline).
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from qcchain_core.canonical import canonical_json, canonical_loads
from qcchain_core.errors import CanonicalJSONError
from qcchain_model.errors import InvalidProof
from qcchain_model.merkle import InclusionProof, verify_inclusion

from .common import sm3_hex
from .errors import InvalidInput
from .masking import PERSONAL_FIELDS, masked_fields

log = logging.getLogger(__name__)

__all__ = ["INGEST_FIELDS", "PERSONAL_FIELDS", "parse_ingest", "check_inclusion", "masked"]


INGEST_FIELDS = ("leaf", "proof")
_PROOF_FIELDS = ["index", "leaf", "root", "siblings", "size"]
MAX_LEAF = 256 * 1024


def parse_ingest(value: Any) -> dict[str, Any]:
    """Check the shape of a bundle's ``ingest`` part. Returns ``{leaf (bytes), proof (InclusionProof)}``.

    Raises:
        InvalidInput: not ``{leaf, proof}``, the leaf not base64 or too large, the proof malformed.
    """
    if not isinstance(value, dict) or sorted(value) != list(INGEST_FIELDS):
        raise InvalidInput(f"bundle ingest must have exactly the fields {', '.join(INGEST_FIELDS)}")
    try:
        leaf = base64.b64decode(value["leaf"], validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise InvalidInput("bundle ingest.leaf is not base64") from exc
    if not 0 < len(leaf) <= MAX_LEAF:
        raise InvalidInput(f"bundle ingest.leaf must be 1..{MAX_LEAF} bytes")
    proof = value["proof"]
    if not isinstance(proof, dict) or sorted(proof) != _PROOF_FIELDS or not isinstance(proof["siblings"], list) \
            or not all(isinstance(proof[k], int) and not isinstance(proof[k], bool) for k in ("index", "size")):
        raise InvalidInput("bundle ingest.proof must be {index, size, leaf, siblings, root}")
    try:
        return {"leaf": leaf, "proof": InclusionProof.from_dict(proof)}
    except InvalidProof as exc:
        raise InvalidInput(f"bundle ingest.proof is malformed: {exc}") from exc


def _record(leaf: bytes, record_id: str) -> dict[str, Any]:
    try:
        doc = canonical_loads(leaf)
    except (CanonicalJSONError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("the ingested record's bytes are not JSON") from exc
    if not isinstance(doc, dict) or canonical_json(doc) != leaf:
        raise InvalidInput("the ingested record's bytes are not the canonical JSON of an object")
    if doc.get("ID") != record_id:
        raise InvalidInput(f"the ingested record's bytes are of record {doc.get('ID')!r}, not {record_id}")
    return doc


def check_inclusion(ingest: dict[str, Any], state: dict[str, Any], header: dict[str, Any], record_id: str,
                    tx_id: str) -> dict[str, Any]:
    """Hold a parsed ``ingest`` part (:func:`parse_ingest`) to the record state and batch header written by
    the proven transaction ``tx_id``. Returns the record (the leaf's JSON object).

    Raises:
        InvalidInput: naming what does not hold (state of another record or transaction, header of another
            batch, leaf not canonical / not this record / not the state's digest / not the world-state copy,
            index or size not the state's and header's, the path not leading to the header's root).
    """
    leaf, proof = ingest["leaf"], ingest["proof"]
    if state.get("ID") != record_id or state.get("tx_id") != tx_id:
        raise InvalidInput(f"the written state is of record {state.get('ID')!r} by {state.get('tx_id')!r}, not "
                           f"{record_id} by {tx_id}")
    if (header.get("appid"), header.get("batch_no")) != (state.get("appid"), state.get("batch_no")) \
            or header.get("tx_id") != tx_id:
        raise InvalidInput(f"the written batch header is not that of record {record_id}'s batch in {tx_id}")
    record = _record(leaf, record_id)
    if sm3_hex(leaf) != state.get("digest"):
        raise InvalidInput(f"the ingested record's bytes do not hash (SM3) to the digest of {record_id} on chain")
    if "record" in state and canonical_json(state["record"]) != leaf:
        raise InvalidInput(f"the ingested record's bytes differ from the world-state copy of {record_id}")
    if proof.index != state.get("leaf_index") or proof.size != header.get("count"):
        raise InvalidInput(f"the inclusion proof is for leaf {proof.index} of {proof.size}; {record_id} is leaf "
                           f"{state.get('leaf_index')} of a batch of {header.get('count')}")
    root = header.get("merkle_root")
    try:
        verify_inclusion(leaf, proof, root if isinstance(root, str) else "")
    except InvalidProof as exc:
        raise InvalidInput(f"the batch inclusion proof does not hold: {exc}") from exc
    for field, want in (("batchNo", "batch_no"), ("txCode", "txcode"), ("busType", "bus_type")):
        if field in record and record[field] != header.get(want):
            raise InvalidInput(f"the ingested record's {field} does not agree with its batch header")
    return record


def masked(record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(the record with its personal fields masked as ``ingest:get`` masks them, the fields masked)."""
    return masked_fields(record)
