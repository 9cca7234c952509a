"""The gRPC layer: calls the Gateway service with per-call deadlines and maps failures to errors.

Nothing above this module touches ``grpc`` call objects; nothing here builds or signs messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Iterator

import grpc
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from grpc_status import rpc_status

from qcchain_gateway.errors import (
    CommitStatusError,
    EndorseError,
    ErrorDetail,
    EvaluateError,
    EventsError,
    GatewayError,
    SigningError,
    SubmitError,
    stage_error_type,
)
from qcchain_gateway.identity import HashFunction, Identity, Signer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timeouts:
    """Default deadlines in seconds per Gateway call (``None``: no deadline).

    Defaults follow the official clients' samples: evaluate 5 s, endorse 15 s, submit 5 s,
    commit status 60 s; event streams have no deadline.
    """

    evaluate: float | None = 5.0
    endorse: float | None = 15.0
    submit: float | None = 5.0
    commit_status: float | None = 60.0
    chaincode_events: float | None = None

    def with_overrides(self, **overrides: float | None) -> "Timeouts":
        """A copy with the given (non-``None``) fields replaced."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


class SigningIdentity:
    """Identity + signer + hash: computes creators and digests, signs digests."""

    def __init__(self, identity: Identity, signer: Signer, hash_function: HashFunction) -> None:
        self.identity = identity
        self._signer = signer
        self._hash = hash_function
        self._creator = identity.creator()

    def creator(self) -> bytes:
        """Serialized ``SerializedIdentity`` of the client."""
        return self._creator

    def hash(self, message: bytes) -> bytes:
        """Digest of ``message`` with the configured hash function."""
        return self._hash(message)

    def sign(self, digest: bytes) -> bytes:
        """Sign ``digest``.

        Raises:
            SigningError: if no signer is configured or the signer failed.
        """
        try:
            signature = self._signer(digest)
        except SigningError:
            raise
        except Exception as exc:  # the signer is user code (HSM, remote signer, ...)
            raise SigningError(f"signer failed: {exc}") from exc
        if not isinstance(signature, (bytes, bytearray)) or not signature:
            raise SigningError("signer returned no signature bytes")
        return bytes(signature)


def decode_rpc_error(err: grpc.RpcError) -> tuple[grpc.StatusCode, str, list[ErrorDetail]]:
    """Status code, message and ``gateway.ErrorDetail`` list of a failed gRPC call."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    message = err.details() if hasattr(err, "details") else str(err)
    details: list[ErrorDetail] = []
    try:
        status = rpc_status.from_call(err)  # type: ignore[arg-type]
    except (ValueError, AttributeError, TypeError):
        status = None
    if status is not None:
        for any_detail in status.details:
            item = gateway_pb2.ErrorDetail()
            if any_detail.Unpack(item):
                details.append(ErrorDetail(item.address, item.msp_id, item.message))
    return code or grpc.StatusCode.UNKNOWN, message or "", details


def gateway_error(kind: type[GatewayError], err: grpc.RpcError, transaction_id: str) -> GatewayError:
    """The error of stage ``kind`` for a failed call (status code, message and per-peer details); a typed
    subtype (e.g. :class:`~qcchain_gateway.errors.NotFoundError`) when the chaincode answered that status."""
    code, message, details = decode_rpc_error(err)
    logger.debug("%s failed: %s (transaction %s)", kind.stage, code.name, transaction_id)
    return stage_error_type(kind, message, details)(message, code, details, transaction_id, cause=err)


def pick_timeout(default: float | None, timeout: float | None) -> float | None:
    """The call's own ``timeout`` if given, else the gateway's ``default``."""
    return default if timeout is None else timeout


class GatewayClient:
    """Calls the ``gateway.Gateway`` service on one gRPC channel."""

    def __init__(self, channel: grpc.Channel, timeouts: Timeouts) -> None:
        self._stub = gateway_pb2_grpc.GatewayStub(channel)
        self.timeouts = timeouts

    def evaluate(self, request: gateway_pb2.EvaluateRequest, timeout: float | None = None) -> gateway_pb2.EvaluateResponse:
        """Raises: EvaluateError."""
        try:
            return self._stub.Evaluate(request, timeout=pick_timeout(self.timeouts.evaluate, timeout))
        except grpc.RpcError as err:
            raise gateway_error(EvaluateError, err, request.transaction_id) from None

    def endorse(self, request: gateway_pb2.EndorseRequest, timeout: float | None = None) -> gateway_pb2.EndorseResponse:
        """Raises: EndorseError."""
        try:
            return self._stub.Endorse(request, timeout=pick_timeout(self.timeouts.endorse, timeout))
        except grpc.RpcError as err:
            raise gateway_error(EndorseError, err, request.transaction_id) from None

    def submit(self, request: gateway_pb2.SubmitRequest, timeout: float | None = None) -> gateway_pb2.SubmitResponse:
        """Raises: SubmitError."""
        try:
            return self._stub.Submit(request, timeout=pick_timeout(self.timeouts.submit, timeout))
        except grpc.RpcError as err:
            raise gateway_error(SubmitError, err, request.transaction_id) from None

    def commit_status(
        self, request: gateway_pb2.SignedCommitStatusRequest, transaction_id: str, timeout: float | None = None
    ) -> gateway_pb2.CommitStatusResponse:
        """Raises: CommitStatusError."""
        try:
            return self._stub.CommitStatus(request, timeout=pick_timeout(self.timeouts.commit_status, timeout))
        except grpc.RpcError as err:
            raise gateway_error(CommitStatusError, err, transaction_id) from None

    def chaincode_events(
        self, request: gateway_pb2.SignedChaincodeEventsRequest, timeout: float | None = None
    ) -> "EventCall":
        """Open a server stream of ``ChaincodeEventsResponse``."""
        call = self._stub.ChaincodeEvents(request, timeout=pick_timeout(self.timeouts.chaincode_events, timeout))
        return EventCall(call)


class EventCall:
    """A server-streaming call whose failures surface as :class:`EventsError`; ``cancel()`` ends it quietly."""

    def __init__(self, call: grpc.Call) -> None:
        self._call = call
        self._cancelled = False

    def __iter__(self) -> Iterator[gateway_pb2.ChaincodeEventsResponse]:
        try:
            yield from self._call  # type: ignore[misc]
        except grpc.RpcError as err:
            if self._cancelled:
                return
            raise gateway_error(EventsError, err, "") from None

    def cancel(self) -> None:
        """Stop the stream; iteration ends without an error."""
        self._cancelled = True
        self._call.cancel()
