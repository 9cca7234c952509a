"""Ledger persistence, hash chain checks, and the block format against real Fabric v3.1.5 blocks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import grpc
import pytest
from devnet_client import GatewayClient
from devnet_crypto import node_config
from fabric_protos.common import common_pb2
from qcchain_devnet.errors import LedgerCorrupted, LedgerError
from qcchain_devnet.ledger import Ledger, UpdateBatch
from qcchain_devnet.node import DevNet
from qcchain_devnet.protoutil import (
    block_data_hash,
    block_header_bytes,
    unpack_envelope,
)

BLOCKS = Path("/work/shared/spec/fabric-v3.1.5-blocks")


def _client(net: DevNet, crypto) -> tuple[grpc.Channel, GatewayClient]:
    ch = grpc.secure_channel(f"127.0.0.1:{net.port}", grpc.ssl_channel_credentials(crypto.tls_ca.cert_pem))
    return ch, GatewayClient(ch, crypto.users["Org1MSP"], "mychannel")


def test_restart_resumes_at_same_height(tmp_path, crypto, chaincode) -> None:
    state = tmp_path / "state"
    net = DevNet(state, node_config(crypto, chaincode.port))
    net.start()
    ch, client = _client(net, crypto)
    for i in range(3):
        assert client.submit_and_wait("kv", "put", f"p{i}", "v")[0] == 0
    height = net.height("mychannel")
    ch.close()
    net.stop()
    again = DevNet(state, node_config(crypto, chaincode.port))
    assert again.height("mychannel") == height
    again.start()
    ch, client = _client(again, crypto)
    assert client.evaluate("kv", "get", "p2") == b"v"
    assert client.submit_and_wait("kv", "put", "p3", "v")[1] == height
    ch.close()
    again.stop()


def _tamper_db(path: Path, num: int, fn) -> None:
    con = sqlite3.connect(path)
    data = con.execute("SELECT data FROM blocks WHERE num=?", (num,)).fetchone()[0]
    block = common_pb2.Block.FromString(data)
    fn(block)
    con.execute("UPDATE blocks SET data=? WHERE num=?", (block.SerializeToString(), num))
    con.commit()
    con.close()


def _ledger_with_blocks(tmp_path: Path, crypto, chaincode, n: int) -> Path:
    net = DevNet(tmp_path / "s", node_config(crypto, chaincode.port))
    net.start()
    ch, client = _client(net, crypto)
    for i in range(n):
        client.submit_and_wait("kv", "put", f"t{i}", "v")
    ch.close()
    net.stop()
    return tmp_path / "s" / "ledger" / "mychannel.sqlite"


def test_tampered_block_detected_at_start(tmp_path, crypto, chaincode) -> None:
    db = _ledger_with_blocks(tmp_path, crypto, chaincode, 2)

    def alter(block: common_pb2.Block) -> None:
        block.data.data[0] = block.data.data[0][:-1] + bytes([block.data.data[0][-1] ^ 1])
    _tamper_db(db, 1, alter)
    with pytest.raises(LedgerCorrupted, match=r"channel mychannel: block 1: data hash mismatch"):
        DevNet(tmp_path / "s", node_config(crypto, chaincode.port))


def test_broken_hash_chain_detected(tmp_path, crypto, chaincode) -> None:
    db = _ledger_with_blocks(tmp_path, crypto, chaincode, 2)

    def relink(block: common_pb2.Block) -> None:
        block.header.previous_hash = b"\x00" * 32
    _tamper_db(db, 2, relink)
    with pytest.raises(LedgerCorrupted, match=r"block 2: previous hash"):
        Ledger(db, "mychannel")


def test_commit_must_extend_chain(tmp_path) -> None:
    ledger = Ledger(tmp_path / "x.sqlite", "c")
    block = common_pb2.Block()
    block.header.number = 5
    with pytest.raises(LedgerError, match="does not extend the chain"):
        ledger.commit(block, UpdateBatch())
    assert ledger.height == 0
    ledger.close()


def test_real_fabric_blocks_parse() -> None:
    for name in ("data-block.block", "genesis.block"):
        block = common_pb2.Block.FromString((BLOCKS / name).read_bytes())
        assert block_data_hash(block.data) == block.header.data_hash
        assert len(block.metadata.metadata) == 5
    block = common_pb2.Block.FromString((BLOCKS / "data-block.block").read_bytes())
    envs = [unpack_envelope(d) for d in block.data.data]
    assert all(e.cc_action.chaincode_id.name == "pycc" for e in envs)
    assert all(len(e.action_payload.action.endorsements) == 2 for e in envs)
    assert block_header_bytes(block.header)[:2] == b"\x30\x48"


def test_devnet_blocks_have_the_real_structure(tmp_path, crypto, chaincode) -> None:
    db = _ledger_with_blocks(tmp_path, crypto, chaincode, 1)
    ours = Ledger(db, "mychannel")
    mine = common_pb2.Block.FromString(ours.block_bytes(1))
    real = common_pb2.Block.FromString((BLOCKS / "data-block.block").read_bytes())
    a, b = unpack_envelope(mine.data.data[0]), unpack_envelope(real.data.data[0])
    assert a.channel_header.type == b.channel_header.type
    assert [f[0].name for f in a.cc_action.ListFields()] == [f[0].name for f in b.cc_action.ListFields()]
    assert len(mine.metadata.metadata) == len(real.metadata.metadata)
    sig_meta = common_pb2.Metadata.FromString(mine.metadata.metadata[0])
    assert common_pb2.OrdererBlockMetadata.FromString(sig_meta.value).last_config.index == 0
    genesis = common_pb2.Block.FromString(ours.block_bytes(0))
    assert unpack_envelope(genesis.data.data[0]).channel_header.type == common_pb2.CONFIG
    ours.close()
