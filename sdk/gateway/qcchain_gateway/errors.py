"""Errors raised by the qcchain Gateway client (:mod:`qcchain_gateway`).

Shaped after ``fabric-gateway``: one error type per stage of a transaction, each carrying the transaction
id, the gRPC status code (always a ``grpc.StatusCode`` in :attr:`GatewayError.code`) and the per-peer
details the Gateway attached (``gateway.ErrorDetail``):

=====================  ===========================  ==================================================
stage                  error                        typical cause
=====================  ===========================  ==================================================
evaluate               :class:`EvaluateError`       chaincode error (UNKNOWN), unknown org/chaincode
endorse                :class:`EndorseError`        chaincode error on the endorsers (ABORTED + details)
submit                 :class:`SubmitError`         the orderer refused the envelope
commit status          :class:`CommitStatusError`   deadline passed before the commit was seen
commit (validation)    :class:`CommitError`         ordered but invalid (MVCC conflict, policy failure)
chaincode events       :class:`EventsError`         the event stream broke
=====================  ===========================  ==================================================

When the chaincode itself answered an error status (Fabric reports ``chaincode response <status>, <msg>``),
evaluate and endorse raise a subtype that also is one of the status types below, so callers catch a
meaning, never message text::

    try:
        contract.evaluate_transaction("records:get", record_id)
    except NotFoundError:           # the chaincode answered 404 (also an EvaluateError and a LookupError)
        ...

======  =========================  ====================
status  type                       also a
======  =========================  ====================
400     :class:`InvalidInputError` ``ValueError``
401     :class:`UnauthorizedError` ``PermissionError``
403     :class:`ForbiddenError`    ``PermissionError``
404     :class:`NotFoundError`     ``LookupError``
409     :class:`ConflictError`     ``RuntimeError``
410     :class:`GoneError`         ``PermissionError``
423     :class:`LockedError`       ``PermissionError``
======  =========================  ====================

Other statuses (500, ...) stay plain :class:`EvaluateError` / :class:`EndorseError` with
:attr:`GatewayError.chaincode_status` set. Every error also inherits the matching built-in, so callers may
catch ``ValueError`` / ``RuntimeError`` / ``LookupError`` without importing this module. Keystore errors are
in :mod:`qcchain_gateway.keystoreerrors`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import grpc

class SdkError(Exception):
    """Base class of every error raised by :mod:`qcchain_gateway`."""


@dataclass(frozen=True)
class ErrorDetail:
    """One peer's (or orderer's) reason for a failure, as reported by the Gateway."""

    address: str
    msp_id: str
    message: str


class GatewayError(SdkError, RuntimeError):
    """A Gateway gRPC call failed.

    Attributes:
        code: the gRPC status code (``grpc.StatusCode``).
        details: per-peer :class:`ErrorDetail` decoded from the status details.
        transaction_id: the transaction concerned, or ``""`` when not known.
        chaincode_status: the status the chaincode answered (e.g. 404, 500) when the failure is a chaincode
            error response, else ``None``.
    """

    stage = "gateway"

    def __init__(
        self,
        message: str,
        code: grpc.StatusCode,
        details: list[ErrorDetail] | None = None,
        transaction_id: str = "",
        cause: BaseException | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.details: list[ErrorDetail] = list(details or [])
        self.transaction_id = transaction_id
        self.cause = cause
        self.chaincode_status = chaincode_status_of(message, self.details)
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [f"{self.stage} error: {self.code.name}: {self.message}"]
        if self.transaction_id:
            parts.append(f" (transaction {self.transaction_id})")
        for detail in self.details:
            parts.append(f"\n  - {detail.address} [{detail.msp_id}]: {detail.message}")
        return "".join(parts)

    @property
    def is_timeout(self) -> bool:
        """True if the call ended because its deadline passed."""
        return self.code == grpc.StatusCode.DEADLINE_EXCEEDED

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.code, self.details, self.transaction_id))


class EvaluateError(GatewayError):
    """The Gateway's Evaluate call failed (e.g. the chaincode returned an error: ``UNKNOWN``)."""

    stage = "evaluate"


class EndorseError(GatewayError):
    """The Gateway's Endorse call failed; the reason per peer is in :attr:`details`."""

    stage = "endorse"


class SubmitError(GatewayError):
    """The Gateway's Submit call failed (the orderer refused the transaction)."""

    stage = "submit"


class CommitStatusError(GatewayError):
    """The Gateway's CommitStatus call failed (e.g. the deadline passed before the commit)."""

    stage = "commit status"


class EventsError(GatewayError):
    """A chaincode event stream failed."""

    stage = "chaincode events"


class ChaincodeStatusError(GatewayError):
    """The chaincode answered an error status; the subclasses below name the statuses qcchain-style
    chaincodes use (HTTP-like). Raised only as a stage error too (evaluate or endorse)."""

    status = 0


class InvalidInputError(ChaincodeStatusError, ValueError):
    """The chaincode answered 400: an argument or payload is malformed."""

    status = 400


class UnauthorizedError(ChaincodeStatusError, PermissionError):
    """The chaincode answered 401: a signature or its key is unknown, revoked or not the signer's."""

    status = 401


class ForbiddenError(ChaincodeStatusError, PermissionError):
    """The chaincode answered 403: the caller is not allowed to do this."""

    status = 403


class NotFoundError(ChaincodeStatusError, LookupError):
    """The chaincode answered 404: the thing asked for does not exist."""

    status = 404


class ConflictError(ChaincodeStatusError):
    """The chaincode answered 409: the ledger state forbids the operation (duplicate, wrong state)."""

    status = 409


class GoneError(ChaincodeStatusError, PermissionError):
    """The chaincode answered 410: the contract (or thing) was destroyed for good."""

    status = 410


class LockedError(ChaincodeStatusError, PermissionError):
    """The chaincode answered 423: the contract is frozen (writes refused)."""

    status = 423


# One concrete type per (stage, status): ``except EvaluateError`` and ``except NotFoundError`` both catch it.
class EvaluateInvalidInputError(InvalidInputError, EvaluateError):
    """Evaluate failed: the chaincode answered 400."""


class EvaluateUnauthorizedError(UnauthorizedError, EvaluateError):
    """Evaluate failed: the chaincode answered 401."""


class EvaluateForbiddenError(ForbiddenError, EvaluateError):
    """Evaluate failed: the chaincode answered 403."""


class EvaluateNotFoundError(NotFoundError, EvaluateError):
    """Evaluate failed: the chaincode answered 404."""


class EvaluateConflictError(ConflictError, EvaluateError):
    """Evaluate failed: the chaincode answered 409."""


class EvaluateGoneError(GoneError, EvaluateError):
    """Evaluate failed: the chaincode answered 410."""


class EvaluateLockedError(LockedError, EvaluateError):
    """Evaluate failed: the chaincode answered 423."""


class EndorseInvalidInputError(InvalidInputError, EndorseError):
    """Endorse failed: the chaincode answered 400."""


class EndorseUnauthorizedError(UnauthorizedError, EndorseError):
    """Endorse failed: the chaincode answered 401."""


class EndorseForbiddenError(ForbiddenError, EndorseError):
    """Endorse failed: the chaincode answered 403."""


class EndorseNotFoundError(NotFoundError, EndorseError):
    """Endorse failed: the chaincode answered 404."""


class EndorseConflictError(ConflictError, EndorseError):
    """Endorse failed: the chaincode answered 409."""


class EndorseGoneError(GoneError, EndorseError):
    """Endorse failed: the chaincode answered 410."""


class EndorseLockedError(LockedError, EndorseError):
    """Endorse failed: the chaincode answered 423."""


_STAGE_STATUS: dict[tuple[type[GatewayError], int], type[GatewayError]] = {
    (stage, cls.status): cls
    for stage, classes in (
        (EvaluateError, (EvaluateInvalidInputError, EvaluateUnauthorizedError, EvaluateForbiddenError,
                         EvaluateNotFoundError, EvaluateConflictError, EvaluateGoneError, EvaluateLockedError)),
        (EndorseError, (EndorseInvalidInputError, EndorseUnauthorizedError, EndorseForbiddenError,
                        EndorseNotFoundError, EndorseConflictError, EndorseGoneError, EndorseLockedError)),
    )
    for cls in classes
}

#: How Fabric's Gateway reports a chaincode error response: ``chaincode response <status>, <message>``.
_CHAINCODE_RESPONSE = re.compile(r"chaincode response (\d{3})\b")


def chaincode_status_of(message: str, details: list[ErrorDetail]) -> int | None:
    """The chaincode status in a Gateway failure's message or per-peer details, or None if it is not a
    chaincode error response. With several peers the first status found wins."""
    for text in [message, *(d.message for d in details)]:
        match = _CHAINCODE_RESPONSE.search(text)
        if match:
            return int(match.group(1))
    return None


def stage_error_type(kind: type[GatewayError], message: str, details: list[ErrorDetail]) -> type[GatewayError]:
    """``kind`` (a stage error), or its typed subtype when the chaincode answered a known status."""
    status = chaincode_status_of(message, details)
    if status is None:
        return kind
    return _STAGE_STATUS.get((kind, status), kind)


class CommitError(SdkError, RuntimeError):
    """The transaction was ordered into a block but marked invalid by validation.

    Not a gRPC failure, so it has no ``code``: the validation outcome is :attr:`validation_code`.

    Attributes:
        transaction_id: the transaction id.
        validation_code: the numeric ``peer.TxValidationCode``, e.g. 11 (``MVCC_READ_CONFLICT``).
        validation_code_name: its name, e.g. ``"MVCC_READ_CONFLICT"``.
        block_number: the block the transaction was committed in.
        details: always empty (kept for symmetry with the other stages).
    """

    def __init__(self, transaction_id: str, validation_code: int, validation_code_name: str, block_number: int) -> None:
        self.transaction_id = transaction_id
        self.validation_code = validation_code
        self.validation_code_name = validation_code_name
        self.block_number = block_number
        self.details: list[ErrorDetail] = []
        super().__init__(
            f"transaction {transaction_id} failed to commit with status code {validation_code}"
            f" ({validation_code_name}) in block {block_number}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.transaction_id, self.validation_code, self.validation_code_name, self.block_number))


class ProtocolError(SdkError, ValueError):
    """Bytes given to the SDK (offline-signed messages, Gateway answers) could not be decoded."""


class SigningError(SdkError, RuntimeError):
    """No signer was configured, or the signer failed."""


class IdentityError(SdkError, ValueError):
    """An identity, certificate, private key or MSP directory is missing or unusable."""


class ProfileError(SdkError, ValueError):
    """A connection profile is missing, malformed or lacks a needed field."""


class CheckpointError(SdkError, OSError):
    """A checkpoint file could not be read or written."""
