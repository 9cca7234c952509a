"""Entry point: :func:`connect` returns a :class:`Gateway` bound to one identity and one gRPC channel.

:class:`GatewayCore` holds the transport-independent part (networks, offline-signing rebuilds); the
blocking :class:`Gateway` and :class:`qcchain_gateway.aio.AsyncGateway` only differ in their transport and
in how they close.
"""

from __future__ import annotations

import logging
from typing import Any, Generic, TypeVar

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

ClientT = TypeVar("ClientT")
NetworkT = TypeVar("NetworkT")
ProposalT = TypeVar("ProposalT")
TransactionT = TypeVar("TransactionT")
CommitT = TypeVar("CommitT")
EventsRequestT = TypeVar("EventsRequestT")


class GatewayCore(Generic[ClientT, NetworkT, ProposalT, TransactionT, CommitT, EventsRequestT]):
    """A Gateway connection for one identity, whatever the transport. Subclasses set the ``_*_type``s."""

    _network_type: Any = None
    _proposal_type: Any = None
    _transaction_type: Any = None
    _commit_type: Any = None
    _events_request_type: Any = None

    def __init__(self, client: ClientT, signing_identity: SigningIdentity, timeouts: Timeouts) -> None:
        self._client = client
        self._signing_identity = signing_identity
        self._timeouts = timeouts

    @property
    def identity(self) -> Identity:
        """The client identity."""
        return self._signing_identity.identity

    @property
    def timeouts(self) -> Timeouts:
        """Default per-call deadlines."""
        return self._timeouts

    def get_network(self, channel: str) -> NetworkT:
        """The channel named ``channel``.

        Raises:
            ValueError: ``channel`` is empty.
        """
        if not channel:
            raise ValueError("channel name is empty")
        return self._network_type(self._client, self._signing_identity, channel)  # type: ignore[no-any-return]

    # Offline signing: rebuild objects from bytes produced by .bytes(), attach a signature made elsewhere.

    def new_proposal(self, data: bytes) -> ProposalT:
        """Rebuild a proposal from ``Proposal.bytes()``.

        Raises:
            ProtocolError: ``data`` is not a serialized ``ProposedTransaction``.
        """
        proposed = unmarshal(gateway_pb2.ProposedTransaction, data, "proposed transaction")
        channel = channel_of_proposal(proposed.proposal.proposal_bytes)
        return self._proposal_type(self._client, self._signing_identity, channel, proposed)  # type: ignore[no-any-return]

    def new_signed_proposal(self, data: bytes, signature: bytes) -> ProposalT:
        """Rebuild a proposal and attach ``signature`` (over ``Proposal.digest()``).

        Raises:
            ProtocolError: ``data`` is not a serialized ``ProposedTransaction``.
        """
        proposal = self.new_proposal(data)
        proposal.set_signature(signature)  # type: ignore[attr-defined]
        return proposal

    def new_transaction(self, data: bytes) -> TransactionT:
        """Rebuild an endorsed transaction from ``Transaction.bytes()``.

        Raises:
            ProtocolError: ``data`` is not a serialized ``PreparedTransaction``.
        """
        prepared = unmarshal(gateway_pb2.PreparedTransaction, data, "prepared transaction")
        return self._transaction_type(self._client, self._signing_identity, prepared)  # type: ignore[no-any-return]

    def new_signed_transaction(self, data: bytes, signature: bytes) -> TransactionT:
        """Rebuild an endorsed transaction and attach ``signature`` (over ``Transaction.digest()``).

        Raises:
            ProtocolError: ``data`` is not a serialized ``PreparedTransaction``.
        """
        transaction = self.new_transaction(data)
        transaction.set_signature(signature)  # type: ignore[attr-defined]
        return transaction

    def new_commit(self, data: bytes) -> CommitT:
        """Rebuild a commit-status handle from ``Commit.bytes()``.

        Raises:
            ProtocolError: ``data`` is not a serialized ``SignedCommitStatusRequest``.
        """
        signed = unmarshal(gateway_pb2.SignedCommitStatusRequest, data, "signed commit status request")
        request = unmarshal(gateway_pb2.CommitStatusRequest, signed.request, "commit status request")
        return self._commit_type(self._client, self._signing_identity, request.transaction_id, signed)  # type: ignore[no-any-return]

    def new_signed_commit(self, data: bytes, signature: bytes) -> CommitT:
        """Rebuild a commit-status handle and attach ``signature`` (over ``Commit.digest()``).

        Raises:
            ProtocolError: ``data`` is not a serialized ``SignedCommitStatusRequest``.
        """
        commit = self.new_commit(data)
        commit.set_signature(signature)  # type: ignore[attr-defined]
        return commit

    def new_chaincode_events_request(self, data: bytes) -> EventsRequestT:
        """Rebuild an events request from ``ChaincodeEventsRequest.bytes()``.

        Raises:
            ProtocolError: ``data`` is not a serialized ``SignedChaincodeEventsRequest``.
        """
        signed = unmarshal(gateway_pb2.SignedChaincodeEventsRequest, data, "signed chaincode events request")
        unmarshal(gateway_pb2.ChaincodeEventsRequest, signed.request, "chaincode events request")
        return self._events_request_type(self._client, self._signing_identity, signed)  # type: ignore[no-any-return]

    def new_signed_chaincode_events_request(self, data: bytes, signature: bytes) -> EventsRequestT:
        """Rebuild an events request and attach ``signature``.

        Raises:
            ProtocolError: ``data`` is not a serialized ``SignedChaincodeEventsRequest``.
        """
        request = self.new_chaincode_events_request(data)
        request.set_signature(signature)  # type: ignore[attr-defined]
        return request


class Gateway(GatewayCore[GatewayClient, Network, Proposal, Transaction, Commit, ChaincodeEventsRequest]):
    """A connection to a Fabric Gateway for one client identity (blocking calls). Use as a context manager.

    Usage model (as the official ``fabric-gateway`` clients)::

        with connect(identity, grpc_channel, signer) as gateway:
            contract = gateway.get_network("qcchannel").get_contract("qcchain", "records")
            contract.evaluate_transaction("get", "id1")        # query: one peer, nothing ordered
            contract.submit_transaction("create", "id1", "{}")  # endorse + order + wait for the commit

    One gateway serves any number of channels (:meth:`get_network`) and threads. Without a ``signer`` only
    offline signing works: build with ``contract.new_proposal(...)``, sign ``digest()`` elsewhere, then
    rebuild each step from its ``bytes()`` with :meth:`new_signed_proposal`, :meth:`new_signed_transaction`,
    :meth:`new_signed_commit` or :meth:`new_signed_chaincode_events_request`. The errors of each stage are
    listed on :class:`~qcchain_gateway.contract.Contract`.
    """

    _network_type = Network
    _proposal_type = Proposal
    _transaction_type = Transaction
    _commit_type = Commit
    _events_request_type = ChaincodeEventsRequest

    def __init__(
        self,
        channel: grpc.Channel,
        signing_identity: SigningIdentity,
        timeouts: Timeouts,
        owns_channel: bool = False,
    ) -> None:
        super().__init__(GatewayClient(channel, timeouts), signing_identity, timeouts)
        self._channel = channel
        self._owns_channel = owns_channel

    def close(self) -> None:
        """Close the gRPC channel if this gateway opened it (e.g. via ``connect_profile``)."""
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> "Gateway":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def check_connect_arguments(identity: Identity, client_connection: object, channel_type: type, what: str) -> None:
    """Raises: TypeError naming the argument when ``identity`` or ``client_connection`` has the wrong type."""
    if not isinstance(identity, Identity):
        raise TypeError(f"connect: identity must be qcchain_gateway.Identity, not {type(identity).__name__}")
    if not isinstance(client_connection, channel_type):
        raise TypeError(f"connect: client_connection must be a {what}, not {type(client_connection).__name__}")


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
    check_connect_arguments(identity, client_connection, grpc.Channel, "grpc.Channel")
    timeouts = Timeouts().with_overrides(
        evaluate=evaluate_timeout,
        endorse=endorse_timeout,
        submit=submit_timeout,
        commit_status=commit_status_timeout,
        chaincode_events=chaincode_events_timeout,
    )
    signing_identity = SigningIdentity(identity, signer or no_signer, hash)
    return Gateway(client_connection, signing_identity, timeouts, owns_channel=close_connection)
