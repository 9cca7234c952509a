"""Entry point: :func:`connect` returns a :class:`Gateway` bound to one identity and one gRPC channel."""

from __future__ import annotations

import logging

import grpc
from fabric_protos.gateway import gateway_pb2

from qcchain_gateway.client import GatewayClient, SigningIdentity, Timeouts
from qcchain_gateway.commit import Commit
from qcchain_gateway.events import ChaincodeEventsRequest
from qcchain_gateway.identity import HashFunction, Identity, Signer, no_signer, sha256
from qcchain_gateway.network import Network
from qcchain_gateway.parsing import channel_of_proposal, unmarshal
from qcchain_gateway.proposal import Proposal
from qcchain_gateway.transaction import Transaction

logger = logging.getLogger(__name__)


class Gateway:
    """A connection to a Fabric Gateway for one client identity. Use as a context manager."""

    def __init__(
        self,
        channel: grpc.Channel,
        signing_identity: SigningIdentity,
        timeouts: Timeouts,
        owns_channel: bool = False,
    ) -> None:
        self._channel = channel
        self._signing_identity = signing_identity
        self._client = GatewayClient(channel, timeouts)
        self._owns_channel = owns_channel

    @property
    def identity(self) -> Identity:
        """The client identity."""
        return self._signing_identity.identity

    @property
    def timeouts(self) -> Timeouts:
        """Default per-call deadlines."""
        return self._client.timeouts

    def get_network(self, channel: str) -> Network:
        """The channel named ``channel``.

        Raises:
            ValueError: ``channel`` is empty.
        """
        if not channel:
            raise ValueError("channel name is empty")
        return Network(self._client, self._signing_identity, channel)

    def close(self) -> None:
        """Close the gRPC channel if this gateway opened it (e.g. via ``connect_profile``)."""
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> "Gateway":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Offline signing: rebuild objects from bytes produced by .bytes(), attach a signature made elsewhere.

    def new_proposal(self, data: bytes) -> Proposal:
        """Rebuild a proposal from ``Proposal.bytes()``.

        Raises:
            ProtocolError: ``data`` is not a serialized ``ProposedTransaction``.
        """
        proposed = unmarshal(gateway_pb2.ProposedTransaction, data, "proposed transaction")
        channel = channel_of_proposal(proposed.proposal.proposal_bytes)
        return Proposal(self._client, self._signing_identity, channel, proposed)

    def new_signed_proposal(self, data: bytes, signature: bytes) -> Proposal:
        """Rebuild a proposal and attach ``signature`` (over ``Proposal.digest()``).

        Raises:
            ProtocolError: ``data`` is not a serialized ``ProposedTransaction``.
        """
        proposal = self.new_proposal(data)
        proposal.set_signature(signature)
        return proposal

    def new_transaction(self, data: bytes) -> Transaction:
        """Rebuild an endorsed transaction from ``Transaction.bytes()``.

        Raises:
            ProtocolError: ``data`` is not a serialized ``PreparedTransaction``.
        """
        prepared = unmarshal(gateway_pb2.PreparedTransaction, data, "prepared transaction")
        return Transaction(self._client, self._signing_identity, prepared)

    def new_signed_transaction(self, data: bytes, signature: bytes) -> Transaction:
        """Rebuild an endorsed transaction and attach ``signature`` (over ``Transaction.digest()``).

        Raises:
            ProtocolError: ``data`` is not a serialized ``PreparedTransaction``.
        """
        transaction = self.new_transaction(data)
        transaction.set_signature(signature)
        return transaction

    def new_commit(self, data: bytes) -> Commit:
        """Rebuild a commit-status handle from ``Commit.bytes()``.

        Raises:
            ProtocolError: ``data`` is not a serialized ``SignedCommitStatusRequest``.
        """
        signed = unmarshal(gateway_pb2.SignedCommitStatusRequest, data, "signed commit status request")
        request = unmarshal(gateway_pb2.CommitStatusRequest, signed.request, "commit status request")
        return Commit(self._client, self._signing_identity, request.transaction_id, signed)

    def new_signed_commit(self, data: bytes, signature: bytes) -> Commit:
        """Rebuild a commit-status handle and attach ``signature`` (over ``Commit.digest()``).

        Raises:
            ProtocolError: ``data`` is not a serialized ``SignedCommitStatusRequest``.
        """
        commit = self.new_commit(data)
        commit.set_signature(signature)
        return commit

    def new_chaincode_events_request(self, data: bytes) -> ChaincodeEventsRequest:
        """Rebuild an events request from ``ChaincodeEventsRequest.bytes()``.

        Raises:
            ProtocolError: ``data`` is not a serialized ``SignedChaincodeEventsRequest``.
        """
        signed = unmarshal(gateway_pb2.SignedChaincodeEventsRequest, data, "signed chaincode events request")
        unmarshal(gateway_pb2.ChaincodeEventsRequest, signed.request, "chaincode events request")
        return ChaincodeEventsRequest(self._client, self._signing_identity, signed)

    def new_signed_chaincode_events_request(self, data: bytes, signature: bytes) -> ChaincodeEventsRequest:
        """Rebuild an events request and attach ``signature``.

        Raises:
            ProtocolError: ``data`` is not a serialized ``SignedChaincodeEventsRequest``.
        """
        request = self.new_chaincode_events_request(data)
        request.set_signature(signature)
        return request


def connect(
    identity: Identity,
    client_connection: grpc.Channel,
    signer: Signer | None = None,
    *,
    hash: HashFunction = sha256,
    evaluate_timeout: float | None = None,
    endorse_timeout: float | None = None,
    submit_timeout: float | None = None,
    commit_status_timeout: float | None = None,
    chaincode_events_timeout: float | None = None,
    close_connection: bool = False,
) -> Gateway:
    """Connect ``identity`` to the Gateway reachable over ``client_connection``.

    ``signer`` signs digests made by ``hash``; without it only offline signing works. Timeouts (seconds)
    override the defaults of :class:`~qcchain_gateway.client.Timeouts`; each call can override them again.
    With ``close_connection`` the gateway closes the channel on :meth:`Gateway.close`.

    Raises:
        TypeError: ``identity`` is not an :class:`Identity` or ``client_connection`` not a ``grpc.Channel``.
    """
    if not isinstance(identity, Identity):
        raise TypeError(f"connect: identity must be qcchain_sdk.Identity, not {type(identity).__name__}")
    if not isinstance(client_connection, grpc.Channel):
        raise TypeError(f"connect: client_connection must be a grpc.Channel, not {type(client_connection).__name__}")
    timeouts = Timeouts().with_overrides(
        evaluate=evaluate_timeout,
        endorse=endorse_timeout,
        submit=submit_timeout,
        commit_status=commit_status_timeout,
        chaincode_events=chaincode_events_timeout,
    )
    signing_identity = SigningIdentity(identity, signer or no_signer, hash)
    return Gateway(client_connection, signing_identity, timeouts, owns_channel=close_connection)
