"""Fabric message helpers, following hyperledger/fabric ``protoutil`` (v3).

Unpacking of signed proposals, transaction ids, proposal hashes, block header/data hashes, ECDSA
signing with low-S normalisation, and builders for proposals, proposal responses and transaction
envelopes (used by the gateway and by tests that act as a client).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from fabric_protos.common import common_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import (
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from .errors import UnpackError

__all__ = [
    "P256_N",
    "UnpackedProposal",
    "block_data_hash",
    "block_header_bytes",
    "block_header_hash",
    "compute_tx_id",
    "new_signed_proposal",
    "new_transaction_envelope",
    "proposal_hash",
    "serialize_identity",
    "sha256",
    "sign_ecdsa",
    "timestamp_now",
    "unpack_envelope",
    "unpacked_proposal_hash",
    "unpack_signed_proposal",
    "verify_ecdsa",
]

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_HALF_N = P256_N >> 1


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of ``data``."""
    return hashlib.sha256(data).digest()


def compute_tx_id(nonce: bytes, creator: bytes) -> str:
    """Transaction id as Fabric computes it: hex SHA-256 of nonce || serialized creator."""
    return hashlib.sha256(nonce + creator).hexdigest()


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der_int(v: int) -> bytes:
    raw = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True)
    return b"\x02" + _der_len(len(raw)) + raw


def _der_octets(b: bytes) -> bytes:
    return b"\x04" + _der_len(len(b)) + b


def block_header_bytes(header: common_pb2.BlockHeader) -> bytes:
    """ASN.1 DER of (number INTEGER, previous_hash OCTET STRING, data_hash OCTET STRING), as protoutil."""
    body = _der_int(header.number) + _der_octets(header.previous_hash) + _der_octets(header.data_hash)
    return b"\x30" + _der_len(len(body)) + body


def block_header_hash(header: common_pb2.BlockHeader) -> bytes:
    """SHA-256 of the header's DER encoding (``protoutil.BlockHeaderHash``)."""
    return sha256(block_header_bytes(header))


def block_data_hash(data: common_pb2.BlockData) -> bytes:
    """SHA-256 of the concatenated envelopes (``protoutil.ComputeBlockDataHash``, v3)."""
    return sha256(b"".join(data.data))


def timestamp_now() -> Timestamp:
    """The current time as a protobuf Timestamp (used by clients and the block writer, never by chaincode)."""
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts


@dataclass
class UnpackedProposal:
    """A signed proposal decoded into the parts the endorser needs."""

    signed: proposal_pb2.SignedProposal
    proposal: proposal_pb2.Proposal
    channel_header: common_pb2.ChannelHeader
    signature_header: common_pb2.SignatureHeader
    payload: proposal_pb2.ChaincodeProposalPayload
    spec: chaincode_pb2.ChaincodeSpec
    creator: identities_pb2.SerializedIdentity
    transient: dict[str, bytes] = field(default_factory=dict)
    header: common_pb2.Header | None = None
    stripped_payload: bytes = b""
    """The ChaincodeProposalPayload without its transient map, marshalled (what the transaction carries)."""

    @property
    def channel_id(self) -> str:
        """The channel named in the channel header."""
        return self.channel_header.channel_id

    @property
    def tx_id(self) -> str:
        """The transaction id named in the channel header."""
        return self.channel_header.tx_id

    @property
    def chaincode(self) -> str:
        """The chaincode name being invoked."""
        return self.spec.chaincode_id.name

    @property
    def args(self) -> list[bytes]:
        """The invocation arguments (function name first)."""
        return list(self.spec.input.args)


def _parse(cls: type, data: bytes, what: str):
    msg = cls()
    try:
        msg.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise UnpackError(f"error unmarshalling {what}: {exc}") from exc
    return msg


def unpack_signed_proposal(raw: proposal_pb2.SignedProposal | bytes) -> UnpackedProposal:
    """Decode a SignedProposal (or its bytes) down to the chaincode invocation spec.

    Raises:
        UnpackError: any layer is not a valid Fabric message, or a required part is missing.
    """
    signed = raw if isinstance(raw, proposal_pb2.SignedProposal) else _parse(
        proposal_pb2.SignedProposal, raw, "SignedProposal")
    if not signed.proposal_bytes:
        raise UnpackError("proposal bytes are empty")
    proposal = _parse(proposal_pb2.Proposal, signed.proposal_bytes, "Proposal")
    header = _parse(common_pb2.Header, proposal.header, "Header")
    chdr = _parse(common_pb2.ChannelHeader, header.channel_header, "ChannelHeader")
    shdr = _parse(common_pb2.SignatureHeader, header.signature_header, "SignatureHeader")
    if chdr.type != common_pb2.ENDORSER_TRANSACTION:
        raise UnpackError(f"invalid header type {chdr.type}")
    payload = _parse(proposal_pb2.ChaincodeProposalPayload, proposal.payload, "ChaincodeProposalPayload")
    cis = _parse(chaincode_pb2.ChaincodeInvocationSpec, payload.input, "ChaincodeInvocationSpec")
    if not cis.chaincode_spec.chaincode_id.name:
        raise UnpackError("chaincode name is missing from the proposal")
    creator = _parse(identities_pb2.SerializedIdentity, shdr.creator, "SerializedIdentity")
    stripped = proposal_pb2.ChaincodeProposalPayload(input=payload.input).SerializeToString()
    return UnpackedProposal(signed=signed, proposal=proposal, channel_header=chdr, signature_header=shdr,
                            payload=payload, spec=cis.chaincode_spec, creator=creator,
                            transient=dict(payload.TransientMap), header=header, stripped_payload=stripped)


def unpacked_proposal_hash(up: UnpackedProposal) -> bytes:
    """:func:`proposal_hash` of an unpacked proposal, from the parts decoded once by
    :func:`unpack_signed_proposal` (nothing is parsed or marshalled again)."""
    if up.header is None or not up.stripped_payload:
        return proposal_hash(up.proposal)
    return sha256(up.header.channel_header + up.header.signature_header + up.stripped_payload)


def proposal_hash(proposal: proposal_pb2.Proposal) -> bytes:
    """``protoutil.GetProposalHash1``: SHA-256 over channel header, signature header and the payload
    without its transient map.

    Raises:
        UnpackError: the proposal's header or payload does not decode.
    """
    header = _parse(common_pb2.Header, proposal.header, "Header")
    payload = _parse(proposal_pb2.ChaincodeProposalPayload, proposal.payload, "ChaincodeProposalPayload")
    stripped = proposal_pb2.ChaincodeProposalPayload(input=payload.input).SerializeToString()
    return sha256(header.channel_header + header.signature_header + stripped)


def sign_ecdsa(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA-SHA256 DER signature over ``data`` with S normalised to the lower half (as Fabric's BCCSP)."""
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    if s > _HALF_N:
        s = P256_N - s
    return encode_dss_signature(r, s)


def verify_ecdsa(public_key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    """True if ``signature`` is a valid low-S ECDSA-SHA256 signature of ``data`` (False otherwise)."""
    try:
        _r, s = decode_dss_signature(signature)
    except (ValueError, TypeError):
        return False
    if s > _HALF_N:
        return False
    try:
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def serialize_identity(msp_id: str, cert_pem: bytes) -> bytes:
    """``msp.SerializedIdentity`` bytes for an MSP ID and PEM certificate."""
    return identities_pb2.SerializedIdentity(mspid=msp_id, id_bytes=cert_pem).SerializeToString()


def new_signed_proposal(key: ec.EllipticCurvePrivateKey, creator: bytes, channel: str, chaincode: str,
                        args: list[bytes], transient: dict[str, bytes] | None = None,
                        nonce: bytes | None = None) -> tuple[proposal_pb2.SignedProposal, str]:
    """A client-side signed endorser proposal (as fabric-gateway builds it); returns it and its tx id."""
    nonce = nonce if nonce is not None else os.urandom(24)
    tx_id = compute_tx_id(nonce, creator)
    ext = proposal_pb2.ChaincodeHeaderExtension(chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode))
    chdr = common_pb2.ChannelHeader(type=common_pb2.ENDORSER_TRANSACTION, channel_id=channel, tx_id=tx_id,
                                    timestamp=timestamp_now(), extension=ext.SerializeToString())
    shdr = common_pb2.SignatureHeader(creator=creator, nonce=nonce)
    header = common_pb2.Header(channel_header=chdr.SerializeToString(), signature_header=shdr.SerializeToString())
    cis = chaincode_pb2.ChaincodeInvocationSpec(chaincode_spec=chaincode_pb2.ChaincodeSpec(
        type=chaincode_pb2.ChaincodeSpec.GOLANG, chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode),
        input=chaincode_pb2.ChaincodeInput(args=args)))
    payload = proposal_pb2.ChaincodeProposalPayload(input=cis.SerializeToString(), TransientMap=transient or {})
    proposal = proposal_pb2.Proposal(header=header.SerializeToString(), payload=payload.SerializeToString())
    raw = proposal.SerializeToString()
    return proposal_pb2.SignedProposal(proposal_bytes=raw, signature=sign_ecdsa(key, raw)), tx_id


def new_transaction_envelope(unpacked: UnpackedProposal,
                             responses: list[proposal_response_pb2.ProposalResponse]) -> common_pb2.Envelope:
    """The unsigned transaction envelope assembled from endorsements (``protoutil.CreateSignedTx`` minus
    the signature): the proposal header, one action with the payload stripped of its transient map.

    Raises:
        UnpackError: no response is given, or the responses' payloads differ.
    """
    if not responses:
        raise UnpackError("at least one proposal response is required")
    prp = responses[0].payload
    if any(r.payload != prp for r in responses):
        raise UnpackError("ProposalResponsePayloads do not match")
    stripped = unpacked.stripped_payload or proposal_pb2.ChaincodeProposalPayload(
        input=unpacked.payload.input).SerializeToString()
    action = transaction_pb2.ChaincodeActionPayload(
        chaincode_proposal_payload=stripped,
        action=transaction_pb2.ChaincodeEndorsedAction(proposal_response_payload=prp,
                                                       endorsements=[r.endorsement for r in responses]))
    header = unpacked.header or _parse(common_pb2.Header, unpacked.proposal.header, "Header")
    tx = transaction_pb2.Transaction(actions=[transaction_pb2.TransactionAction(
        header=header.signature_header, payload=action.SerializeToString())])
    payload = common_pb2.Payload(header=header, data=tx.SerializeToString())
    return common_pb2.Envelope(payload=payload.SerializeToString())


@dataclass
class UnpackedEnvelope:
    """An endorser-transaction envelope decoded down to its single chaincode action."""

    envelope: common_pb2.Envelope
    payload: common_pb2.Payload
    channel_header: common_pb2.ChannelHeader
    signature_header: common_pb2.SignatureHeader
    creator: identities_pb2.SerializedIdentity
    action_payload: transaction_pb2.ChaincodeActionPayload | None
    prp: proposal_response_pb2.ProposalResponsePayload | None
    cc_action: proposal_pb2.ChaincodeAction | None


def unpack_envelope(raw: common_pb2.Envelope | bytes) -> UnpackedEnvelope:
    """Decode a transaction envelope; the action parts are None for non-endorser transactions.

    Raises:
        UnpackError: any layer is not a valid Fabric message.
    """
    env = raw if isinstance(raw, common_pb2.Envelope) else _parse(common_pb2.Envelope, raw, "Envelope")
    payload = _parse(common_pb2.Payload, env.payload, "Payload")
    chdr = _parse(common_pb2.ChannelHeader, payload.header.channel_header, "ChannelHeader")
    shdr = _parse(common_pb2.SignatureHeader, payload.header.signature_header, "SignatureHeader")
    creator = _parse(identities_pb2.SerializedIdentity, shdr.creator, "SerializedIdentity")
    if chdr.type != common_pb2.ENDORSER_TRANSACTION:
        return UnpackedEnvelope(env, payload, chdr, shdr, creator, None, None, None)
    tx = _parse(transaction_pb2.Transaction, payload.data, "Transaction")
    if len(tx.actions) != 1:
        raise UnpackError(f"expected exactly one action, got {len(tx.actions)}")
    cap = _parse(transaction_pb2.ChaincodeActionPayload, tx.actions[0].payload, "ChaincodeActionPayload")
    prp = _parse(proposal_response_pb2.ProposalResponsePayload, cap.action.proposal_response_payload,
                 "ProposalResponsePayload")
    cca = _parse(proposal_pb2.ChaincodeAction, prp.extension, "ChaincodeAction")
    return UnpackedEnvelope(env, payload, chdr, shdr, creator, cap, prp, cca)
