"""Fields of a transaction derived from its SignedProposal, as fabric-chaincode-go's newChaincodeStub."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from fabric_protos.common import common_pb2
from fabric_protos.peer.proposal_pb2 import ChaincodeProposalPayload, Proposal, SignedProposal
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from .errors import ChaincodeProtocolError

_VALID_TYPES = (common_pb2.HeaderType.ENDORSER_TRANSACTION, common_pb2.HeaderType.CONFIG)
_EPOCH = struct.Struct("<Q")
_sha256 = hashlib.sha256


@dataclass(slots=True)
class ProposalFields:
    """Creator, transient map, timestamp and binding of a proposal (empty when there is none)."""

    creator: bytes = b""
    transient: dict[str, bytes] = field(default_factory=dict)
    timestamp: Timestamp | None = None
    binding: bytes = b""


def parse_proposal(signed: SignedProposal | None) -> ProposalFields:
    """Extract the proposal fields.

    Raises:
        ChaincodeProtocolError: the proposal, its header, channel header, signature header or payload is
            malformed, or the header type is neither ENDORSER_TRANSACTION nor CONFIG.
    """
    if signed is None or not signed.proposal_bytes:
        return ProposalFields()
    try:
        proposal = Proposal.FromString(signed.proposal_bytes)
        if not proposal.header:
            raise ChaincodeProtocolError("failed to extract Proposal fields: proposal header is nil")
        header = common_pb2.Header.FromString(proposal.header)
        channel_header = common_pb2.ChannelHeader.FromString(header.channel_header)
        if channel_header.type not in _VALID_TYPES:
            raise ChaincodeProtocolError(f"invalid channel header type {channel_header.type}")
        signature_header = common_pb2.SignatureHeader.FromString(header.signature_header)
        payload = ChaincodeProposalPayload.FromString(proposal.payload)
    except DecodeError as exc:
        raise ChaincodeProtocolError(f"failed to extract proposal fields: {exc}") from exc
    creator = signature_header.creator
    binding = _sha256(signature_header.nonce + creator + _EPOCH.pack(channel_header.epoch)).digest()
    transient = payload.TransientMap
    return ProposalFields(creator, dict(transient) if transient else {}, channel_header.timestamp, binding)
