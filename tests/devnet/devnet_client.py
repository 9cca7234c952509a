"""A minimal Fabric Gateway client for the devnet tests (protocol as fabric-gateway uses it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import proposal_pb2
from grpc_status import rpc_status
from qcchain_devnet.protoutil import new_signed_proposal


@dataclass
class Endorsed:
    tx_id: str
    envelope: common_pb2.Envelope


class GatewayClient:
    def __init__(self, channel: grpc.Channel, user: Any, channel_id: str) -> None:
        self.grpc_channel = channel
        self.stub = gateway_pb2_grpc.GatewayStub(channel)
        self.user = user
        self.channel_id = channel_id

    def proposal(self, chaincode: str, args: list[str | bytes], transient: dict[str, bytes] | None = None,
                 user: Any = None, channel_id: str | None = None) -> tuple[proposal_pb2.SignedProposal, str]:
        user = user or self.user
        raw = [a.encode() if isinstance(a, str) else a for a in args]
        return new_signed_proposal(user.key, user.creator, channel_id or self.channel_id, chaincode, raw, transient)

    def evaluate_signed(self, signed: proposal_pb2.SignedProposal, tx_id: str, channel_id: str | None = None) -> bytes:
        req = gateway_pb2.EvaluateRequest(transaction_id=tx_id, channel_id=channel_id or self.channel_id,
                                          proposed_transaction=signed)
        return self.stub.Evaluate(req, timeout=10).result.payload

    def evaluate(self, chaincode: str, *args: str | bytes, **kw: Any) -> bytes:
        signed, tx_id = self.proposal(chaincode, list(args), **kw)
        return self.evaluate_signed(signed, tx_id)

    def endorse_signed(self, signed: proposal_pb2.SignedProposal, tx_id: str,
                       orgs: list[str] | None = None) -> Endorsed:
        req = gateway_pb2.EndorseRequest(transaction_id=tx_id, channel_id=self.channel_id,
                                         proposed_transaction=signed, endorsing_organizations=orgs or [])
        env = self.stub.Endorse(req, timeout=30).prepared_transaction
        return Endorsed(tx_id, env)

    def endorse(self, chaincode: str, *args: str | bytes, orgs: list[str] | None = None, **kw: Any) -> Endorsed:
        signed, tx_id = self.proposal(chaincode, list(args), **kw)
        return self.endorse_signed(signed, tx_id, orgs)

    def submit(self, endorsed: Endorsed, user: Any = None, sign: bool = True) -> None:
        user = user or self.user
        env = common_pb2.Envelope()
        env.CopyFrom(endorsed.envelope)
        if sign:
            env.signature = user.sign(env.payload)
        self.stub.Submit(gateway_pb2.SubmitRequest(transaction_id=endorsed.tx_id, channel_id=self.channel_id,
                                                   prepared_transaction=env), timeout=10)

    def status(self, tx_id: str, user: Any = None, timeout: float = 10, signer: Any = None) -> tuple[int, int]:
        user = user or self.user
        req = gateway_pb2.CommitStatusRequest(transaction_id=tx_id, channel_id=self.channel_id,
                                              identity=user.creator).SerializeToString()
        signed = gateway_pb2.SignedCommitStatusRequest(request=req, signature=(signer or user).sign(req))
        resp = self.stub.CommitStatus(signed, timeout=timeout)
        return resp.result, resp.block_number

    def submit_and_wait(self, chaincode: str, *args: str | bytes, **kw: Any) -> tuple[int, int, str]:
        endorsed = self.endorse(chaincode, *args, **kw)
        self.submit(endorsed)
        code, block = self.status(endorsed.tx_id)
        return code, block, endorsed.tx_id

    def events(self, chaincode: str, start: int | None = None):
        from fabric_protos.orderer import ab_pb2
        req = gateway_pb2.ChaincodeEventsRequest(channel_id=self.channel_id, chaincode_id=chaincode,
                                                 identity=self.user.creator)
        if start is not None:
            req.start_position.CopyFrom(ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start)))
        raw = req.SerializeToString()
        return self.stub.ChaincodeEvents(gateway_pb2.SignedChaincodeEventsRequest(
            request=raw, signature=self.user.sign(raw)), timeout=10)


def details(err: grpc.RpcError) -> list[gateway_pb2.ErrorDetail]:
    status = rpc_status.from_call(err)
    out = []
    for any_msg in (status.details if status else []):
        d = gateway_pb2.ErrorDetail()
        any_msg.Unpack(d)
        out.append(d)
    return out
