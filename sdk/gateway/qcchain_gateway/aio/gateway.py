"""Contracts, networks and the gateway connection for asyncio programs, and :func:`connect`."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import grpc

from qcchain_gateway.aio.client import AsyncGatewayClient
from qcchain_gateway.aio.events import AsyncChaincodeEventsRequest, AsyncChaincodeEventStream
from qcchain_gateway.aio.transactions import AsyncCommit, AsyncProposal, AsyncSubmittedTransaction, AsyncTransaction
from qcchain_gateway.checkpoint import Checkpoint
from qcchain_gateway.client import SigningIdentity, Timeouts
from qcchain_gateway.contract import ContractCore
from qcchain_gateway.gateway import GatewayCore, check_connect_arguments
from qcchain_gateway.identity import HashFunction, Identity, Signer, no_signer, sha256
from qcchain_gateway.network import NetworkCore
from qcchain_gateway.proposalbuilder import Argument

logger = logging.getLogger(__name__)

__all__ = ["AsyncContract", "AsyncGateway", "AsyncNetwork", "connect"]


class AsyncContract(ContractCore[AsyncGatewayClient, AsyncProposal]):
    """Transactions of one chaincode (and optionally one named contract in it) on one channel, awaited.

    The same usage model and errors as the blocking :class:`~qcchain_gateway.contract.Contract`:
    ``await evaluate_transaction(...)`` for a query, ``await submit_transaction(...)`` to endorse, order
    and wait for the commit, ``await submit_async(...)`` to get the result once ordered and await the
    commit later, :meth:`new_proposal` to build only (offline signing, step-by-step control).
    """

    _proposal_type = AsyncProposal

    async def evaluate_transaction(self, name: str, *args: Argument) -> bytes:
        """Evaluate ``name(*args)`` on a peer (query; nothing is ordered).

        Raises:
            EvaluateError (or a typed chaincode-status subtype), SigningError, ArgumentError.
        """
        return await self.evaluate(name, args)

    async def evaluate(self, name: str, arguments: Sequence[Argument] = (),
                       transient: Mapping[str, Argument] | None = None,
                       endorsing_organizations: Sequence[str] | None = None, timeout: float | None = None) -> bytes:
        """Evaluate with options; ``endorsing_organizations`` picks the target org(s).

        Raises:
            EvaluateError (or a typed chaincode-status subtype), SigningError, ArgumentError.
        """
        return await self.new_proposal(name, arguments, transient, endorsing_organizations).evaluate(timeout)

    async def submit_transaction(self, name: str, *args: Argument, transient: Mapping[str, Argument] | None = None,
                                 endorsing_organizations: Sequence[str] | None = None) -> bytes:
        """Endorse, submit and wait for the commit of ``name(*args)``; returns the chaincode's result.

        Raises:
            EndorseError (or a typed chaincode-status subtype), SubmitError, CommitStatusError, CommitError,
            SigningError, ArgumentError.
        """
        return await self.submit(name, args, transient, endorsing_organizations)

    async def submit(self, name: str, arguments: Sequence[Argument] = (),
                     transient: Mapping[str, Argument] | None = None,
                     endorsing_organizations: Sequence[str] | None = None, timeout: float | None = None) -> bytes:
        """As :meth:`submit_transaction`; ``timeout`` (if given) bounds each of the three calls.

        Raises:
            EndorseError, SubmitError, CommitStatusError, CommitError, SigningError, ArgumentError.
        """
        submitted = await self.submit_async(name, arguments, transient, endorsing_organizations, timeout)
        (await submitted.get_status(timeout)).raise_for_status()
        return submitted.get_result()

    async def submit_async(self, name: str, arguments: Sequence[Argument] = (),
                           transient: Mapping[str, Argument] | None = None,
                           endorsing_organizations: Sequence[str] | None = None,
                           timeout: float | None = None) -> AsyncSubmittedTransaction:
        """Endorse and submit; returns once the orderer accepted it, with a handle to await the commit.

        Raises:
            EndorseError, SubmitError, SigningError, ArgumentError, ProtocolError (undecodable endorsement).
        """
        proposal = self.new_proposal(name, arguments, transient, endorsing_organizations)
        return await (await proposal.endorse(timeout)).submit(timeout)


class AsyncNetwork(NetworkCore[AsyncGatewayClient, AsyncContract, AsyncChaincodeEventsRequest]):
    """One channel (asyncio): its contracts and chaincode event streams (resumable with checkpointers)."""

    _contract_type = AsyncContract
    _events_request_type = AsyncChaincodeEventsRequest

    def get_chaincode_events(self, chaincode: str, start_block: int | None = None,
                             checkpoint: Checkpoint | None = None,
                             timeout: float | None = None) -> AsyncChaincodeEventStream:
        """Stream ``chaincode``'s events from ``start_block`` / after ``checkpoint`` / from the next block;
        iterate with ``async for``.

        Raises:
            ValueError: ``start_block`` is negative.
            SigningError: no signer / the signer failed.
        """
        return self.new_chaincode_events_request(chaincode, start_block, checkpoint).get_events(timeout)


class AsyncGateway(GatewayCore[AsyncGatewayClient, AsyncNetwork, AsyncProposal, AsyncTransaction, AsyncCommit,
                               AsyncChaincodeEventsRequest]):
    """A connection to a Fabric Gateway for one client identity (asyncio). Use as an async context manager.

    The same model as the blocking :class:`~qcchain_gateway.gateway.Gateway`, offline signing included
    (:meth:`new_signed_proposal`, :meth:`new_signed_transaction`, :meth:`new_signed_commit`,
    :meth:`new_signed_chaincode_events_request`); many coroutines may share one gateway.
    """

    _network_type = AsyncNetwork
    _proposal_type = AsyncProposal
    _transaction_type = AsyncTransaction
    _commit_type = AsyncCommit
    _events_request_type = AsyncChaincodeEventsRequest

    def __init__(self, channel: grpc.aio.Channel, signing_identity: SigningIdentity, timeouts: Timeouts,
                 owns_channel: bool = False) -> None:
        super().__init__(AsyncGatewayClient(channel, timeouts), signing_identity, timeouts)
        self._channel = channel
        self._owns_channel = owns_channel

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
            commit_status_timeout: float | None = None, chaincode_events_timeout: float | None = None,
            close_connection: bool = False) -> AsyncGateway:
    """Connect ``identity`` to the Gateway reachable over the asyncio channel ``client_connection``.

    Arguments as :func:`qcchain_gateway.connect`.

    Raises:
        TypeError: ``identity`` is not an :class:`Identity` or ``client_connection`` not a ``grpc.aio.Channel``.
    """
    check_connect_arguments(identity, client_connection, grpc.aio.Channel, "grpc.aio.Channel")
    timeouts = Timeouts().with_overrides(evaluate=evaluate_timeout, endorse=endorse_timeout, submit=submit_timeout,
                                         commit_status=commit_status_timeout,
                                         chaincode_events=chaincode_events_timeout)
    return AsyncGateway(client_connection, SigningIdentity(identity, signer or no_signer, hash), timeouts,
                        owns_channel=close_connection)
