"""The Gateway client for asyncio programs: the same transactions as the blocking API, awaited.

Shaped like :mod:`qcchain_sdk`'s blocking API (and the official Node client, whose calls return
promises)::

    from qcchain_gateway import aio
    channel = aio.new_channel("peer0.example.com:7051", tls_root_pem)      # inside the event loop
    async with aio.connect(identity, channel, signer, close_connection=True) as gateway:
        contract = gateway.get_network("qcchannel").get_contract("qcchain", "records")
        result = await contract.submit_transaction("create", "id1", "{}")

Proposals, signatures and requests are built by the same code as the blocking API
(:mod:`qcchain_gateway.proposalbuilder`, :mod:`qcchain_gateway.requests`); only the calls differ. Covered:
evaluate, endorse + submit + commit status (``submit_transaction`` / ``submit_async``). Chaincode
event streams and offline signing are in the blocking API.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import grpc
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc

from qcchain_gateway.client import SigningIdentity, Timeouts, gateway_error, pick_timeout
from qcchain_gateway.commit import Status, new_commit_status_request
from qcchain_gateway.connection import new_aio_channel as new_channel
from qcchain_gateway.errors import CommitStatusError, EndorseError, EvaluateError, SubmitError
from qcchain_gateway.identity import HashFunction, Identity, Signer, no_signer, sha256
from qcchain_gateway.parsing import parse_envelope
from qcchain_gateway.proposalbuilder import Argument, TransactionContext, build_proposed_transaction
from qcchain_gateway.requests import endorse_request, evaluate_request, prepared_transaction, submit_request

logger = logging.getLogger(__name__)

__all__ = ["AsyncContract", "AsyncGateway", "AsyncNetwork", "AsyncSubmittedTransaction", "connect", "new_channel"]


class _Client:
    """The Gateway calls over one ``grpc.aio`` channel, failures mapped to the SDK's errors."""

    def __init__(self, channel: grpc.aio.Channel, timeouts: Timeouts) -> None:
        self._stub = gateway_pb2_grpc.GatewayStub(channel)
        self.timeouts = timeouts

    async def evaluate(self, request: gateway_pb2.EvaluateRequest, timeout: float | None) -> gateway_pb2.EvaluateResponse:
        try:
            return await self._stub.Evaluate(request, timeout=pick_timeout(self.timeouts.evaluate, timeout))
        except grpc.RpcError as err:
            raise gateway_error(EvaluateError, err, request.transaction_id) from None

    async def endorse(self, request: gateway_pb2.EndorseRequest, timeout: float | None) -> gateway_pb2.EndorseResponse:
        try:
            return await self._stub.Endorse(request, timeout=pick_timeout(self.timeouts.endorse, timeout))
        except grpc.RpcError as err:
            raise gateway_error(EndorseError, err, request.transaction_id) from None

    async def submit(self, request: gateway_pb2.SubmitRequest, timeout: float | None) -> None:
        try:
            await self._stub.Submit(request, timeout=pick_timeout(self.timeouts.submit, timeout))
        except grpc.RpcError as err:
            raise gateway_error(SubmitError, err, request.transaction_id) from None

    async def commit_status(self, request: gateway_pb2.SignedCommitStatusRequest, transaction_id: str,
                            timeout: float | None) -> gateway_pb2.CommitStatusResponse:
        try:
            return await self._stub.CommitStatus(request, timeout=pick_timeout(self.timeouts.commit_status, timeout))
        except grpc.RpcError as err:
            raise gateway_error(CommitStatusError, err, transaction_id) from None


class AsyncSubmittedTransaction:
    """A submitted transaction: its endorsement result now, its commit status when awaited."""

    def __init__(self, client: _Client, transaction_id: str, status_request: gateway_pb2.SignedCommitStatusRequest,
                 result: bytes) -> None:
        self._client = client
        self.transaction_id = transaction_id
        self._status_request = status_request
        self._result = result

    def get_result(self) -> bytes:
        """The chaincode's return value from endorsement."""
        return self._result

    async def get_status(self, timeout: float | None = None) -> Status:
        """Wait for the commit and return the validation status.

        Raises:
            CommitStatusError: the call failed, e.g. DEADLINE_EXCEEDED before the commit was seen.
        """
        response = await self._client.commit_status(self._status_request, self.transaction_id, timeout)
        return Status(response.result, response.block_number, self.transaction_id)


class AsyncContract:
    """Transactions of one chaincode (and optionally one named contract in it) on one channel."""

    def __init__(self, client: _Client, signing_identity: SigningIdentity, channel: str, chaincode: str,
                 contract_name: str = "") -> None:
        self._client = client
        self._signing_identity = signing_identity
        self.channel = channel
        self.chaincode_name = chaincode
        self.contract_name = contract_name

    def _proposed(self, name: str, arguments: Sequence[Argument], transient: Mapping[str, Argument] | None,
                  endorsing_organizations: Sequence[str] | None) -> gateway_pb2.ProposedTransaction:
        si = self._signing_identity
        qualified = f"{self.contract_name}:{name}" if self.contract_name else name
        proposed = build_proposed_transaction(TransactionContext.new(si.creator()), self.channel, self.chaincode_name,
                                              qualified, arguments, transient, endorsing_organizations)
        proposed.proposal.signature = si.sign(si.hash(proposed.proposal.proposal_bytes))
        return proposed

    async def evaluate_transaction(self, name: str, *args: Argument) -> bytes:
        """Evaluate ``name(*args)`` on a peer (query; nothing is ordered).

        Raises:
            EvaluateError, SigningError, ArgumentError.
        """
        return await self.evaluate(name, args)

    async def evaluate(self, name: str, arguments: Sequence[Argument] = (),
                       transient: Mapping[str, Argument] | None = None,
                       endorsing_organizations: Sequence[str] | None = None, timeout: float | None = None) -> bytes:
        """Evaluate with options; ``endorsing_organizations`` picks the target org(s).

        Raises:
            EvaluateError, SigningError, ArgumentError.
        """
        proposed = self._proposed(name, arguments, transient, endorsing_organizations)
        response = await self._client.evaluate(evaluate_request(proposed, self.channel), timeout)
        return response.result.payload

    async def submit_transaction(self, name: str, *args: Argument, transient: Mapping[str, Argument] | None = None,
                                 endorsing_organizations: Sequence[str] | None = None) -> bytes:
        """Endorse, submit and wait for the commit of ``name(*args)``; returns the chaincode's result.

        Raises:
            EndorseError, SubmitError, CommitStatusError, CommitError, SigningError, ArgumentError.
        """
        submitted = await self.submit_async(name, args, transient, endorsing_organizations)
        (await submitted.get_status()).raise_for_status()
        return submitted.get_result()

    async def submit_async(self, name: str, arguments: Sequence[Argument] = (),
                           transient: Mapping[str, Argument] | None = None,
                           endorsing_organizations: Sequence[str] | None = None,
                           timeout: float | None = None) -> AsyncSubmittedTransaction:
        """Endorse and submit; returns once the orderer accepted it, with a handle to await the commit.

        Raises:
            EndorseError, SubmitError, SigningError, ArgumentError, ProtocolError (undecodable endorsement).
        """
        si = self._signing_identity
        proposed = self._proposed(name, arguments, transient, endorsing_organizations)
        tx_id = proposed.transaction_id
        endorsed = await self._client.endorse(endorse_request(proposed, self.channel), timeout)
        prepared = prepared_transaction(tx_id, endorsed)
        channel, result = parse_envelope(prepared.envelope)
        prepared.envelope.signature = si.sign(si.hash(prepared.envelope.payload))
        status_request = new_commit_status_request(channel, tx_id, si.creator())
        status_request.signature = si.sign(si.hash(status_request.request))
        await self._client.submit(submit_request(tx_id, channel, prepared.envelope), timeout)
        return AsyncSubmittedTransaction(self._client, tx_id, status_request, result)


class AsyncNetwork:
    """One channel as seen through the Gateway."""

    def __init__(self, client: _Client, signing_identity: SigningIdentity, name: str) -> None:
        self._client = client
        self._signing_identity = signing_identity
        self.name = name

    def get_contract(self, chaincode: str, contract_name: str = "") -> AsyncContract:
        """The contract ``contract_name`` (``""``: the default one) of ``chaincode``."""
        return AsyncContract(self._client, self._signing_identity, self.name, chaincode, contract_name)


class AsyncGateway:
    """A connection to a Fabric Gateway for one client identity. Use as an async context manager."""

    def __init__(self, channel: grpc.aio.Channel, signing_identity: SigningIdentity, timeouts: Timeouts,
                 owns_channel: bool = False) -> None:
        self._channel = channel
        self._signing_identity = signing_identity
        self._client = _Client(channel, timeouts)
        self._owns_channel = owns_channel

    @property
    def identity(self) -> Identity:
        """The client identity."""
        return self._signing_identity.identity

    def get_network(self, channel: str) -> AsyncNetwork:
        """The channel ``channel``."""
        return AsyncNetwork(self._client, self._signing_identity, channel)

    async def close(self) -> None:
        """Close the gRPC channel if this gateway owns it (``close_connection=True``)."""
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> AsyncGateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def connect(identity: Identity, client_connection: grpc.aio.Channel, signer: Signer | None = None, *,
            hash: HashFunction = sha256, evaluate_timeout: float | None = None,
            endorse_timeout: float | None = None, submit_timeout: float | None = None,
            commit_status_timeout: float | None = None, close_connection: bool = False) -> AsyncGateway:
    """Connect ``identity`` to the Gateway reachable over the asyncio channel ``client_connection``.

    Arguments as :func:`qcchain_sdk.connect`.

    Raises:
        TypeError: ``identity`` is not an :class:`Identity` or ``client_connection`` not a ``grpc.aio.Channel``.
    """
    if not isinstance(identity, Identity):
        raise TypeError(f"connect: identity must be qcchain_sdk.Identity, not {type(identity).__name__}")
    if not isinstance(client_connection, grpc.aio.Channel):
        raise TypeError(f"connect: client_connection must be a grpc.aio.Channel, not {type(client_connection).__name__}")
    timeouts = Timeouts().with_overrides(evaluate=evaluate_timeout, endorse=endorse_timeout, submit=submit_timeout,
                                         commit_status=commit_status_timeout)
    return AsyncGateway(client_connection, SigningIdentity(identity, signer or no_signer, hash), timeouts,
                        owns_channel=close_connection)
