"""Fabric's Gateway gRPC service (``gateway.Gateway``) served by the devnet.

Answers like a v3.1.5 peer's gateway (see FABRIC-NOTES.md): status codes and messages for unpack
errors, unknown channels or chaincodes, access denials and chaincode errors, with per-peer
``gateway.ErrorDetail`` attached to endorsement failures.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import chaincode_event_pb2
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status

from .errors import (
    AccessDenied,
    ChaincodeFailed,
    ChaincodeNotFound,
    ChaincodeUnavailable,
    ChannelNotFound,
    ProposalError,
    SimulationError,
    UnpackError,
)
from .model import ChannelDef, Identity
from .peernode import PeerNode
from .protoutil import (
    UnpackedProposal,
    new_transaction_envelope,
    unpack_envelope,
    unpack_signed_proposal,
)
from .qscc import QSCC_NAME, invoke_qscc

log = logging.getLogger(__name__)

__all__ = ["GatewayService"]


async def _abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str,
                 details: list[gateway_pb2.ErrorDetail] = ()) -> None:
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    for d in details:
        packed = any_pb2.Any()
        packed.Pack(d)
        status.details.append(packed)
    await context.abort_with_status(rpc_status.to_status(status))


class GatewayService(gateway_pb2_grpc.GatewayServicer):
    """Evaluate, Endorse, Submit, CommitStatus and ChaincodeEvents over the devnet core."""

    def __init__(self, core: PeerNode) -> None:
        self.core = core
        self._plans: dict[tuple[str, str, str], list[str] | None] = {}

    def _detail(self, msp_id: str, message: str) -> gateway_pb2.ErrorDetail:
        org = next((o for o in self.core.config.orgs if o.msp_id == msp_id), None)
        host = org.peer_host if org and org.peer_host else f"peer0.{msp_id.lower()}"
        return gateway_pb2.ErrorDetail(address=f"{host}:{self.core.port}", msp_id=msp_id, message=message)

    async def _proposal(self, signed: object, context: grpc.aio.ServicerContext,
                        endorse: bool = False) -> tuple[UnpackedProposal, ChannelDef]:
        """Unpack and locate the channel; for Endorse also the chaincode (answers as a real gateway)."""
        try:
            up = unpack_signed_proposal(signed)  # type: ignore[arg-type]
        except UnpackError as exc:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"failed to unpack transaction proposal: {exc}")
            raise
        no_plan = ("no combination of peers can be derived which satisfy the endorsement policy: "
                   f"No metadata was found for chaincode {up.chaincode} in channel {up.channel_id}")
        try:
            channel = self.core.config.channel(up.channel_id)
        except ChannelNotFound:
            if endorse:
                await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, no_plan)
            await _abort(context, grpc.StatusCode.UNAVAILABLE, f"failed to get config for channel "
                         f"[{up.channel_id}]: could not get last config for channel {up.channel_id}")
            raise
        if endorse and not any(c.name == up.chaincode for c in channel.chaincodes):
            await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, no_plan)
        return up, channel

    def _local_org(self, up: UnpackedProposal, channel: ChannelDef) -> str:
        mine = up.creator.mspid
        return mine if mine in channel.members and mine in self.core.endorser.signers else channel.members[0]

    async def Evaluate(self, request: gateway_pb2.EvaluateRequest,
                       context: grpc.aio.ServicerContext) -> gateway_pb2.EvaluateResponse:
        up, channel = await self._proposal(request.proposed_transaction, context)
        if up.chaincode != QSCC_NAME and not any(c.name == up.chaincode for c in channel.chaincodes):
            await _abort(context, grpc.StatusCode.FAILED_PRECONDITION,
                         f"no peers available to evaluate chaincode {up.chaincode} in channel {channel.name}")
        targets = [o for o in request.target_organizations if o in channel.members]
        peer = targets[0] if targets else self._local_org(up, channel)
        prefix = "evaluate call to endorser returned error: "
        try:
            creator = self.core.endorser.check(up, channel)
            if up.chaincode == QSCC_NAME:
                readable = {ch.name for ch in self.core.config.channels if creator.msp_id in ch.members}
                ledgers = {name: led for name, led in self.core.ledgers.items() if name in readable}
                response = invoke_qscc(ledgers, up.args)
            else:
                response = (await self.core.endorser.simulate(up, channel, creator, peer)).response
        except (AccessDenied, ProposalError) as exc:
            msg = f"error validating proposal: {exc}"
            await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, prefix + msg, [self._detail(peer, msg)])
            raise
        except (ChaincodeFailed, SimulationError) as exc:
            msg = f"chaincode response 500, {exc}"
            await _abort(context, grpc.StatusCode.UNKNOWN, prefix + msg, [self._detail(peer, msg)])
            raise
        except ChaincodeUnavailable as exc:
            await _abort(context, grpc.StatusCode.UNAVAILABLE, prefix + str(exc), [self._detail(peer, str(exc))])
            raise
        if response.status >= 400:
            msg = f"chaincode response {response.status}, {response.message}"
            await _abort(context, grpc.StatusCode.UNKNOWN, prefix + msg, [self._detail(peer, msg)])
        return gateway_pb2.EvaluateResponse(result=response)

    async def _plan(self, up: UnpackedProposal, channel: ChannelDef, requested: list[str],
                    context: grpc.aio.ServicerContext) -> list[str]:
        if requested:
            unknown = [o for o in requested if o not in channel.members or o not in self.core.endorser.signers]
            if unknown:
                await _abort(context, grpc.StatusCode.UNAVAILABLE,
                             f"failed to find any endorsing peers for org(s): {', '.join(unknown)}")
            return list(dict.fromkeys(requested))
        local = self._local_org(up, channel)
        key = (channel.name, up.chaincode, local)
        plan = self._plans.get(key)
        if plan is None:
            order = [local] + [m for m in channel.members if m != local and m in self.core.endorser.signers]
            plan = self._plans[key] = self.core.policies[channel.name][up.chaincode].plan(order)
        if plan is None:
            await _abort(context, grpc.StatusCode.UNAVAILABLE,
                         "no combination of peers can be derived which satisfy the endorsement policy")
        return plan  # type: ignore[return-value]

    async def Endorse(self, request: gateway_pb2.EndorseRequest,
                      context: grpc.aio.ServicerContext) -> gateway_pb2.EndorseResponse:
        up, channel = await self._proposal(request.proposed_transaction, context, endorse=True)
        orgs = await self._plan(up, channel, list(request.endorsing_organizations), context)
        first = up.creator.mspid if up.creator.mspid in orgs else orgs[0]
        aborted = "failed to endorse transaction, see attached details"
        try:
            creator = self.core.endorser.check(up, channel)
            sim = await self.core.endorser.simulate(up, channel, creator, first)
        except (AccessDenied, ProposalError, ChaincodeFailed, SimulationError, ChaincodeUnavailable,
                ChaincodeNotFound) as exc:
            text = _endorse_failure(exc)
            await _abort(context, grpc.StatusCode.ABORTED, aborted, [self._detail(first, text)])
            raise
        if sim.response.status >= 400:
            text = f"chaincode response {sim.response.status}, {sim.response.message}"
            await _abort(context, grpc.StatusCode.ABORTED, aborted, [self._detail(first, text)])
        if sim.result is not None and sim.result.pvt:
            self.core.store_private(up.tx_id, sim.result)
        responses = self.core.endorser.endorse(sim, orgs)
        env = new_transaction_envelope(up, responses)
        return gateway_pb2.EndorseResponse(prepared_transaction=env)

    async def Submit(self, request: gateway_pb2.SubmitRequest,
                     context: grpc.aio.ServicerContext) -> gateway_pb2.SubmitResponse:
        env = request.prepared_transaction
        if not env.payload:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "a signed envelope is required")
        try:
            unpacked = unpack_envelope(env)
        except UnpackError as exc:
            await _abort(context, grpc.StatusCode.ABORTED,
                         f"received unsuccessful response from orderer: status=BAD_REQUEST, info={exc}")
            raise
        if unpacked.cc_action is None:
            await _abort(context, grpc.StatusCode.ABORTED,
                         "received unsuccessful response from orderer: status=BAD_REQUEST, info=the devnet orders "
                         "endorser transactions only (no config updates)")
        channel_id = unpacked.channel_header.channel_id
        if channel_id not in self.core.channels:
            await _abort(context, grpc.StatusCode.UNAVAILABLE, f"failed to get config for channel [{channel_id}]")
        channel = self.core.config.channel(channel_id)
        try:
            creator = self.core.msp.deserialize(unpacked.signature_header.creator, channel_id, channel.members)
            ok = creator.verify(env.signature, env.payload, self.core.endorser.memo)
        except AccessDenied:
            ok = False
        if not ok:
            await _abort(context, grpc.StatusCode.ABORTED,
                         "received unsuccessful response from orderer: status=FORBIDDEN, info=implicit policy "
                         "evaluation failed - 0 sub-policies were satisfied, but this policy requires 1 of the "
                         "'Writers' sub-policies to be satisfied")
        await self.core.submit(channel_id, env.SerializeToString(), unpacked)
        return gateway_pb2.SubmitResponse()

    async def _signed_request(self, cls: type, raw: bytes, signature: bytes,
                              context: grpc.aio.ServicerContext) -> tuple[object, Identity]:
        req = cls()
        try:
            req.ParseFromString(raw)
        except Exception as exc:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"failed to unmarshal request: {exc}")
            raise
        if req.channel_id not in self.core.channels:
            await _abort(context, grpc.StatusCode.NOT_FOUND, f"channel not found: {req.channel_id}")
        channel = self.core.config.channel(req.channel_id)
        try:
            ident = self.core.msp.deserialize(req.identity, channel.name, channel.members)
            ok = ident.verify(signature, raw)
        except AccessDenied:
            ok = False
        if not ok:
            await _abort(context, grpc.StatusCode.PERMISSION_DENIED,
                         f"failed to evaluate policy /Channel/Application/Readers for channel {channel.name}: "
                         "the request is not signed by a channel reader")
        return req, ident

    async def CommitStatus(self, request: gateway_pb2.SignedCommitStatusRequest,
                           context: grpc.aio.ServicerContext) -> gateway_pb2.CommitStatusResponse:
        req, _ident = await self._signed_request(gateway_pb2.CommitStatusRequest, request.request,
                                                 request.signature, context)
        code, block = await self.core.wait_commit(req.channel_id, req.transaction_id)  # type: ignore[attr-defined]
        return gateway_pb2.CommitStatusResponse(result=code, block_number=block)

    async def ChaincodeEvents(self, request: gateway_pb2.SignedChaincodeEventsRequest,
                              context: grpc.aio.ServicerContext) -> AsyncIterator[gateway_pb2.ChaincodeEventsResponse]:
        req, _ident = await self._signed_request(gateway_pb2.ChaincodeEventsRequest, request.request,
                                                 request.signature, context)
        ledger = self.core.ledgers[req.channel_id]  # type: ignore[attr-defined]
        start = _start_block(req.start_position, ledger.height)  # type: ignore[attr-defined]
        skip_until = req.after_transaction_id  # type: ignore[attr-defined]
        async for num, block in self.core.blocks_from(req.channel_id, start):  # type: ignore[attr-defined]
            events = events_in_block(block, req.chaincode_id)  # type: ignore[attr-defined]
            if skip_until:
                ids = [e.tx_id for e in events]
                if skip_until in ids:
                    events = events[ids.index(skip_until) + 1:]
                skip_until = ""
            if events:
                yield gateway_pb2.ChaincodeEventsResponse(events=events, block_number=num)


def _endorse_failure(exc: Exception) -> str:
    """The per-peer detail message of a failed endorsement, worded as a v3 peer words it."""
    if isinstance(exc, (ChaincodeFailed, SimulationError)):
        return f"chaincode response 500, {exc}"
    if isinstance(exc, (AccessDenied, ProposalError)):
        return f"error validating proposal: {exc}"
    return str(exc)


def _start_block(pos: ab_pb2.SeekPosition, height: int) -> int:
    kind = pos.WhichOneof("Type")
    if kind == "oldest":
        return 0
    if kind == "specified":
        return pos.specified.number
    return height


def events_in_block(block: common_pb2.Block, chaincode: str) -> list[chaincode_event_pb2.ChaincodeEvent]:
    """Chaincode events of ``chaincode`` emitted by the block's VALID transactions, in block order."""
    flags = block.metadata.metadata[2] if len(block.metadata.metadata) > 2 else b""
    out = []
    for idx, raw in enumerate(block.data.data):
        if idx >= len(flags) or flags[idx] != 0:
            continue
        try:
            env = unpack_envelope(raw)
        except UnpackError:
            continue
        if env.cc_action is None or not env.cc_action.events:
            continue
        ev = chaincode_event_pb2.ChaincodeEvent()
        ev.ParseFromString(env.cc_action.events)
        if ev.chaincode_id == chaincode:
            out.append(ev)
    return out

