"""Export of a cross-chain proof bundle for one record (format ``qcchain-crosschain-bundle/1``, checked by
``qcchain_contracts.bundleverify``) through an ordinary Gateway connection of the source network.

From the source: ``records:get`` gives the record's last transaction id and signer key, ``keys:get`` the key's
registration transaction, and ``qscc`` (``GetBlockByTxID`` / ``GetBlockByNumber``) the two blocks and the
channel config block; the config's MSPs (with CRLs) and the endorsement policy travel in ``config``.
The whole block of each transaction is carried (Fabric's data hash covers every transaction of a block):
other transactions of those blocks are disclosed with it. Blocks are trimmed of the metadata no orderer signs
(:func:`trimmed_block`). With a Gateway contract of the chaincode, the bundle also carries its attestation
(:func:`attestation`: the record read, endorsed by the source's peers, not submitted).
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2

from ..contractlike import Evaluator
from ..errors import AppError
from .anchors import config_msps, explicit_policy

log = logging.getLogger(__name__)

__all__ = ["BUNDLE_FORMAT", "BundleError", "tx_index", "trimmed_block", "attestation", "export_bundle"]

BUNDLE_FORMAT = "qcchain-crosschain-bundle/1"


class BundleError(AppError, ValueError):
    """A bundle cannot be exported (record or key transaction not found in its block)."""


def tx_index(block_bytes: bytes, tx_id: str) -> int:
    """Position of ``tx_id`` in a block.

    Raises:
        BundleError: the block does not hold it.
    """
    block = common_pb2.Block.FromString(block_bytes)
    for i, raw in enumerate(block.data.data):
        payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(raw).payload)
        if common_pb2.ChannelHeader.FromString(payload.header.channel_header).tx_id == tx_id:
            return i
    raise BundleError(f"block {block.header.number} does not hold transaction {tx_id}")


#: Block metadata entries no orderer signs (LAST_CONFIG, ORDERER: deprecated; COMMIT_HASH: peer-local).
UNSIGNED_METADATA = (1, 3, 4)


def trimmed_block(raw: bytes) -> bytes:
    """The block as a bundle carries it: unsigned metadata entries emptied, canonical protobuf encoding (the
    verifier, ``qcchain_contracts.crosschain_block``, refuses anything else: no signature covers it).

    Raises:
        BundleError: not a block.
    """
    try:
        block = common_pb2.Block.FromString(raw)
    except Exception as exc:  # noqa: BLE001 - any decode failure
        raise BundleError("the source returned bytes that are not a block") from exc
    for i in UNSIGNED_METADATA:
        if i < len(block.metadata.metadata):
            block.metadata.metadata[i] = b""
    block.DiscardUnknownFields()
    return block.SerializeToString(deterministic=True)


def _proof(qscc: Evaluator, channel: str, tx_id: str) -> dict[str, Any]:
    raw = trimmed_block(qscc.evaluate_transaction("GetBlockByTxID", channel, tx_id))
    return {"block": base64.b64encode(raw).decode("ascii"), "tx_index": tx_index(raw, tx_id)}


def attestation(contract: Any, function: str, record_id: str) -> dict[str, str]:
    """The bundle's attestation (checked by ``qcchain_contracts.crosschain_attest``), ``{envelope}`` (base64
    ``common.Envelope``): ``function`` (``records:get`` / ``ingest:get``) of ``record_id`` endorsed by the
    source's peers through ``contract`` -- a ``qcchain_gateway`` Contract of the chaincode's default contract --
    and never submitted (nothing is written on the source). Its read set shows the record's version in the
    peers' committed state: the bundle's transaction committed VALID and was current at the proposal's time.

    Raises:
        BundleError: ``contract`` cannot build proposals (not a Gateway contract).
        qcchain_gateway.errors.EndorseError: the peers did not endorse the read (NotFound, Forbidden...).
    """
    if not hasattr(contract, "new_proposal"):
        raise BundleError("an attestation needs a Gateway contract of the source chaincode (new_proposal)")
    transaction = contract.new_proposal(function, arguments=[record_id]).endorse()
    envelope = gateway_pb2.PreparedTransaction.FromString(transaction.bytes()).envelope
    return {"envelope": base64.b64encode(envelope.SerializeToString()).decode("ascii")}


def export_bundle(records: Evaluator, keys: Evaluator, qscc: Evaluator, channel: str, chaincode: str,
                  record_id: str, endorsement_rule: str, exported_at: int, attestor: Any = None) -> dict[str, Any]:
    """The bundle of ``record_id``'s current version on ``channel``; with ``attestor`` (a Gateway contract of
    the chaincode) also its attestation (``records:get`` endorsed, not submitted; :mod:`.attest`).

    Raises:
        BundleError: the record has no transaction id or its signer key no registration transaction.
        qcchain_gateway.errors.EvaluateError: a query failed (e.g. NotFoundError for an unknown record).
    """
    meta = json.loads(records.evaluate_transaction("get", record_id))
    key = json.loads(keys.evaluate_transaction("get", meta["key_id"]))
    if not meta.get("tx_id") or not key.get("registered_tx"):
        raise BundleError(f"record {record_id} or its key has no transaction id on the source")
    config_block = qscc.evaluate_transaction("GetBlockByNumber", channel, "0")
    app, orderer = config_msps(config_block)
    bundle = {"format": BUNDLE_FORMAT, "record_id": record_id, "source": {"channel": channel, "chaincode": chaincode},
              "record_proof": _proof(qscc, channel, meta["tx_id"]), "key_proof": _proof(qscc, channel, key["registered_tx"]),
              "config": {"block": base64.b64encode(config_block).decode("ascii"), "msps": app, "orderer_msps": orderer,
                         "endorsement_policy": explicit_policy(endorsement_rule, sorted(app))},
              "ingest": None, "exported_at": exported_at}
    if attestor is not None:
        bundle["attestation"] = attestation(attestor, "records:get", record_id)
    return bundle
