"""Errors raised by the qcchain Gateway SDK.

Shaped after ``fabric-gateway``: one error type per stage of a transaction (endorse, submit, commit
status, commit), each carrying the transaction id, the gRPC status code and the per-peer details the
Gateway attached (``gateway.ErrorDetail``). Every error also inherits the matching built-in, so callers
may catch ``ValueError`` / ``RuntimeError`` / ``LookupError`` without importing this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc


class SdkError(Exception):
    """Base class of every error raised by :mod:`qcchain_sdk`."""


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


class CommitError(SdkError, RuntimeError):
    """The transaction was ordered into a block but marked invalid by validation.

    Attributes:
        transaction_id: the transaction id.
        code: the validation code name, e.g. ``"MVCC_READ_CONFLICT"``.
        code_value: the numeric ``TxValidationCode``.
        block_number: the block the transaction was committed in.
        details: always empty (kept for symmetry with the other stages).
    """

    def __init__(self, transaction_id: str, code: str, code_value: int, block_number: int) -> None:
        self.transaction_id = transaction_id
        self.code = code
        self.code_value = code_value
        self.block_number = block_number
        self.details: list[ErrorDetail] = []
        super().__init__(
            f"transaction {transaction_id} failed to commit with status code {code_value} ({code})"
            f" in block {block_number}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.transaction_id, self.code, self.code_value, self.block_number))


class ProtocolError(SdkError, ValueError):
    """Bytes given to the SDK (offline-signed messages, Gateway answers) could not be decoded."""


class SigningError(SdkError, RuntimeError):
    """No signer was configured, or the signer failed."""


class IdentityError(SdkError, ValueError):
    """An identity, certificate, private key or MSP directory is missing or unusable."""


class ProfileError(SdkError, ValueError):
    """A connection profile is missing, malformed or lacks a needed field."""


class KeystoreError(SdkError, ValueError):
    """A keystore operation failed (bad label, unreadable file, unsupported key)."""


class KeyNotFoundError(KeystoreError, LookupError):
    """No key is stored under the requested label."""


class KeyExistsError(KeystoreError, FileExistsError):
    """A key is already stored under the label and overwriting was not requested."""


class WrongPasswordError(KeystoreError):
    """The keystore file could not be decrypted with the given password."""


class CheckpointError(SdkError, OSError):
    """A checkpoint file could not be read or written."""
