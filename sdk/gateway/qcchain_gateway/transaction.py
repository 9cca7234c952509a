"""An endorsed transaction, ready to be signed and submitted to the orderer through the Gateway.

:class:`TransactionCore` holds the transport-independent part (envelope, result, offline signing, the
submit and commit-status requests); :class:`Transaction` submits with the blocking client,
:class:`qcchain_gateway.aio.AsyncTransaction` with the asyncio one.
"""

from __future__ import annotations

import logging
from typing import Generic, TypeVar

from fabric_protos.gateway import gateway_pb2

from qcchain_gateway.client import GatewayClient, SigningIdentity
from qcchain_gateway.commit import SubmittedTransaction, new_commit_status_request
from qcchain_gateway.parsing import parse_envelope
from qcchain_gateway.requests import submit_request

logger = logging.getLogger(__name__)

ClientT = TypeVar("ClientT")


class TransactionCore(Generic[ClientT]):
    """An endorsed transaction (``gateway.PreparedTransaction``), whatever the transport.

    Raises (constructor):
        ProtocolError: the envelope carries no decodable proposal response.
    """

    def __init__(
        self, client: ClientT, signing_identity: SigningIdentity, prepared: gateway_pb2.PreparedTransaction
    ) -> None:
        self._client = client
        self._signing_identity = signing_identity
        self._prepared = prepared
        self._channel, self._result = parse_envelope(prepared.envelope)

    @property
    def transaction_id(self) -> str:
        """The transaction id."""
        return self._prepared.transaction_id

    @property
    def result(self) -> bytes:
        """The chaincode's return value from endorsement."""
        return self._result

    def bytes(self) -> bytes:
        """Serialized ``gateway.PreparedTransaction`` (hand it to an offline signer)."""
        return self._prepared.SerializeToString()

    def digest(self) -> bytes:
        """The digest to sign: hash of the envelope payload."""
        return self._signing_identity.hash(self._prepared.envelope.payload)

    def set_signature(self, signature: bytes) -> None:
        """Attach a signature produced elsewhere over :meth:`digest`."""
        self._prepared.envelope.signature = bytes(signature)

    def _submit_requests(self) -> tuple[gateway_pb2.SubmitRequest, gateway_pb2.SignedCommitStatusRequest]:
        """The signed submit request (signed now unless signed offline; raises SigningError) and the
        (unsigned) commit status request that will follow it."""
        if not self._prepared.envelope.signature:
            self.set_signature(self._signing_identity.sign(self.digest()))
        status_request = new_commit_status_request(self._channel, self.transaction_id, self._signing_identity.creator())
        return submit_request(self.transaction_id, self._channel, self._prepared.envelope), status_request


class Transaction(TransactionCore[GatewayClient]):
    """An endorsed transaction: inspect :attr:`result`, sign (here or offline), :meth:`submit`.

    Obtained from :meth:`Proposal.endorse` or rebuilt from :meth:`bytes` with
    :meth:`Gateway.new_transaction` / :meth:`Gateway.new_signed_transaction`.
    """

    def submit(self, timeout: float | None = None) -> SubmittedTransaction:
        """Send the signed transaction to the orderer; returns a handle to await its commit.

        Raises:
            SubmitError: the Gateway or orderer refused the transaction.
            SigningError: no signer / the signer failed.
        """
        request, status_request = self._submit_requests()
        self._client.submit(request, timeout)
        return SubmittedTransaction(self._client, self._signing_identity, self.transaction_id, status_request,
                                    self._result)
