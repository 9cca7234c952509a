"""The peer's Deliver service: block and filtered-block streams with Fabric's status answers."""

from __future__ import annotations

import os

from fabric_protos.common import common_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import events_pb2_grpc
from qcchain_devnet.protoutil import timestamp_now


def _seek(user, channel: str, start: int, stop: int | None, wait: bool = True) -> common_pb2.Envelope:
    chdr = common_pb2.ChannelHeader(type=common_pb2.DELIVER_SEEK_INFO, channel_id=channel, timestamp=timestamp_now())
    shdr = common_pb2.SignatureHeader(creator=user.creator, nonce=os.urandom(24))
    seek = ab_pb2.SeekInfo(start=ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start)),
                           behavior=ab_pb2.SeekInfo.BLOCK_UNTIL_READY if wait else ab_pb2.SeekInfo.FAIL_IF_NOT_READY)
    if stop is not None:
        seek.stop.CopyFrom(ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=stop)))
    payload = common_pb2.Payload(header=common_pb2.Header(channel_header=chdr.SerializeToString(),
                                                          signature_header=shdr.SerializeToString()),
                                 data=seek.SerializeToString()).SerializeToString()
    return common_pb2.Envelope(payload=payload, signature=user.sign(payload))


def test_deliver_blocks_and_filtered(client, crypto) -> None:
    _code, num, tx_id = client.submit_and_wait("kv", "put", "dlv", "1")
    stub = events_pb2_grpc.DeliverStub(client.grpc_channel)
    user = crypto.users["Org1MSP"]
    replies = list(stub.Deliver(iter([_seek(user, "mychannel", 0, num)]), timeout=10))
    assert [r.block.header.number for r in replies[:-1]] == list(range(num + 1))
    assert replies[-1].status == common_pb2.SUCCESS
    replies = list(stub.DeliverFiltered(iter([_seek(user, "mychannel", num, num)]), timeout=10))
    fb = replies[0].filtered_block
    assert fb.number == num and fb.filtered_transactions[0].txid == tx_id
    assert fb.filtered_transactions[0].tx_validation_code == 0
    event = fb.filtered_transactions[0].transaction_actions.chaincode_actions[0].chaincode_event
    assert event.event_name == "Put" and event.payload == b""


def test_deliver_refusals(client, crypto) -> None:
    stub = events_pb2_grpc.DeliverStub(client.grpc_channel)
    org1 = crypto.users["Org1MSP"]
    forbidden = list(stub.Deliver(iter([_seek(org1, "org23", 0, 0)]), timeout=10))
    assert [r.status for r in forbidden] == [common_pb2.FORBIDDEN]
    missing = list(stub.Deliver(iter([_seek(org1, "nochannel", 0, 0)]), timeout=10))
    assert [r.status for r in missing] == [common_pb2.NOT_FOUND]
    not_ready = list(stub.Deliver(iter([_seek(org1, "mychannel", 10_000, None, wait=False)]), timeout=10))
    assert [r.status for r in not_ready] == [common_pb2.NOT_FOUND]
    bad = common_pb2.Envelope(payload=b"\xff\xfe", signature=b"")
    assert [r.status for r in stub.Deliver(iter([bad]), timeout=10)] == [common_pb2.BAD_REQUEST]
