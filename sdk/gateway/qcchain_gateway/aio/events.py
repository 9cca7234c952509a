"""Chaincode event streams for asyncio programs: same requests, checkpoints and events as the blocking API."""

from __future__ import annotations

import logging
from typing import AsyncIterator

from qcchain_gateway.aio.client import AsyncEventCall, AsyncGatewayClient
from qcchain_gateway.chaincodeevent import ChaincodeEvent
from qcchain_gateway.events import EventsRequestCore, events_of

logger = logging.getLogger(__name__)

__all__ = ["AsyncChaincodeEventStream", "AsyncChaincodeEventsRequest"]


class AsyncChaincodeEventStream:
    """An async iterator of :class:`ChaincodeEvent`; ``close()`` (or leaving the ``async with`` block) ends it.

    Iteration raises :class:`~qcchain_gateway.errors.EventsError` if the stream fails.
    """

    def __init__(self, call: AsyncEventCall) -> None:
        self._call = call

    async def _events(self) -> AsyncIterator[ChaincodeEvent]:
        async for response in self._call.responses():
            for event in events_of(response):
                yield event

    def __aiter__(self) -> AsyncIterator[ChaincodeEvent]:
        return self._events()

    def close(self) -> None:
        """Cancel the stream."""
        self._call.cancel()

    async def __aenter__(self) -> "AsyncChaincodeEventStream":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


class AsyncChaincodeEventsRequest(EventsRequestCore[AsyncGatewayClient]):
    """A built events request (asyncio); signable offline like proposals."""

    def get_events(self, timeout: float | None = None) -> AsyncChaincodeEventStream:
        """Open the stream (it starts on first iteration).

        Raises:
            SigningError: no signer / the signer failed.
        """
        return AsyncChaincodeEventStream(self._client.chaincode_events(self._signed_request(), timeout))
