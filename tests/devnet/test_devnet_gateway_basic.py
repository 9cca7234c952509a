"""Evaluate / Endorse / Submit / CommitStatus / ChaincodeEvents / qscc against a running devnet."""

from __future__ import annotations

import grpc
import pytest
from devnet_client import GatewayClient, details
from fabric_protos.common import common_pb2, ledger_pb2
from fabric_protos.peer import transaction_pb2
from qcchain_devnet.protoutil import block_data_hash, block_header_hash, unpack_envelope

VALID = transaction_pb2.VALID


def test_submit_then_evaluate(client, devnet) -> None:
    h0 = devnet.height("mychannel")
    code, block, _tx = client.submit_and_wait("kv", "put", "k1", "v1")
    assert code == VALID
    assert block == h0
    assert client.evaluate("kv", "get", "k1") == b"v1"
    assert devnet.height("mychannel") == h0 + 1


def test_block_structure_and_two_endorsements(client, devnet) -> None:
    _code, num, tx_id = client.submit_and_wait("kv", "put", "k2", "v2")
    raw = client.evaluate("qscc", "GetBlockByNumber", "mychannel", str(num))
    block = common_pb2.Block.FromString(raw)
    assert block.header.number == num
    assert block.header.data_hash == block_data_hash(block.data)
    prev = common_pb2.Block.FromString(client.evaluate("qscc", "GetBlockByNumber", "mychannel", str(num - 1)))
    assert block.header.previous_hash == block_header_hash(prev.header)
    assert len(block.metadata.metadata) == 5 and block.metadata.metadata[2] == bytes([VALID])
    env = unpack_envelope(block.data.data[0])
    assert env.channel_header.tx_id == tx_id
    assert len(env.action_payload.action.endorsements) == 2
    info = ledger_pb2.BlockchainInfo.FromString(client.evaluate("qscc", "GetChainInfo", "mychannel"))
    assert info.height == devnet.height("mychannel")
    assert info.currentBlockHash == block_header_hash(block.header)
    ptx = transaction_pb2.ProcessedTransaction.FromString(
        client.evaluate("qscc", "GetTransactionByID", "mychannel", tx_id))
    assert ptx.validationCode == VALID
    by_tx = common_pb2.Block.FromString(client.evaluate("qscc", "GetBlockByTxID", "mychannel", tx_id))
    assert by_tx.header.number == num
    by_hash = common_pb2.Block.FromString(client.evaluate("qscc", "GetBlockByHash", "mychannel",
                                                          block_header_hash(block.header)))
    assert by_hash.header.number == num


def test_chaincode_error_on_evaluate_and_endorse(client) -> None:
    with pytest.raises(grpc.RpcError) as err:
        client.evaluate("kv", "t:fail", "boom")
    assert err.value.code() == grpc.StatusCode.UNKNOWN
    assert "chaincode response 500, boom" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        client.endorse("kv", "t:fail", "bang")
    assert err.value.code() == grpc.StatusCode.ABORTED
    assert err.value.details() == "failed to endorse transaction, see attached details"
    assert any("bang" in d.message for d in details(err.value))


def test_chaincode_events_from_block(client, devnet) -> None:
    start = devnet.height("mychannel")
    client.submit_and_wait("kv", "put", "ev1", "a")
    client.submit_and_wait("kv", "put", "ev2", "b")
    stream = client.events("kv", start=start)
    got = []
    for resp in stream:
        got.extend((resp.block_number, e.event_name, e.payload) for e in resp.events)
        if len(got) >= 2:
            stream.cancel()
            break
    assert [g[1:] for g in got] == [("Put", b"ev1"), ("Put", b"ev2")]
    assert got[0][0] >= start


def test_history_and_range(client, devnet, tmp_path) -> None:
    import json
    import sqlite3

    from qcchain_devnet.snapshot import ledger_path

    for v in ("1", "2", "3"):
        client.submit_and_wait("kv", "put", "hist", v)
    client.submit_and_wait("kv", "delete", "hist")
    client.submit_and_wait("kv", "put", "hist", "4")
    hist = json.loads(client.evaluate("kv", "t:history", "hist"))
    assert [(h[1], h[2]) for h in hist] == [("4", False), ("", True), ("3", False), ("2", False), ("1", False)]
    # as Fabric's history database: rows point at the transaction, the values are read from the blocks
    with sqlite3.connect(ledger_path(tmp_path / "state", "mychannel")) as db:
        rows = db.execute("SELECT value, is_delete FROM history WHERE key=?", (b"hist",)).fetchall()
    assert sorted(rows) == [(None, 0)] * 4 + [(None, 1)]
    client.submit_and_wait("kv", "put", "r/a", "1")
    client.submit_and_wait("kv", "put", "r/b", "1")
    assert json.loads(client.evaluate("kv", "keys", "r/", "r0")) == ["r/a", "r/b"]


def test_qscc_only_for_channels_the_creator_belongs_to(client, devnet, crypto) -> None:
    with pytest.raises(grpc.RpcError) as err:
        client.evaluate("qscc", "GetChainInfo", "org23")
    assert err.value.code() == grpc.StatusCode.UNKNOWN
    assert "chaincode response 500, Invalid chain ID, org23" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        client.evaluate("qscc", "GetBlockByNumber", "mychannel", "999")
    assert "Entry not found" in err.value.details()
    raw = client.evaluate("qscc", "GetChainInfo", "org23", user=crypto.users["Org2MSP"], channel_id="org23")
    assert ledger_pb2.BlockchainInfo.FromString(raw).height == devnet.height("org23") == 1


def test_channels_are_separate(client, crypto) -> None:
    other = GatewayClient(client.grpc_channel, crypto.users["Org2MSP"], "org23")
    assert other.submit_and_wait("kv", "put", "sep", "23")[0] == VALID
    with pytest.raises(grpc.RpcError):
        client.evaluate("kv", "get", "sep")
    assert other.evaluate("kv", "get", "sep") == b"23"
    with pytest.raises(grpc.RpcError) as err:           # Org1 is not a member of org23
        other.evaluate("kv", "get", "sep", user=crypto.users["Org1MSP"])
    assert "access denied: channel [org23] creator org [Org1MSP]" in err.value.details()


def test_events_default_start_and_after_transaction(client, devnet) -> None:
    stream = client.events("kv")                     # no start position: from the next block on
    first = client.submit_and_wait("kv", "put", "ev-next-1", "a")[2]
    client.submit_and_wait("kv", "put", "ev-next-2", "b")
    resp = next(stream)
    assert [e.tx_id for e in resp.events] == [first]
    stream.cancel()
    from fabric_protos.gateway import gateway_pb2 as g
    from fabric_protos.orderer import ab_pb2
    req = g.ChaincodeEventsRequest(channel_id="mychannel", chaincode_id="kv", identity=client.user.creator,
                                   after_transaction_id=first)
    req.start_position.CopyFrom(ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=resp.block_number)))
    raw = req.SerializeToString()
    stream = client.stub.ChaincodeEvents(g.SignedChaincodeEventsRequest(request=raw, signature=client.user.sign(raw)),
                                         timeout=10)
    nxt = next(stream)
    assert [e.payload for e in nxt.events] == [b"ev-next-2"]
    stream.cancel()


def test_range_query_pages_through_query_state_next(client) -> None:
    assert client.submit_and_wait("kv", "t:put_many", "many/", "250")[0] == VALID
    assert client.evaluate("kv", "t:count_range", "many/", "many0") == b"250"
