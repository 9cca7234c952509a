"""The transaction simulator's peer rules and rwset encoding (unit level, over a real SQLite ledger)."""

from __future__ import annotations

import hashlib

import pytest
from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from qcchain_devnet.errors import SimulationError
from qcchain_devnet.ledger import Ledger, UpdateBatch
from qcchain_devnet.model import ChaincodeDef, ChannelDef, CollectionDef
from qcchain_devnet.simulator import TxSimulator

CHANNEL = ChannelDef("ch", ("A", "B", "C"), (ChaincodeDef(
    "cc", "OR('A.peer')", collections=(CollectionDef("coll", ("A", "B")),)),))


@pytest.fixture()
def ledger(tmp_path) -> Ledger:
    led = Ledger(tmp_path / "l.sqlite", "ch")
    genesis = common_pb2.Block()
    led.commit(genesis, UpdateBatch())
    batch = UpdateBatch(state={("cc", k): (b"v" + k.encode(), (1, i), None) for i, k in enumerate("abcd")})
    block = common_pb2.Block()
    block.header.number = 1
    block.header.previous_hash = led.last_hash
    led.commit(block, batch)
    yield led
    led.close()


def test_reads_record_committed_versions_not_own_writes(ledger: Ledger) -> None:
    sim = TxSimulator(ledger, CHANNEL, "A", "A")
    sim.put_state("cc", "b", b"new")
    assert sim.get_state("cc", "b") == b"vb"           # no read-your-writes, as Fabric
    assert sim.get_state("cc", "zz") == b""
    res = rwset_pb2.TxReadWriteSet.FromString(sim.result().results)
    kv = kv_rwset_pb2.KVRWSet.FromString(res.ns_rwset[0].rwset)
    assert [(r.key, r.HasField("version")) for r in kv.reads] == [("b", True), ("zz", False)]
    assert kv.reads[0].version.block_num == 1 and kv.reads[0].version.tx_num == 1
    assert [(w.key, w.value) for w in kv.writes] == [("b", b"new")]


def test_get_states_reads_many_keys_in_order_as_get_state_does(ledger: Ledger) -> None:
    """GET_STATE_MULTIPLE is answered by one query: same values, order, absent keys and read versions as
    one get_state per key (also with more keys than one SQL statement takes, and a key asked twice)."""
    keys = ["d", "zz", "a", "d"] + [f"absent{i}" for i in range(1000)] + ["c"]
    many, one = TxSimulator(ledger, CHANNEL, "A", "A"), TxSimulator(ledger, CHANNEL, "A", "A")
    assert many.get_states("cc", keys) == [one.get_state("cc", k) for k in keys]
    assert many.get_states("cc", keys)[:4] == [b"vd", b"", b"va", b"vd"] and many.get_states("cc", ["c"]) == [b"vc"]
    assert many.reads == one.reads and many.reads[("cc", "a")] == (1, 0) and many.reads[("cc", "zz")] is None


def test_empty_key_and_write_after_paginated_query(ledger: Ledger) -> None:
    sim = TxSimulator(ledger, CHANNEL, "A", "A")
    with pytest.raises(SimulationError, match="empty"):
        sim.put_state("cc", "", b"x")
    ident = sim.open_range("cc", "a", "z", page_size=2)
    rows, _more = sim.next_rows(ident, 100)
    assert [r.key for r in rows] == ["a", "b"]
    with pytest.raises(SimulationError, match="paginated"):
        sim.put_state("cc", "k", b"x")
    with pytest.raises(SimulationError, match="paginated"):
        sim.del_state("cc", "a")


def test_range_query_info_recorded(ledger: Ledger) -> None:
    sim = TxSimulator(ledger, CHANNEL, "A", "A")
    ident = sim.open_range("cc", "b", "d")
    assert [r.key for r in sim.next_rows(ident, 10)[0]] == ["b", "c"]
    kv = kv_rwset_pb2.KVRWSet.FromString(rwset_pb2.TxReadWriteSet.FromString(sim.result().results).ns_rwset[0].rwset)
    info = kv.range_queries_info[0]
    assert (info.start_key, info.end_key, info.itr_exhausted) == ("b", "d", True)
    assert [r.key for r in info.raw_reads.kv_reads] == ["b", "c"]


def test_private_writes_hash_into_public_rwset(ledger: Ledger) -> None:
    sim = TxSimulator(ledger, CHANNEL, "A", "A")
    sim.put_private("cc", "coll", "p", b"secret")
    res = sim.result()
    ns = rwset_pb2.TxReadWriteSet.FromString(res.results).ns_rwset[0]
    coll = ns.collection_hashed_rwset[0]
    hashed = kv_rwset_pb2.HashedRWSet.FromString(coll.hashed_rwset)
    assert hashed.hashed_writes[0].key_hash == hashlib.sha256(b"p").digest()
    assert hashed.hashed_writes[0].value_hash == hashlib.sha256(b"secret").digest()
    assert coll.pvt_rwset_hash == hashlib.sha256(res.pvt[("cc", "coll")]).digest()
    assert b"secret" not in res.results


def test_private_access_rules(ledger: Ledger) -> None:
    outsider = TxSimulator(ledger, CHANNEL, "A", "C")
    with pytest.raises(SimulationError, match="write access"):
        outsider.put_private("cc", "coll", "p", b"x")
    with pytest.raises(SimulationError, match="read access"):
        outsider.get_private("cc", "coll", "p")
    with pytest.raises(SimulationError, match="collection nope not found"):
        TxSimulator(ledger, CHANNEL, "A", "A").get_private("cc", "nope", "p")


def test_write_batch_applies_every_record_and_refuses_unknown_types(ledger: Ledger) -> None:
    from fabric_protos.peer import chaincode_shim_pb2 as shim
    from fabric_protos.peer import proposal_pb2
    from qcchain_devnet.ccrequests import TxContext, _batch

    sim = TxSimulator(ledger, CHANNEL, "A", "A")
    ctx = TxContext(sim, "cc", proposal_pb2.SignedProposal(), None)  # type: ignore[arg-type]
    W = shim.WriteRecord
    good = shim.WriteBatchState(rec=[W(key="n1", value=b"1", type=W.PUT_STATE), W(key="a", type=W.DEL_STATE)])
    msg = shim.ChaincodeMessage(type=shim.ChaincodeMessage.WRITE_BATCH_STATE, payload=good.SerializeToString())
    assert _batch(ctx, msg) == b""
    kv = kv_rwset_pb2.KVRWSet.FromString(rwset_pb2.TxReadWriteSet.FromString(sim.result().results).ns_rwset[0].rwset)
    assert {(w.key, w.is_delete, w.value) for w in kv.writes} == {("n1", False, b"1"), ("a", True, b"")}
    bad = shim.WriteBatchState(rec=[W(key="x", value=b"1", type=W.UNDEFINED)])
    msg.payload = bad.SerializeToString()
    sim2 = TxSimulator(ledger, CHANNEL, "A", "A")
    with pytest.raises(SimulationError, match="unknown operation type"):
        _batch(TxContext(sim2, "cc", proposal_pb2.SignedProposal(), None), msg)  # type: ignore[arg-type]
    assert not rwset_pb2.TxReadWriteSet.FromString(sim2.result().results).ns_rwset  # nothing written
