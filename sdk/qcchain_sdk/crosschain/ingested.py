"""Export of a cross-chain bundle for an **ingested** record (anchored by ``ingest:anchor`` in a batch whose
SM3 Merkle root is on chain), checked by ``qcchain_contracts.bundleverify`` / ``.crosschain_ingest``.

The bundle carries the anchoring transaction's block (it writes the record's state and the batch header),
the record's canonical bytes and its Merkle path (``ingest``), and no key proof. Where the bytes and path
come from:

* records placed in world state (L1/L2): rebuilt from that same transaction's write set, which holds every
  record of the batch with its leaf index -- nothing but the chain is needed;
* sealed records (L3, ``private_encrypted``) and deletes: the chain holds only digests, so the caller passes
  the inclusion proof kept by the ingestion service (``qcchain ingest proof ID`` / ``GET /proof/{ID}``:
  ``{record, proof, ...}``); it is checked here against the on-chain root before anything is written.

Exporting a sealed record discloses its plaintext to the receiving chain: refused unless
``disclose_private`` is set.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2

from qcchain_core.canonical import canonical_json
from qcchain_model.errors import InvalidProof
from qcchain_model.merkle import InclusionProof, MerkleTree, verify_inclusion

from ..contractlike import Evaluator
from .anchors import config_msps, explicit_policy
from .bundle import BUNDLE_FORMAT, BundleError, attestation, trimmed_block, tx_index

log = logging.getLogger(__name__)

__all__ = ["export_ingested_bundle", "anchor_writes"]

_REC = "\x00ing.rec\x00"
_BATCH = "\x00ing.batch\x00"


def anchor_writes(block_bytes: bytes, index: int, chaincode: str) -> dict[str, bytes]:
    """The public writes (key -> value; deletes omitted) of transaction ``index`` to ``chaincode``.

    Raises:
        BundleError: the transaction cannot be decoded.
    """
    try:
        block = common_pb2.Block.FromString(block_bytes)
        payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(block.data.data[index]).payload)
        tx = transaction_pb2.Transaction.FromString(payload.data)
        cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
        prp = proposal_response_pb2.ProposalResponsePayload.FromString(cap.action.proposal_response_payload)
        rwset = rwset_pb2.TxReadWriteSet.FromString(proposal_pb2.ChaincodeAction.FromString(prp.extension).results)
    except Exception as exc:  # noqa: BLE001 - any decode failure
        raise BundleError(f"transaction {index} of the anchoring block cannot be decoded") from exc
    out: dict[str, bytes] = {}
    for ns in rwset.ns_rwset:
        if ns.namespace == chaincode:
            out.update({w.key: bytes(w.value) for w in kv_rwset_pb2.KVRWSet.FromString(ns.rwset).writes
                        if not w.is_delete})
    return out


def _from_writes(writes: dict[str, bytes], state: dict[str, Any], count: int) -> tuple[bytes, dict[str, Any]] | None:
    """(leaf, proof) rebuilt from the batch's world-state copies, or None when some record is not in them."""
    leaves: dict[int, bytes] = {}
    for key, value in writes.items():
        if key.startswith(_REC):
            doc = json.loads(value)
            if doc.get("batch_no") == state["batch_no"] and doc.get("appid") == state["appid"] and "record" in doc:
                leaves[int(doc["leaf_index"])] = canonical_json(doc["record"])
    if sorted(leaves) != list(range(count)):
        return None
    tree = MerkleTree([leaves[i] for i in range(count)])
    index = int(state["leaf_index"])
    return leaves[index], tree.proof(index).to_dict()


def export_ingested_bundle(ingest: Evaluator, qscc: Evaluator, channel: str, chaincode: str, record_id: str,
                           endorsement_rule: str, exported_at: int, inclusion: dict[str, Any] | None = None,
                           disclose_private: bool = False, attestor: Any = None) -> dict[str, Any]:
    """The bundle of ingested record ``record_id``'s current version on ``channel``.

    ``ingest`` evaluates the ``ingest`` contract (``get``); ``inclusion`` is ``{record, proof}`` from the
    ingestion service (needed for sealed records and deletes, checked against the chain when given);
    ``attestor`` (a Gateway contract of the chaincode) adds the attestation (``ingest:get`` endorsed).

    Raises:
        BundleError: no anchoring transaction, a sealed record without ``disclose_private``, no inclusion
            proof where one is needed, or a given proof that does not lead to the on-chain root.
        qcchain_gateway.errors.EvaluateError: a query failed (NotFoundError for an unknown record).
    """
    state = json.loads(ingest.evaluate_transaction("get", record_id))
    if not state.get("tx_id"):
        raise BundleError(f"ingested record {record_id} has no anchoring transaction id")
    if state.get("placement") == "private_encrypted" and not disclose_private:
        raise BundleError(f"ingested record {record_id} is sealed ({state.get('grade')}); its bundle discloses the "
                          "record to the receiving chain: export it only with disclose_private (--disclose-private)")
    raw = trimmed_block(qscc.evaluate_transaction("GetBlockByTxID", channel, state["tx_id"]))
    index = tx_index(raw, state["tx_id"])
    writes = anchor_writes(raw, index, chaincode)
    header_key = _BATCH + state["appid"] + "\x00" + state["batch_no"] + "\x00"
    if header_key not in writes:
        raise BundleError(f"the anchoring transaction of {record_id} does not write its batch header")
    header = json.loads(writes[header_key])
    if inclusion is not None:
        leaf, proof = canonical_json(inclusion["record"]), dict(inclusion["proof"])
        try:
            verify_inclusion(leaf, InclusionProof.from_dict(proof), header["merkle_root"])
        except InvalidProof as exc:
            raise BundleError(f"the given inclusion proof of {record_id} does not hold on chain: {exc}") from exc
    else:
        rebuilt = _from_writes(writes, state, int(header["count"]))
        if rebuilt is None:
            raise BundleError(f"record {record_id}'s batch is not in world state (sealed or deleted): pass its "
                              "inclusion proof from the ingestion service (qcchain ingest proof ID)")
        leaf, proof = rebuilt
    config_block = qscc.evaluate_transaction("GetBlockByNumber", channel, "0")
    app, orderer = config_msps(config_block)
    bundle = {"format": BUNDLE_FORMAT, "record_id": record_id, "source": {"channel": channel, "chaincode": chaincode},
              "record_proof": {"block": base64.b64encode(raw).decode("ascii"), "tx_index": index}, "key_proof": None,
              "config": {"block": base64.b64encode(config_block).decode("ascii"), "msps": app, "orderer_msps": orderer,
                         "endorsement_policy": explicit_policy(endorsement_rule, sorted(app))},
              "ingest": {"leaf": base64.b64encode(leaf).decode("ascii"), "proof": proof}, "exported_at": exported_at}
    if attestor is not None:
        bundle["attestation"] = attestation(attestor, "ingest:get", record_id)
    return bundle
