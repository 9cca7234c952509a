"""Commit status of a submitted transaction: the ``Status`` value, and the :class:`Commit` handle.

:class:`CommitCore` holds what does not depend on the transport (the signed request, offline signing,
decoding the answer); :class:`Commit` calls the blocking client, :class:`qcchain_gateway.aio.AsyncCommit`
the asyncio one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Generic, TypeVar

from fabric_protos.gateway import gateway_pb2
from fabric_protos.peer import transaction_pb2

from qcchain_gateway.client import GatewayClient, SigningIdentity
from qcchain_gateway.errors import CommitError

logger = logging.getLogger(__name__)

ClientT = TypeVar("ClientT")


def validation_code_name(code: int) -> str:
    """Name of a ``peer.TxValidationCode`` value (``"UNKNOWN_CODE_<n>"`` for unknown values)."""
    try:
        return transaction_pb2.TxValidationCode.Name(code)
    except ValueError:
        return f"UNKNOWN_CODE_{code}"


@dataclass(frozen=True)
class Status:
    """Outcome of validation: ``code`` is the ``TxValidationCode`` value (0 = VALID)."""

    code: int
    block_number: int
    transaction_id: str

    @property
    def code_name(self) -> str:
        """The validation code's name, e.g. ``"VALID"`` or ``"MVCC_READ_CONFLICT"``."""
        return validation_code_name(self.code)

    @property
    def successful(self) -> bool:
        """True if the transaction committed as VALID."""
        return self.code == transaction_pb2.VALID

    def raise_for_status(self) -> None:
        """Raises: CommitError if the transaction was not VALID."""
        if not self.successful:
            raise CommitError(self.transaction_id, self.code, self.code_name, self.block_number)


def new_commit_status_request(channel: str, transaction_id: str, creator: bytes) -> gateway_pb2.SignedCommitStatusRequest:
    """An unsigned ``SignedCommitStatusRequest`` for ``transaction_id``."""
    request = gateway_pb2.CommitStatusRequest(channel_id=channel, transaction_id=transaction_id, identity=creator)
    return gateway_pb2.SignedCommitStatusRequest(request=request.SerializeToString())


class CommitCore(Generic[ClientT]):
    """The transport-independent part of a commit-status handle: request, offline signing, decoding."""

    def __init__(
        self,
        client: ClientT,
        signing_identity: SigningIdentity,
        transaction_id: str,
        signed_request: gateway_pb2.SignedCommitStatusRequest,
    ) -> None:
        self._client = client
        self._signing_identity = signing_identity
        self._transaction_id = transaction_id
        self._signed_request = signed_request

    @property
    def transaction_id(self) -> str:
        """The transaction id."""
        return self._transaction_id

    def bytes(self) -> bytes:
        """Serialized ``gateway.SignedCommitStatusRequest`` (hand it to an offline signer)."""
        return self._signed_request.SerializeToString()

    def digest(self) -> bytes:
        """The digest to sign: hash of the commit status request bytes."""
        return self._signing_identity.hash(self._signed_request.request)

    def set_signature(self, signature: bytes) -> None:
        """Attach a signature produced elsewhere over :meth:`digest`."""
        self._signed_request.signature = bytes(signature)

    def _status_request(self) -> gateway_pb2.SignedCommitStatusRequest:
        """The request, signed now unless a signature was attached (raises SigningError)."""
        if not self._signed_request.signature:
            self.set_signature(self._signing_identity.sign(self.digest()))
        return self._signed_request

    def _status(self, response: gateway_pb2.CommitStatusResponse) -> Status:
        return Status(response.result, response.block_number, self._transaction_id)


class Commit(CommitCore[GatewayClient]):
    """Access to a transaction's commit status, signed on first use unless signed offline.

    Obtained from :meth:`Transaction.submit` (as a :class:`SubmittedTransaction`) or rebuilt from
    :meth:`bytes` with :meth:`Gateway.new_commit` / :meth:`Gateway.new_signed_commit`.
    """

    def get_status(self, timeout: float | None = None) -> Status:
        """Wait for the transaction's commit and return its validation status (an invalid transaction is a
        status, not an error: call :meth:`Status.raise_for_status` to turn it into :class:`CommitError`).

        Raises:
            CommitStatusError: the call failed, e.g. DEADLINE_EXCEEDED before the commit was seen.
            SigningError: no signer / the signer failed.
        """
        response = self._client.commit_status(self._status_request(), self._transaction_id, timeout)
        return self._status(response)


class SubmittedTransaction(Commit):
    """A submitted transaction: its endorsement result now, its commit status on request."""

    def __init__(
        self,
        client: GatewayClient,
        signing_identity: SigningIdentity,
        transaction_id: str,
        signed_request: gateway_pb2.SignedCommitStatusRequest,
        result: bytes,
    ) -> None:
        super().__init__(client, signing_identity, transaction_id, signed_request)
        self._result = result

    def get_result(self) -> bytes:
        """The chaincode's return value from endorsement."""
        return self._result
