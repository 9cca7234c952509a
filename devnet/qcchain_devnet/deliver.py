"""The peer's block event service (``protos.Deliver``: Deliver and DeliverFiltered), as Fabric's
``common/deliver`` handler: each request envelope carries a signed ``orderer.SeekInfo``; blocks from
start to stop are streamed (waiting for new blocks with BLOCK_UNTIL_READY), then a SUCCESS status.
Bad requests end with BAD_REQUEST, an unknown channel with NOT_FOUND, a signer who is not a channel
member with FORBIDDEN. DeliverWithPrivateData is not offered (UNIMPLEMENTED).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import chaincode_event_pb2, events_pb2, events_pb2_grpc

from .errors import AccessDenied, UnpackError
from .peernode import PeerNode
from .protoutil import unpack_envelope

log = logging.getLogger(__name__)

__all__ = ["DeliverService", "filtered_block"]

_MAX = (1 << 64) - 1


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def filtered_block(channel: str, block: common_pb2.Block) -> events_pb2.FilteredBlock:
    """The filtered view of a block: tx ids, types, validation codes and events without payloads."""
    flags = block.metadata.metadata[2] if len(block.metadata.metadata) > 2 else b""
    out = events_pb2.FilteredBlock(channel_id=channel, number=block.header.number)
    for idx, raw in enumerate(block.data.data):
        try:
            env = unpack_envelope(raw)
        except UnpackError:
            continue
        ftx = events_pb2.FilteredTransaction(txid=env.channel_header.tx_id, type=env.channel_header.type,
                                             tx_validation_code=flags[idx] if idx < len(flags) else 254)
        if env.cc_action is not None:
            actions = ftx.transaction_actions.chaincode_actions
            if env.cc_action.events:
                ev = chaincode_event_pb2.ChaincodeEvent.FromString(env.cc_action.events)
                ev.ClearField("payload")
                actions.add(chaincode_event=ev)
            else:
                actions.add()
        out.filtered_transactions.append(ftx)
    return out


class DeliverService(events_pb2_grpc.DeliverServicer):
    """Block and filtered-block streams over the devnet's ledgers."""

    def __init__(self, core: PeerNode) -> None:
        self.core = core

    def _seek(self, env: common_pb2.Envelope) -> tuple[str, int, int, bool]:
        try:
            payload = common_pb2.Payload.FromString(env.payload)
            chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
            shdr = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
            seek = ab_pb2.SeekInfo.FromString(payload.data)
        except Exception as exc:
            raise _Refused(common_pb2.BAD_REQUEST) from exc
        channel = next((c for c in self.core.config.channels if c.name == chdr.channel_id), None)
        if channel is None:
            raise _Refused(common_pb2.NOT_FOUND)
        try:
            ident = self.core.msp.deserialize(shdr.creator, channel.name, channel.members)
        except AccessDenied as exc:
            raise _Refused(common_pb2.FORBIDDEN) from exc
        if not ident.verify(env.signature, env.payload):
            raise _Refused(common_pb2.FORBIDDEN)
        height = self.core.ledgers[channel.name].height
        if not seek.HasField("start"):
            raise _Refused(common_pb2.BAD_REQUEST)
        start = _position(seek.start, height, 0)
        stop = _position(seek.stop, height, _MAX)
        if stop < start:
            raise _Refused(common_pb2.BAD_REQUEST)
        wait = seek.behavior == ab_pb2.SeekInfo.BLOCK_UNTIL_READY
        if not wait and start >= height:
            raise _Refused(common_pb2.NOT_FOUND)
        return channel.name, start, stop, wait

    async def _stream(self, request_iterator: AsyncIterator[common_pb2.Envelope],
                      filtered: bool) -> AsyncIterator[events_pb2.DeliverResponse]:
        async for env in request_iterator:
            try:
                channel, start, stop, wait = self._seek(env)
            except _Refused as refused:
                yield events_pb2.DeliverResponse(status=refused.status)
                return
            height = self.core.ledgers[channel].height
            async for num, block in self.core.blocks_from(channel, start):
                if filtered:
                    yield events_pb2.DeliverResponse(filtered_block=filtered_block(channel, block))
                else:
                    yield events_pb2.DeliverResponse(block=block)
                if num >= stop or (not wait and num + 1 >= height):
                    break
            ok = wait or stop < height
            yield events_pb2.DeliverResponse(status=common_pb2.SUCCESS if ok else common_pb2.NOT_FOUND)
            if not ok:
                return

    async def Deliver(self, request_iterator: AsyncIterator[common_pb2.Envelope],  # type: ignore[override]
                      context: grpc.aio.ServicerContext) -> AsyncIterator[events_pb2.DeliverResponse]:
        """Full blocks from the requested start to stop."""
        async for reply in self._stream(request_iterator, filtered=False):
            yield reply

    async def DeliverFiltered(self, request_iterator: AsyncIterator[common_pb2.Envelope],  # type: ignore[override]
                              context: grpc.aio.ServicerContext) -> AsyncIterator[events_pb2.DeliverResponse]:
        """Filtered blocks (tx ids, validation codes, events without payloads)."""
        async for reply in self._stream(request_iterator, filtered=True):
            yield reply


def _position(pos: ab_pb2.SeekPosition, height: int, default: int) -> int:
    kind = pos.WhichOneof("Type")
    if kind == "oldest":
        return 0
    if kind == "newest":
        return max(height - 1, 0)
    if kind == "specified":
        return pos.specified.number
    return default
