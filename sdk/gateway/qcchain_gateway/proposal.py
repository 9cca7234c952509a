"""A transaction proposal: evaluate it, or endorse it into a :class:`~qcchain_gateway.transaction.Transaction`."""

from __future__ import annotations

import logging

from fabric_protos.gateway import gateway_pb2

from qcchain_gateway.client import GatewayClient, SigningIdentity
from qcchain_gateway.requests import endorse_request, evaluate_request, prepared_transaction
from qcchain_gateway.transaction import Transaction

logger = logging.getLogger(__name__)


class Proposal:
    """A proposed transaction; signed on first use unless a signature was supplied (offline signing)."""

    def __init__(
        self,
        client: GatewayClient,
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

    def evaluate(self, timeout: float | None = None) -> bytes:
        """Run the transaction on one peer without ordering it; returns the chaincode's result.

        Raises:
            EvaluateError: the Gateway refused or the chaincode returned an error.
            SigningError: no signer / the signer failed.
        """
        self._sign()
        response = self._client.evaluate(evaluate_request(self._proposed, self._channel), timeout)
        return response.result.payload

    def endorse(self, timeout: float | None = None) -> Transaction:
        """Collect endorsements (from ``endorsing_organizations`` if given, else per the policy).

        Raises:
            EndorseError: the Gateway could not obtain the endorsements; per-peer reasons in ``details``.
            SigningError: no signer / the signer failed.
            ProtocolError: the Gateway answered with an undecodable transaction.
        """
        self._sign()
        response = self._client.endorse(endorse_request(self._proposed, self._channel), timeout)
        return Transaction(self._client, self._signing_identity, prepared_transaction(self.transaction_id, response))
