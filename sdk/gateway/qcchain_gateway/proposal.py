"""A transaction proposal: evaluate it, or endorse it into a :class:`~qcchain_gateway.transaction.Transaction`.

:class:`ProposalCore` holds the transport-independent part (the proposal, offline signing, the evaluate
and endorse requests); :class:`Proposal` calls the blocking client,
:class:`qcchain_gateway.aio.AsyncProposal` the asyncio one.
"""

from __future__ import annotations

import logging
from typing import Generic, TypeVar

from fabric_protos.gateway import gateway_pb2

from qcchain_gateway.client import GatewayClient, SigningIdentity
from qcchain_gateway.requests import endorse_request, evaluate_request, prepared_transaction
from qcchain_gateway.transaction import Transaction

logger = logging.getLogger(__name__)

ClientT = TypeVar("ClientT")


class ProposalCore(Generic[ClientT]):
    """A proposed transaction, whatever the transport; signed on first use unless a signature was supplied."""

    def __init__(
        self,
        client: ClientT,
        signing_identity: SigningIdentity,
        channel: str,
        proposed: gateway_pb2.ProposedTransaction,
    ) -> None:
        self._client = client
        self._signing_identity = signing_identity
        self._channel = channel
        self._proposed = proposed

    @property
    def transaction_id(self) -> str:
        """The transaction id (hex SHA-256 of nonce + creator)."""
        return self._proposed.transaction_id

    @property
    def channel(self) -> str:
        """The channel the proposal is for."""
        return self._channel

    def bytes(self) -> bytes:
        """Serialized ``gateway.ProposedTransaction`` (hand it to an offline signer)."""
        return self._proposed.SerializeToString()

    def digest(self) -> bytes:
        """The digest to sign: hash of the proposal bytes."""
        return self._signing_identity.hash(self._proposed.proposal.proposal_bytes)

    def set_signature(self, signature: bytes) -> None:
        """Attach a signature produced elsewhere over :meth:`digest`."""
        self._proposed.proposal.signature = bytes(signature)

    def _sign(self) -> None:
        if not self._proposed.proposal.signature:
            self.set_signature(self._signing_identity.sign(self.digest()))

    def _evaluate_request(self) -> gateway_pb2.EvaluateRequest:
        """The signed evaluate request (raises SigningError)."""
        self._sign()
        return evaluate_request(self._proposed, self._channel)

    def _endorse_request(self) -> gateway_pb2.EndorseRequest:
        """The signed endorse request (raises SigningError)."""
        self._sign()
        return endorse_request(self._proposed, self._channel)

    def _prepared(self, response: gateway_pb2.EndorseResponse) -> gateway_pb2.PreparedTransaction:
        return prepared_transaction(self.transaction_id, response)


class Proposal(ProposalCore[GatewayClient]):
    """A proposed transaction: :meth:`evaluate` it (a query) or :meth:`endorse` it (the first step of a submit).

    Obtained from :meth:`Contract.new_proposal`, or rebuilt from :meth:`bytes` with
    :meth:`Gateway.new_proposal` / :meth:`Gateway.new_signed_proposal` (offline signing: hand
    :meth:`bytes` and :meth:`digest` to the key holder, attach the signature, then evaluate or endorse).
    """

    def evaluate(self, timeout: float | None = None) -> bytes:
        """Run the transaction on one peer without ordering it; returns the chaincode's result.

        Raises:
            EvaluateError: the Gateway refused or the chaincode returned an error; when the chaincode
                answered a known status the error is also e.g. :class:`~qcchain_gateway.errors.NotFoundError`.
            SigningError: no signer / the signer failed.
        """
        return self._client.evaluate(self._evaluate_request(), timeout).result.payload

    def endorse(self, timeout: float | None = None) -> Transaction:
        """Collect endorsements (from ``endorsing_organizations`` if given, else per the policy).

        Raises:
            EndorseError: the Gateway could not obtain the endorsements; per-peer reasons in ``details``
                (a typed subtype such as :class:`~qcchain_gateway.errors.ForbiddenError` when the chaincode
                answered that status).
            SigningError: no signer / the signer failed.
            ProtocolError: the Gateway answered with an undecodable transaction.
        """
        response = self._client.endorse(self._endorse_request(), timeout)
        return Transaction(self._client, self._signing_identity, self._prepared(response))
