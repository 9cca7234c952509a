"""Proposals, endorsed transactions and commit-status handles for asyncio programs.

Built, signed (here or offline) and decoded by the same cores as the blocking API
(:class:`~qcchain_gateway.proposal.ProposalCore`, :class:`~qcchain_gateway.transaction.TransactionCore`,
:class:`~qcchain_gateway.commit.CommitCore`); only the calls are awaited.
"""

from __future__ import annotations

import logging

from fabric_protos.gateway import gateway_pb2

from qcchain_gateway.aio.client import AsyncGatewayClient
from qcchain_gateway.client import SigningIdentity
from qcchain_gateway.commit import CommitCore, Status
from qcchain_gateway.proposal import ProposalCore
from qcchain_gateway.transaction import TransactionCore

logger = logging.getLogger(__name__)

__all__ = ["AsyncCommit", "AsyncProposal", "AsyncSubmittedTransaction", "AsyncTransaction"]


class AsyncCommit(CommitCore[AsyncGatewayClient]):
    """Access to a transaction's commit status (asyncio); signed on first use unless signed offline."""

    async def get_status(self, timeout: float | None = None) -> Status:
        """Wait for the commit and return the validation status (invalid is a status, not an error).

        Raises:
            CommitStatusError: the call failed, e.g. DEADLINE_EXCEEDED before the commit was seen.
            SigningError: no signer / the signer failed.
        """
        response = await self._client.commit_status(self._status_request(), self._transaction_id, timeout)
        return self._status(response)


class AsyncSubmittedTransaction(AsyncCommit):
    """A submitted transaction: its endorsement result now, its commit status when awaited."""

    def __init__(self, client: AsyncGatewayClient, signing_identity: SigningIdentity, transaction_id: str,
                 signed_request: gateway_pb2.SignedCommitStatusRequest, result: bytes) -> None:
        super().__init__(client, signing_identity, transaction_id, signed_request)
        self._result = result

    def get_result(self) -> bytes:
        """The chaincode's return value from endorsement."""
        return self._result


class AsyncTransaction(TransactionCore[AsyncGatewayClient]):
    """An endorsed transaction (asyncio): inspect :attr:`result`, sign (here or offline), :meth:`submit`."""

    async def submit(self, timeout: float | None = None) -> AsyncSubmittedTransaction:
        """Send the signed transaction to the orderer; returns a handle to await its commit.

        Raises:
            SubmitError: the Gateway or orderer refused the transaction.
            SigningError: no signer / the signer failed.
        """
        request, status_request = self._submit_requests()
        await self._client.submit(request, timeout)
        return AsyncSubmittedTransaction(self._client, self._signing_identity, self.transaction_id, status_request,
                                         self._result)


class AsyncProposal(ProposalCore[AsyncGatewayClient]):
    """A proposed transaction (asyncio): await :meth:`evaluate` (query) or :meth:`endorse` (first step of a submit)."""

    async def evaluate(self, timeout: float | None = None) -> bytes:
        """Run the transaction on one peer without ordering it; returns the chaincode's result.

        Raises:
            EvaluateError (or a typed chaincode-status subtype such as NotFoundError), SigningError.
        """
        return (await self._client.evaluate(self._evaluate_request(), timeout)).result.payload

    async def endorse(self, timeout: float | None = None) -> AsyncTransaction:
        """Collect endorsements (from ``endorsing_organizations`` if given, else per the policy).

        Raises:
            EndorseError (or a typed chaincode-status subtype), SigningError, ProtocolError.
        """
        response = await self._client.endorse(self._endorse_request(), timeout)
        return AsyncTransaction(self._client, self._signing_identity, self._prepared(response))
