"""Chaincode event streams (``Gateway.ChaincodeEvents``), resumable from a block or a checkpoint.

:class:`EventsRequestCore` holds the transport-independent part (request, offline signing);
:class:`ChaincodeEventsRequest` opens a blocking stream, :class:`qcchain_gateway.aio.AsyncChaincodeEventsRequest`
an asyncio one. Both yield :class:`~qcchain_gateway.chaincodeevent.ChaincodeEvent` values made by :func:`events_of`.
"""

from __future__ import annotations

import logging
from typing import Generic, Iterator, TypeVar

from fabric_protos.gateway import gateway_pb2
from fabric_protos.orderer import ab_pb2

from qcchain_gateway.chaincodeevent import ChaincodeEvent
from qcchain_gateway.checkpoint import Checkpoint
from qcchain_gateway.client import EventCall, GatewayClient, SigningIdentity

logger = logging.getLogger(__name__)

ClientT = TypeVar("ClientT")


def new_chaincode_events_request(
    creator: bytes,
    channel: str,
    chaincode: str,
    start_block: int | None = None,
    checkpoint: Checkpoint | None = None,
) -> gateway_pb2.SignedChaincodeEventsRequest:
    """An unsigned events request; a non-empty ``checkpoint`` wins over ``start_block``.

    Without either, the stream starts at the next block to be committed.

    Raises:
        ValueError: ``start_block`` is negative.
    """
    if start_block is not None and start_block < 0:
        raise ValueError(f"start_block must be >= 0, got {start_block}")
    position = ab_pb2.SeekPosition(next_commit=ab_pb2.SeekNextCommit())
    after_tx = ""
    if start_block is not None:
        position = ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start_block))
    if checkpoint is not None and (checkpoint.block_number or checkpoint.transaction_id):
        position = ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=checkpoint.block_number))
        after_tx = checkpoint.transaction_id
    request = gateway_pb2.ChaincodeEventsRequest(
        channel_id=channel,
        chaincode_id=chaincode,
        identity=creator,
        start_position=position,
        after_transaction_id=after_tx,
    )
    return gateway_pb2.SignedChaincodeEventsRequest(request=request.SerializeToString())


def events_of(response: gateway_pb2.ChaincodeEventsResponse) -> list[ChaincodeEvent]:
    """The chaincode events of one block, as delivered by the Gateway."""
    return [
        ChaincodeEvent(
            block_number=response.block_number,
            transaction_id=event.tx_id,
            chaincode_name=event.chaincode_id,
            event_name=event.event_name,
            payload=event.payload,
        )
        for event in response.events
    ]


class ChaincodeEventStream:
    """An iterator of :class:`ChaincodeEvent`; ``close()`` (or leaving the ``with`` block) ends it.

    Iteration raises :class:`~qcchain_gateway.errors.EventsError` if the stream fails.
    """

    def __init__(self, call: EventCall) -> None:
        self._call = call

    def __iter__(self) -> Iterator[ChaincodeEvent]:
        for response in self._call:
            yield from events_of(response)

    def close(self) -> None:
        """Cancel the stream."""
        self._call.cancel()

    def __enter__(self) -> "ChaincodeEventStream":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class EventsRequestCore(Generic[ClientT]):
    """A built events request, whatever the transport; signable offline like proposals."""

    def __init__(
        self, client: ClientT, signing_identity: SigningIdentity, signed: gateway_pb2.SignedChaincodeEventsRequest
    ) -> None:
        self._client = client
        self._signing_identity = signing_identity
        self._signed = signed

    def bytes(self) -> bytes:
        """Serialized ``gateway.SignedChaincodeEventsRequest``."""
        return self._signed.SerializeToString()

    def digest(self) -> bytes:
        """The digest to sign."""
        return self._signing_identity.hash(self._signed.request)

    def set_signature(self, signature: bytes) -> None:
        """Attach a signature produced elsewhere over :meth:`digest`."""
        self._signed.signature = bytes(signature)

    def _signed_request(self) -> gateway_pb2.SignedChaincodeEventsRequest:
        """The request, signed now unless a signature was attached (raises SigningError)."""
        if not self._signed.signature:
            self.set_signature(self._signing_identity.sign(self.digest()))
        return self._signed


class ChaincodeEventsRequest(EventsRequestCore[GatewayClient]):
    """A built events request: :meth:`get_events` opens the stream (signing it first unless signed offline).

    Obtained from :meth:`Network.new_chaincode_events_request` or rebuilt from :meth:`bytes` with
    :meth:`Gateway.new_chaincode_events_request` / :meth:`Gateway.new_signed_chaincode_events_request`.
    """

    def get_events(self, timeout: float | None = None) -> ChaincodeEventStream:
        """Open the stream.

        Raises:
            SigningError: no signer / the signer failed.
        """
        return ChaincodeEventStream(self._client.chaincode_events(self._signed_request(), timeout))
