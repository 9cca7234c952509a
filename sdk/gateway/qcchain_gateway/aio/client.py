"""The asyncio transport: the Gateway calls over one ``grpc.aio`` channel, failures mapped to the same
errors as the blocking client (:func:`qcchain_gateway.client.gateway_error`). Nothing here builds or signs."""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

import grpc
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc

from qcchain_gateway.client import Timeouts, gateway_error, pick_timeout
from qcchain_gateway.errors import CommitStatusError, EndorseError, EvaluateError, EventsError, SubmitError

logger = logging.getLogger(__name__)

__all__ = ["AsyncEventCall", "AsyncGatewayClient"]


class AsyncGatewayClient:
    """Calls the ``gateway.Gateway`` service on one ``grpc.aio`` channel."""

    def __init__(self, channel: grpc.aio.Channel, timeouts: Timeouts) -> None:
        self._stub = gateway_pb2_grpc.GatewayStub(channel)
        self.timeouts = timeouts

    async def evaluate(self, request: gateway_pb2.EvaluateRequest,
                       timeout: float | None = None) -> gateway_pb2.EvaluateResponse:
        """Raises: EvaluateError (or a typed chaincode-status subtype)."""
        try:
            return await self._stub.Evaluate(request, timeout=pick_timeout(self.timeouts.evaluate, timeout))
        except grpc.RpcError as err:
            raise gateway_error(EvaluateError, err, request.transaction_id) from None

    async def endorse(self, request: gateway_pb2.EndorseRequest,
                      timeout: float | None = None) -> gateway_pb2.EndorseResponse:
        """Raises: EndorseError (or a typed chaincode-status subtype)."""
        try:
            return await self._stub.Endorse(request, timeout=pick_timeout(self.timeouts.endorse, timeout))
        except grpc.RpcError as err:
            raise gateway_error(EndorseError, err, request.transaction_id) from None

    async def submit(self, request: gateway_pb2.SubmitRequest, timeout: float | None = None) -> gateway_pb2.SubmitResponse:
        """Raises: SubmitError."""
        try:
            return await self._stub.Submit(request, timeout=pick_timeout(self.timeouts.submit, timeout))
        except grpc.RpcError as err:
            raise gateway_error(SubmitError, err, request.transaction_id) from None

    async def commit_status(self, request: gateway_pb2.SignedCommitStatusRequest, transaction_id: str,
                            timeout: float | None = None) -> gateway_pb2.CommitStatusResponse:
        """Raises: CommitStatusError."""
        try:
            return await self._stub.CommitStatus(request, timeout=pick_timeout(self.timeouts.commit_status, timeout))
        except grpc.RpcError as err:
            raise gateway_error(CommitStatusError, err, transaction_id) from None

    def chaincode_events(self, request: gateway_pb2.SignedChaincodeEventsRequest,
                         timeout: float | None = None) -> "AsyncEventCall":
        """Open a server stream of ``ChaincodeEventsResponse`` (the call starts on first iteration)."""
        call = self._stub.ChaincodeEvents(request, timeout=pick_timeout(self.timeouts.chaincode_events, timeout))
        return AsyncEventCall(call)


class AsyncEventCall:
    """A server-streaming call whose failures surface as :class:`EventsError`; ``cancel()`` ends it quietly."""

    def __init__(self, call: grpc.aio.UnaryStreamCall) -> None:
        self._call = call
        self._cancelled = False

    async def responses(self) -> AsyncIterator[gateway_pb2.ChaincodeEventsResponse]:
        """The responses, one per block with events."""
        try:
            async for response in self._call:
                yield response
        except grpc.RpcError as err:
            if self._cancelled:
                return
            raise gateway_error(EventsError, err, "") from None
        except asyncio.CancelledError:
            if not self._cancelled:  # the task itself is being cancelled: let it be
                raise

    def cancel(self) -> None:
        """Stop the stream; iteration ends without an error."""
        self._cancelled = True
        self._call.cancel()
