"""Decoding of Fabric messages the SDK receives or is handed back for offline signing."""

from __future__ import annotations

from typing import TypeVar

from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2
from google.protobuf.message import DecodeError, Message

from qcchain_gateway.errors import ProtocolError

M = TypeVar("M", bound=Message)


def unmarshal(message_type: type[M], data: bytes, what: str) -> M:
    """Parse ``data`` as ``message_type``.

    Raises:
        ProtocolError: naming ``what`` if the bytes are not a valid message.
    """
    message = message_type()
    try:
        message.ParseFromString(bytes(data))
    except (DecodeError, TypeError, ValueError) as exc:
        raise ProtocolError(f"failed to deserialize {what}: {exc}") from exc
    return message


def channel_of_proposal(proposal_bytes: bytes) -> str:
    """The channel id in a serialized ``peer.Proposal``.

    Raises:
        ProtocolError: if the proposal, header or channel header cannot be decoded.
    """
    proposal = unmarshal(proposal_pb2.Proposal, proposal_bytes, "proposal")
    header = unmarshal(common_pb2.Header, proposal.header, "proposal header")
    return unmarshal(common_pb2.ChannelHeader, header.channel_header, "channel header").channel_id


def parse_envelope(envelope: common_pb2.Envelope) -> tuple[str, bytes]:
    """Channel id and chaincode result of an endorsed transaction envelope.

    Raises:
        ProtocolError: if the envelope is malformed or carries no proposal response.
    """
    payload = unmarshal(common_pb2.Payload, envelope.payload, "payload")
    channel_header = unmarshal(common_pb2.ChannelHeader, payload.header.channel_header, "channel header")
    transaction = unmarshal(transaction_pb2.Transaction, payload.data, "transaction")
    problems: list[str] = []
    for action in transaction.actions:
        try:
            return channel_header.channel_id, _result_of_action(action)
        except ProtocolError as exc:
            problems.append(str(exc))
    raise ProtocolError(f"no proposal response found in transaction envelope: {problems}")


def _result_of_action(action: transaction_pb2.TransactionAction) -> bytes:
    action_payload = unmarshal(transaction_pb2.ChaincodeActionPayload, action.payload, "chaincode action payload")
    response_payload = unmarshal(
        proposal_response_pb2.ProposalResponsePayload,
        action_payload.action.proposal_response_payload,
        "proposal response payload",
    )
    chaincode_action = unmarshal(proposal_pb2.ChaincodeAction, response_payload.extension, "chaincode action")
    return chaincode_action.response.payload
