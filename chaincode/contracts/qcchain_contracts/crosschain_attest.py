"""The attestation of a cross-chain bundle: the source's peers endorse, at export time, a read of the record
(pure; rules rung).

A block proves that a transaction was *ordered*, not that the peers committed it: the validation flags are
set by each peer and signed by nobody (:mod:`.crosschain_block`), and a bundle of version h says nothing of a
newer one. The exporter therefore also has the record read through the source's own gateway -- ``records:get``
or ``ingest:get`` endorsed by the source's peers but never submitted -- and the bundle carries that endorsed
envelope (``attestation: {envelope}``, base64 ``common.Envelope``). Its read set holds the record key with
the version the endorsing peers' committed state had: a (block, transaction) version exists only for a
committed VALID write. :func:`verify_attestation` checks the envelope's endorsements against the registered
MSPs and endorsement policy (at the proposal's time, bound to the endorsements by the proposal hash) and that
the version read is exactly the bundle's transaction: that write committed, and was still the record's
current version when the endorsers read it (``attested_at``). The envelope is unsigned by its creator (the
endorsements are its authority) and must carry no byte they do not cover: canonical encoding at every level,
one action whose header is the payload's signature header.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2

from .errors import InvalidInput
from .fabricpolicy import parse_policy, policy_satisfied
from .fabricproof import ProvenTx, TrustAnchors, endorsements, read_versions, require_proposal_hash

log = logging.getLogger(__name__)

__all__ = ["parse_attestation", "verify_attestation", "MAX_ATTESTATION"]

MAX_ATTESTATION = 256 * 1024
_ENDORSER_TRANSACTION = 3


def parse_attestation(value: Any) -> bytes | None:
    """The attestation envelope's bytes, or None when the bundle has none.

    Raises:
        InvalidInput: not null or ``{envelope}`` (base64, at most :data:`MAX_ATTESTATION` bytes).
    """
    if value is None:
        return None
    if not isinstance(value, dict) or sorted(value) != ["envelope"]:
        raise InvalidInput("bundle attestation must be null or {envelope}")
    try:
        raw = base64.b64decode(value["envelope"], validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise InvalidInput("bundle attestation.envelope is not base64") from exc
    if not 0 < len(raw) <= MAX_ATTESTATION:
        raise InvalidInput(f"bundle attestation.envelope must be 1..{MAX_ATTESTATION} bytes")
    return raw


def _canonical(cls: Any, raw: bytes) -> Any:
    """Decode ``raw`` as ``cls`` and refuse unknown fields or any encoding but the canonical one (bytes that no
    hash or signature would cover)."""
    message = cls.FromString(raw)
    clean = cls.FromString(raw)
    clean.DiscardUnknownFields()
    if clean.SerializeToString(deterministic=True) != raw:
        raise InvalidInput(f"the attestation's {cls.DESCRIPTOR.name} is not in canonical protobuf encoding")
    return message


def verify_attestation(raw: bytes, anchors: TrustAnchors, key: str, what: str, record_tx: ProvenTx) -> dict[str, Any]:
    """Check an attestation envelope (see module doc) for state key ``key`` (``what`` names it in errors)
    written by ``record_tx``. Returns ``{attested_at, attested_by, attestation_tx_id}``.

    Raises:
        InvalidInput: undecodable, another channel/chaincode, not a successful read, another proposal's
            endorsements, policy not met, the key not read, read absent or at another version, older than the
            record. Forbidden: an endorser outside the registered MSPs.
    """
    try:
        env = _canonical(common_pb2.Envelope, raw)
        payload = _canonical(common_pb2.Payload, env.payload)
        chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        tx = _canonical(transaction_pb2.Transaction, payload.data)
        cap = _canonical(transaction_pb2.ChaincodeActionPayload, tx.actions[0].payload)
        prp = proposal_response_pb2.ProposalResponsePayload.FromString(cap.action.proposal_response_payload)
        action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
        rwset = rwset_pb2.TxReadWriteSet.FromString(action.results)
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - any decode failure
        raise InvalidInput("the attestation envelope cannot be decoded") from exc
    if env.signature or len(tx.actions) != 1 or tx.actions[0].header != payload.header.signature_header:
        raise InvalidInput("the attestation carries bytes no endorsement covers (a creator signature, another "
                           "action or action header)")
    if chdr.type != _ENDORSER_TRANSACTION or chdr.channel_id != anchors.channel:
        raise InvalidInput(f"the attestation is not an endorsed proposal on channel {anchors.channel}")
    if action.chaincode_id.name != anchors.chaincode or action.response.status != 200:
        raise InvalidInput(f"the attestation is not a successful read of {anchors.chaincode}")
    require_proposal_hash(payload, cap, prp, chdr.tx_id)
    at = int(chdr.timestamp.seconds)
    endorsers = endorsements(cap, at, anchors)
    if not policy_satisfied(parse_policy(anchors.endorsement_policy), endorsers):
        raise InvalidInput(f"the attestation's endorsements ({', '.join(m for m, _ in endorsers) or 'none'}) do not "
                           f"satisfy the endorsement policy {anchors.endorsement_policy}")
    versions = read_versions(rwset, anchors.chaincode)
    if key not in versions:
        raise InvalidInput(f"the attestation does not read {what}")
    version = versions[key]
    if version != (record_tx.block, record_tx.index):
        shown = "absent" if version is None else f"at block {version[0]} transaction {version[1]}"
        raise InvalidInput(f"the source's peers read {what} {shown}, not as written by the bundle's transaction "
                           f"(block {record_tx.block} transaction {record_tx.index}): a newer version exists or that "
                           "write never committed")
    if at < record_tx.timestamp:
        raise InvalidInput("the attestation is older than the record's transaction")
    return {"attested_at": at, "attested_by": [m for m, _ in endorsers], "attestation_tx_id": chdr.tx_id}
